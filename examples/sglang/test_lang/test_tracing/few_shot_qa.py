"""Ported from SGLang's test/lang/test_tracing.py (test_few_shot_qa); only `import lmc as sgl` changed
(the program, nested in the test method there, lifted to module level; the test's own calls moved
under `__main__`). Rows: {"question"}; the test traces it and reads nothing."""

import lmc as sgl


@sgl.function
def few_shot_qa(s, question):
    s += "The following are questions with answers.\n\n"
    s += "Q: What is the capital of France?\n"
    s += "A: Paris\n"
    s += "Q: " + question + "\n"
    s += "A:" + sgl.gen("answer", stop="\n")


if __name__ == "__main__":
    tracer = few_shot_qa.trace()
