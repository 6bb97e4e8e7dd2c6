"""Ported from sglang/test/test_programs.py (test_tool_use), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


def calculate(expression):
    return f"{eval(expression)}"


@sgl.function
def tool_use(s, lhs, rhs):
    s += "Please perform computations using a calculator. You can use calculate(expression) to get the results.\n"
    s += "For example,\ncalculate(1+2)=3\ncalculate(3*4)=12\n"
    s += "Question: What is the product of " + str(lhs) + " and " + str(rhs) + "?\n"
    s += (
        "Answer: The answer is calculate("
        + sgl.gen("expression", stop=")")
        + ") = "
    )
    with s.var_scope("answer"):
        s += calculate(s["expression"])
