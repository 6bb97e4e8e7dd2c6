"""Ported from SGLang's test/lang/test_tracing.py (test_fork); only `import lmc as sgl` changed (the
program, nested in the test method there, lifted to module level; the test's own calls moved under
`__main__`). Rows: none; the test reads state.text()."""

import lmc as sgl


@sgl.function
def tip_suggestion(s):
    s += (
        "Here are three tips for staying healthy: "
        "1. Balanced Diet; "
        "2. Regular Exercise; "
        "3. Adequate Sleep\n"
    )

    forks = s.fork(3)
    for i in range(3):
        forks[i] += f"Now, expand tip {i+1} into a paragraph:\n"
        forks[i] += sgl.gen(f"detailed_tip")

    s += "Tip 1:" + forks[0]["detailed_tip"] + "\n"
    s += "Tip 2:" + forks[1]["detailed_tip"] + "\n"
    s += "Tip 3:" + forks[2]["detailed_tip"] + "\n"
    s += "In summary" + sgl.gen("summary")


if __name__ == "__main__":
    tracer = tip_suggestion.trace()
    # print(tracer.last_node.print_graph_dfs())

    a = tip_suggestion.run(backend=sgl.OpenAI("gpt-3.5-turbo-instruct"))
    # print(a.text())
