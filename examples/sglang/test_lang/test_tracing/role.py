"""Ported from SGLang's test/lang/test_tracing.py (test_role); only `import lmc as sgl` changed (the
program, nested in the test method there, lifted to module level; the test's own calls moved under
`__main__`; SGLang's `BaseBackend` and `get_chat_template` imports, which only that call uses, with
it). Rows: none; the test compiles it with a llama-2-chat template."""

import lmc as sgl


@sgl.function
def multi_turn_chat(s):
    s += sgl.user("Who are you?")
    s += sgl.assistant(sgl.gen("answer_1"))
    s += sgl.user("Who created you?")
    s += sgl.assistant(sgl.gen("answer_2"))


if __name__ == "__main__":
    from sglang.lang.backend.base_backend import BaseBackend
    from sglang.lang.chat_template import get_chat_template

    backend = BaseBackend()
    backend.chat_template = get_chat_template("llama-2-chat")

    compiled = multi_turn_chat.compile(backend=backend)
    # compiled.print_graph()
