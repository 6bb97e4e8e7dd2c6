"""Ported from sglang/test/test_programs.py (test_gen_min_new_tokens), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl

MIN_TOKENS, MAX_TOKENS = 64, 128


@sgl.function
def convo_1(s):
    s += sgl.user("What is the capital of the United States?")
    s += sgl.assistant(
        sgl.gen("answer", min_tokens=MIN_TOKENS, max_tokens=MAX_TOKENS)
    )
