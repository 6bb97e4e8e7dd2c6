"""Ported from SGLang's test/lang/test_tracing.py (test_multi_function); only `import lmc as sgl`
changed (the program, nested in the test method there, lifted to module level; the test's own calls
moved under `__main__`). Rows: {"topic"}; the test reads state.text(). `expand(tip=...)` is a sub-
program called without a state: in SGLang a new independent state."""

import lmc as sgl


@sgl.function
def expand(s, tip):
    s += (
        "Please expand the following tip into a detailed paragraph:"
        + tip
        + "\n"
    )
    s += sgl.gen("detailed_tip")


@sgl.function
def tip_suggestion(s, topic):
    s += "Here are 2 tips for " + topic + ".\n"

    s += "1." + sgl.gen("tip_1", stop=["\n", ":", "."]) + "\n"
    s += "2." + sgl.gen("tip_2", stop=["\n", ":", "."]) + "\n"

    branch1 = expand(tip=s["tip_1"])
    branch2 = expand(tip=s["tip_2"])

    s += "Tip 1: " + branch1["detailed_tip"] + "\n"
    s += "Tip 2: " + branch2["detailed_tip"] + "\n"
    s += "In summary" + sgl.gen("summary")


if __name__ == "__main__":
    compiled = tip_suggestion.compile()
    # compiled.print_graph()

    sgl.set_default_backend(sgl.OpenAI("gpt-3.5-turbo-instruct"))
    state = compiled.run(topic="staying healthy")
    # print(state.text() + "\n")

    states = compiled.run_batch(
        [
            {"topic": "staying healthy"},
            {"topic": "staying happy"},
            {"topic": "earning money"},
        ],
        temperature=0,
    )
    # for s in states:
    #     print(s.text() + "\n")
