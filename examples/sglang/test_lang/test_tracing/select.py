"""Ported from SGLang's test/lang/test_tracing.py (test_select); only `import lmc as sgl` changed (the
program, nested in the test method there, lifted to module level; the test's own calls moved under
`__main__`). Rows: none; the test traces it and reads nothing."""

import lmc as sgl


@sgl.function
def capital(s):
    s += "The capital of France is"
    s += sgl.select("capital", ["Paris. ", "London. "])
    s += "It is a city" + sgl.gen("description", stop=".")


if __name__ == "__main__":
    tracer = capital.trace()
