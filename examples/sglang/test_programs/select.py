"""Ported from sglang/test/test_programs.py (test_select), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def true_or_false(s, statement):
    s += "Determine whether the statement below is True, False, or Unknown.\n"
    s += "Statement: The capital of France is Pairs.\n"
    s += "Answer: True\n"
    s += "Statement: " + statement + "\n"
    s += "Answer:" + sgl.select("answer", ["True", "False", "Unknown"])
