"""Ported from SGLang's test/lang/test_tracing.py (test_raise_warning); only `import lmc as sgl`
changed (the program, nested in the test method there, lifted to module level; the test's own calls
moved under `__main__`). Rows: {"question"}. SGLang's tracer raises TypeError on this program (an
f-string of a traced argument); lmc analyses the body instead of tracing it, so the f-string is an
ordinary string expression of the input."""

import lmc as sgl


@sgl.function
def wrong(s, question):
    s += f"I want to ask {question}"


if __name__ == "__main__":
    try:
        tracer = wrong.trace()
        raised = False
    except TypeError:
        raised = True

    assert raised
