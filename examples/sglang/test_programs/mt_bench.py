"""Ported from sglang/test/test_programs.py (test_mt_bench), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def answer_mt_bench(s, question_1, question_2):
    s += sgl.system("You are a helpful assistant.")
    s += sgl.user(question_1)
    s += sgl.assistant(sgl.gen("answer_1"))
    with s.user():
        s += question_2
    with s.assistant():
        s += sgl.gen("answer_2")
