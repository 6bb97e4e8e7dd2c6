"""Ported from SGLang's test/lang/test_bind_pin.py (test_pin); only `import lmc as sgl` changed (the
program, nested in the test method there, lifted to module level; the test's own calls moved under
`__main__`; the `bind` stays at module level: it defines the bound program). Rows: {"question"} for
the bound `few_shot_qa_2` ({"prompt", "question"} for `few_shot_qa`); the test reads nothing.
`pin`/`unpin` no longer exist on SGLang 0.5.23's SglFunction either, and the test's
`sglang.backend.runtime_endpoint` import is SGLang's old module path."""

import lmc as sgl


@sgl.function
def few_shot_qa(s, prompt, question):
    s += prompt
    s += "Q: What is the capital of France?\n"
    s += "A: Paris\n"
    s += "Q: " + question + "\n"
    s += "A:" + sgl.gen("answer", stop="\n")


few_shot_qa_2 = few_shot_qa.bind(
    prompt="Answer the following questions as if you were a 5-year-old kid.\n\n"
)


if __name__ == "__main__":
    from sglang.backend.runtime_endpoint import RuntimeEndpoint

    backend = RuntimeEndpoint(base_url="http://localhost:30000")
    few_shot_qa_2.pin(backend)
    few_shot_qa_2.unpin(backend)
