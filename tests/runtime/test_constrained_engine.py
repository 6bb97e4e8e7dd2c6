"""Constrained generation through the engine: every output is valid, and the compressed FSM's
jump-forward saves forwards without changing forced text."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import torch
import transformers

from lmc.grammars import compile_constraint
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import FinishReason, Request, SamplingParams

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "role": {"enum": ["engineer", "manager", "designer"]},
    },
    "required": ["name", "age", "role"],
}
REGEXES = [r"[0-9]{3}-[0-9]{4}", r"(yes|no), because [a-z ]{1,20}\.", r"\d{4}-\d{2}-\d{2}"]


@pytest.fixture(scope="module")
def loaded(small_model_dir):
    return load_model(str(small_model_dir))


def constraint(loaded, **kind):
    tok = loaded.tokenizer
    return compile_constraint(
        **kind, token_bytes=tok.token_bytes(), eos_token_id=tok.eos_token_id, vocab_size=loaded.model.vocab_size
    )


def generate(loaded, prompts, kind, jump: bool, **sampling):
    engine = Engine(EngineConfig(enable_jump_forward=jump), loaded=loaded)
    c = constraint(loaded, **kind)
    params = SamplingParams(max_tokens=64, **sampling)
    handles = [engine.submit(Request(loaded.tokenizer.encode(p, add_bos=True), params, constraint=c)) for p in prompts]
    engine.run_until_done()
    assert engine.pool.num_free + engine.cache.total_size() == engine.pool.capacity
    return [h.output for h in handles], engine.stats()


PROMPTS = ["Tell me about", "The record reads", "Q: is it so? A:", "Here is the data"]


@pytest.mark.parametrize("jump", [True, False])
@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_outputs_fullmatch(loaded, pattern, jump):
    for temperature in (0.0, 1.0):
        outs, _ = generate(loaded, PROMPTS, {"regex": pattern}, jump, temperature=temperature, seed=3)
        for out in outs:
            assert out.finish_reason in (FinishReason.EOS, FinishReason.CONSTRAINT), out
            assert re.fullmatch(pattern, out.text), out.text


@pytest.mark.parametrize("jump", [True, False])
def test_json_outputs_validate(loaded, jump):
    outs, _ = generate(loaded, PROMPTS, {"json_schema": PERSON}, jump, temperature=1.0, seed=11)
    for out in outs:
        assert out.finish_reason in (FinishReason.EOS, FinishReason.CONSTRAINT), out
        jsonschema.validate(json.loads(out.text), PERSON)


def free_choices_are_greedy(small_model_dir, loaded, prompt_ids, output_ids, c) -> int:
    """Replay `output_ids` under the constraint; at every position where the constraint forces
    nothing (a jump-forward would not fire), the token must be transformers' masked argmax given
    exactly the tokens before it, or that choice merged with the forced text after it (the jump
    re-tokenizes the sampled, not yet computed token with the text it forces). The tokens before
    a free position were computed, so they are exactly the context the model chose in.
    Returns how many free positions were checked."""
    model = transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32)
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + output_ids])).logits[0]
    state, checked = c.initial_state(), 0
    for i, token in enumerate(output_ids):
        if not c.forced_run(state):
            row = logits[len(prompt_ids) + i - 1].masked_fill(~c.allowed_tokens(state), float("-inf"))
            greedy = int(row.argmax())
            surface = loaded.tokenizer.token_bytes()
            assert token == greedy or surface[token].startswith(surface[greedy]), (
                f"free choice at output position {i} is not greedy"
            )
            checked += 1
        if token == loaded.tokenizer.eos_token_id:
            break
        state = c.advance(state, token)
    return checked


@pytest.mark.parametrize("kind", [{"json_schema": PERSON}, {"regex": REGEXES[1]}])
def test_jump_forward_changes_no_free_choice_and_saves_forwards(small_model_dir, loaded, kind):
    """Compressed decoding may tokenize forced text differently from what the model would have
    emitted, but every choice the model makes is its greedy choice in the context it saw."""
    fast, fast_stats = generate(loaded, PROMPTS, kind, jump=True)
    slow, slow_stats = generate(loaded, PROMPTS, kind, jump=False)
    c = constraint(loaded, **kind)
    checked = 0
    for prompt, out in zip(PROMPTS, fast):
        checked += free_choices_are_greedy(
            small_model_dir, loaded, loaded.tokenizer.encode(prompt, add_bos=True), out.output_ids, c
        )
    assert checked >= len(PROMPTS)
    assert fast_stats.forced_tokens > 0 and slow_stats.forced_tokens == 0
    assert fast_stats.steps < slow_stats.steps


def test_choices_are_decoded_in_fewer_forwards(loaded):
    kind = {"choices": ["the engineering department", "the management office", "the design studio"]}
    fast, fast_stats = generate(loaded, PROMPTS, kind, jump=True)
    slow, slow_stats = generate(loaded, PROMPTS, kind, jump=False)
    assert all(o.text in kind["choices"] for o in fast + slow)
    assert fast_stats.steps < slow_stats.steps


def test_a_fully_forced_output_needs_no_forward(loaded):
    outs, stats = generate(loaded, PROMPTS[:1], {"regex": r"fixed answer"}, jump=True)
    assert outs[0].text == "fixed answer"
    assert outs[0].finish_reason == FinishReason.CONSTRAINT
    assert stats.steps == 0
