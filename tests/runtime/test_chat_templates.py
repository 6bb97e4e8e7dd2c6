"""Chat programs send exactly what `apply_chat_template` sends, for six instruct families' own templates.

Each fixture under fixtures/chat_templates/ holds one published template (its header names the
source) and the special tokens it uses. They are set on a copy of the tiny model's real
tokenizer (the special tokens added as special tokens, as the real tokenizers have them), a
program runs on an engine that records every request and answers each gen with fixed text, and
every recorded prompt must equal `tokenizer.apply_chat_template` of the conversation so far
(ending with the generation prompt, or inside the assistant message a gen continues).
Text before a gen inside a message ends without whitespace: templates that trim contents (Gemma,
Llama 3.1, Mistral) would cut it, where lmc keeps what the program wrote.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from transformers import AutoTokenizer

import lmc
from lmc.runtime.chat_template import ChatTemplateError, role_texts_of
from lmc.runtime.executor.execute import RowJob, RunOptions, execute
from lmc.runtime.executor.results import RowResult
from lmc.runtime.request import FinishReason, Request, RequestOutput
from lmc.runtime.tokenizer import Tokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "chat_templates"
FAMILIES = sorted(p.stem for p in FIXTURES.glob("*.json"))
REPLY = "Paris"  # every gen's text; a word that tokenizes the same alone and in context
SPLIT = {"smollm2", "qwen2.5", "llama-3.1", "gemma-2", "phi-3"}  # cut per role; the others render whole
NO_SYSTEM = {"gemma-2"}  # its template raises on a system message


def test_all_six_families_have_a_fixture() -> None:
    assert FAMILIES == ["gemma-2", "llama-3.1", "mistral-v0.3", "phi-3", "qwen2.5", "smollm2"]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request: pytest.FixtureRequest, small_model_dir: Path) -> tuple[str, Tokenizer]:
    fixture = json.loads((FIXTURES / f"{request.param}.json").read_text())
    hf = AutoTokenizer.from_pretrained(small_model_dir)
    specials = {"eos_token": fixture["eos_token"], "additional_special_tokens": fixture["special_tokens"]}
    if fixture["bos_token"] is not None:
        specials["bos_token"] = fixture["bos_token"]
    hf.add_special_tokens(specials)
    hf.chat_template = fixture["chat_template"]
    return request.param, Tokenizer(hf)


class RecordingEngine:
    """An engine without a model: records each request's prompt ids, answers gens with REPLY and
    EOS, and scores select choices by length (the shortest wins)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = frozenset({tokenizer.eos_token_id})
        self.vocab_size = tokenizer.vocab_size
        self.queue: list[Request] = []
        self.prompts: list[list[int]] = []

    @property
    def reuses_prefixes(self) -> bool:
        return False

    def submit(self, request: Request) -> None:
        self.queue.append(request)

    def has_work(self) -> bool:
        return bool(self.queue)

    def step(self) -> list[RequestOutput]:
        outputs = []
        for request in self.queue:
            self.prompts.append(list(request.input_ids))
            if request.logprob_start is not None:
                scored = len(request.input_ids) - request.logprob_start
                out = RequestOutput(request.rid, len(request.input_ids), [], "", FinishReason.LENGTH,
                                    prompt_logprobs=[-float(scored)] * scored)
            else:
                ids = self.tokenizer.encode_continuation(REPLY) + [self.tokenizer.eos_token_id]
                out = RequestOutput(request.rid, len(request.input_ids), ids, REPLY, FinishReason.EOS)
            outputs.append(out)
            request.on_finish(out)
        self.queue = []
        return outputs

    def unpin(self, rid: str) -> None:
        pass

    def stats(self) -> None:
        return None


@lmc.program
def single(s, question: str):
    s += lmc.user(question)
    s += lmc.assistant(lmc.gen("answer", max_tokens=4))


@lmc.program
def with_system(s, question: str):
    s += lmc.system("You are terse.")
    s += lmc.user(question)
    s += lmc.assistant(lmc.gen("answer", max_tokens=4))


@lmc.program
def multi_turn(s, question: str):
    s += lmc.system("You are terse.")
    s += lmc.user(question)
    s += lmc.assistant(lmc.gen("first", max_tokens=4))
    s += lmc.user("And the second?")
    s += lmc.assistant("It is:" + lmc.gen("second", max_tokens=4))


@lmc.program
def multi_turn_no_system(s, question: str):
    s += lmc.user(question)
    s += lmc.assistant(lmc.gen("first", max_tokens=4))
    s += lmc.user("Why?")
    s += lmc.assistant(lmc.gen("second", max_tokens=4))


@lmc.program
def fork_in_assistant(s, question: str):
    s += lmc.user(question)
    with s.assistant():
        s += "Two answers."
        forks = s.fork(2)
        for f, word in zip(forks, ["First", "Second"]):
            f += "\n" + word + ":" + lmc.gen("answer", max_tokens=4)


@lmc.program
def select_answer(s, question: str):
    s += lmc.system("Answer with one word.")
    s += lmc.user(question)
    s += lmc.assistant(lmc.select("answer", choices=["Paris", "Lyon"]))


QUESTION = "What is the capital of France?"
# What each request of a program should have been sent: (messages so far, text of an open assistant message).
EXPECTED = {
    single: [([("user", QUESTION)], None)],
    with_system: [([("system", "You are terse."), ("user", QUESTION)], None)],
    multi_turn: [
        ([("system", "You are terse."), ("user", QUESTION)], None),
        ([("system", "You are terse."), ("user", QUESTION), ("assistant", REPLY), ("user", "And the second?")], "It is:"),
    ],
    multi_turn_no_system: [
        ([("user", QUESTION)], None),
        ([("user", QUESTION), ("assistant", REPLY), ("user", "Why?")], None),
    ],
    fork_in_assistant: [
        ([("user", QUESTION)], "Two answers.\nFirst:"),
        ([("user", QUESTION)], "Two answers.\nSecond:"),
    ],
}
SYSTEM_PROGRAMS = {with_system, multi_turn, select_answer}


def ids_of(value: object) -> list[int]:
    """apply_chat_template's ids, whether it returns them as a list or in a BatchEncoding."""
    return list(value["input_ids"] if hasattr(value, "keys") else value)


def reference(tokenizer: Tokenizer, messages: list[tuple[str, str]], open_text: str | None) -> list[int]:
    conversation = [{"role": r, "content": c} for r, c in messages]
    if open_text is None:
        return ids_of(tokenizer.hf.apply_chat_template(conversation, add_generation_prompt=True))
    conversation.append({"role": "assistant", "content": open_text})
    return ids_of(tokenizer.hf.apply_chat_template(conversation, continue_final_message=True))


def run(tokenizer: Tokenizer, program) -> tuple[RecordingEngine, list[RowResult]]:
    engine = RecordingEngine(tokenizer)
    results: list[RowResult] = []
    execute(engine, program.compile(), [RowJob(0, "r0", {"question": QUESTION})], results.append, RunOptions())
    return engine, results


@pytest.mark.parametrize("program", list(EXPECTED), ids=lambda p: p.name)
def test_every_request_is_what_apply_chat_template_sends(family, program) -> None:
    name, tokenizer = family
    if name in NO_SYSTEM and program in SYSTEM_PROGRAMS:
        pytest.skip(f"{name}'s template raises on a system message (see the next test)")
    engine, results = run(tokenizer, program)
    assert results[0].error is None, results[0].error
    expected = [reference(tokenizer, m, o) for m, o in EXPECTED[program]]
    assert sorted(engine.prompts) == sorted(expected)


def test_a_select_scores_its_choices_after_the_generation_prompt(family) -> None:
    name, tokenizer = family
    if name in NO_SYSTEM:
        pytest.skip(f"{name}'s template raises on a system message")
    engine, results = run(tokenizer, select_answer)
    assert results[0].error is None, results[0].error
    base = reference(tokenizer, [("system", "Answer with one word."), ("user", QUESTION)], None)
    for choice in ["Paris", "Lyon"]:
        assert base + tokenizer.encode_continuation(choice) in engine.prompts
    fewest_tokens = min(["Paris", "Lyon"], key=lambda c: len(tokenizer.encode_continuation(c)))
    assert results[0].outputs["answer"] == fewest_tokens  # what the recording engine scores best


def test_a_system_message_fails_the_row_where_the_template_has_no_system_role(family) -> None:
    name, tokenizer = family
    if name not in NO_SYSTEM:
        pytest.skip(f"{name}'s template has a system role")
    engine, results = run(tokenizer, with_system)
    assert results[0].error is not None and "has no system role" in results[0].error.message
    assert engine.prompts == []


def test_templates_are_cut_per_role_where_they_can_be(family) -> None:
    name, tokenizer = family
    if name in SPLIT:
        role_texts_of(tokenizer.hf)
    else:
        with pytest.raises(ChatTemplateError):
            role_texts_of(tokenizer.hf)


def test_a_template_rendered_whole_is_said_once(family, caplog: pytest.LogCaptureFixture) -> None:
    name, tokenizer = family
    if name in SPLIT:
        pytest.skip(f"{name}'s template is cut per role")
    with caplog.at_level(logging.WARNING, logger="lmc.runtime.executor.execute"):
        run(tokenizer, multi_turn)
    warnings = [r for r in caplog.records if "renders its whole conversation" in r.getMessage()]
    assert len(warnings) == 1


def test_the_default_system_prompt_is_used_only_without_a_system_message(family) -> None:
    name, tokenizer = family
    if name not in ("smollm2", "qwen2.5"):
        pytest.skip(f"{name}'s template has no default system prompt")
    default = {"smollm2": "named SmolLM", "qwen2.5": "You are Qwen"}[name]
    without, _ = run(tokenizer, single)
    replaced, _ = run(tokenizer, with_system)
    assert default in tokenizer.decode(without.prompts[0])
    assert default not in tokenizer.decode(replaced.prompts[0])
    assert "You are terse." in tokenizer.decode(replaced.prompts[0])
