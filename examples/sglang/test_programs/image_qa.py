"""Ported from sglang/test/test_programs.py (test_image_qa), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def image_qa(s, question):
    s += sgl.user(sgl.image("example_image.png") + question)
    s += sgl.assistant(sgl.gen("answer"))
