"""SGLang's frontend spellings run on the small model: role edges (`user_begin()`...), an empty
`system()`, a helper taking the state, `.append` on a local list, `s.fork(1)[0]`,
`position_ids_offset=` and `forks += [a, b]`. The row's text is checked against transformers'
rendering of the conversation by the model's chat template, its outputs against the same
program written in lmc's native forms."""

from __future__ import annotations

import textwrap

import pytest

from lmc.compiler.loader import load_programs
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob

SGLANG_FORMS = '''
import lmc as sgl


def ask(s, question):
    s += sgl.user_begin()
    s += "Question: " + question
    s += sgl.user_end()
    s += sgl.assistant_begin() + sgl.gen("answer", max_tokens=4, ignore_eos=True) + sgl.assistant_end()


@sgl.function
def forms(s, question):
    s += sgl.system()
    ask(s, question)
    notes = []
    for tag in ["a", "b"]:
        notes.append(tag + ":" + question)
    one = s.fork(1)[0]
    one += " ".join(notes) + sgl.gen("more", max_tokens=4, ignore_eos=True)
    pair = s.fork(2, position_ids_offset=[0, 0])
    pair += [" left", " right"]
    pair += sgl.gen("side", max_tokens=3, ignore_eos=True)
    pair.join()
'''

NATIVE_FORMS = '''
import lmc


@lmc.program
def native(s, question):
    s += lmc.system("")
    s += lmc.user("Question: " + question)
    s += lmc.assistant(lmc.gen("answer", max_tokens=4, ignore_eos=True))
    one = s.fork(1)
    one[0] += "a:" + question + " b:" + question + lmc.gen("more", max_tokens=4, ignore_eos=True)
    pair = s.fork(2)
    pair[0] += " left"
    pair[1] += " right"
    for f in pair:
        f += lmc.gen("side", max_tokens=3, ignore_eos=True)
'''
QUESTIONS = ["why is the sky blue", "what is two plus two"]


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir)))


def _run(engine: Engine, tmp_path, source: str, name: str) -> list[RowResult]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    program = load_programs(path)[name]
    results: list[RowResult] = []
    jobs = [RowJob(i, str(i), {"question": q}) for i, q in enumerate(QUESTIONS)]
    execute(engine, program.compile(), jobs, results.append, RunOptions(keep_text=True))
    assert all(r.error is None for r in results), [r.error for r in results]
    return sorted(results, key=lambda r: r.index)


def test_sglang_forms_give_the_rows_their_native_spelling_gives(engine, tmp_path):
    forms = _run(engine, tmp_path, SGLANG_FORMS, "forms")
    native = _run(engine, tmp_path, NATIVE_FORMS, "native")
    assert [r.outputs for r in forms] == [r.outputs for r in native]
    assert set(forms[0].outputs) == {"answer", "more", "side"}
    assert all(len(r.outputs["side"]) == 2 and len(r.outputs["more"]) == 1 for r in forms)


def test_the_rows_text_is_the_chat_templates_rendering_of_the_conversation(engine, tmp_path):
    """The empty `system()` turn and the role edges render as the model's own Jinja template
    renders the same messages (transformers' apply_chat_template)."""
    tokenizer = engine.tokenizer.hf
    for question, result in zip(QUESTIONS, _run(engine, tmp_path, SGLANG_FORMS, "forms")):
        messages = [{"role": "system", "content": ""}, {"role": "user", "content": "Question: " + question},
                    {"role": "assistant", "content": result.outputs["answer"]}]
        rendered = tokenizer.apply_chat_template(messages, tokenize=False)
        assert tokenizer.bos_token + result.text == rendered
