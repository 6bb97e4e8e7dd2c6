"""Ported from sglang/test/test_programs.py (test_expert_answer), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def expert_answer(s, question):
    s += "Question: " + question + "\n"
    s += (
        "A good person to answer this question is"
        + sgl.gen("expert", stop=[".", "\n"])
        + ".\n"
    )
    s += (
        "For example,"
        + s["expert"]
        + " would answer that "
        + sgl.gen("answer", stop=".")
        + "."
    )
