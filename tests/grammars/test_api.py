"""The `lmc.grammars` entry points: argument checking, shorthands, caching, batch masks."""

from __future__ import annotations

import random
import re

import pytest
import torch

from lmc.grammars import (
    ConstraintError,
    compile_constraint,
    compile_regex_dfa,
    constraint_regex,
    fill_masks,
    unpack_bitmask,
)
from lmc.grammars.cache import default_cache_dir

EOS = 2


def test_exactly_one_kind(token_bytes) -> None:
    with pytest.raises(ConstraintError, match="exactly one"):
        compile_constraint(regex="a", choices=["a"], token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    with pytest.raises(ConstraintError, match="exactly one"):
        compile_constraint(token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    with pytest.raises(ConstraintError, match="exactly one"):
        compile_constraint(grammar="json", dtype=int, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)


@pytest.mark.parametrize(
    ("dtype", "good", "bad"),
    [
        (int, ["0", "-12", "345"], ["01", "+1", "1.0", "-0x"]),
        ("float", ["0", "-1.5", "2e10", "3.25E-3"], ["1.", ".5", "01.2"]),
        (bool, ["True", "False"], ["true", "1"]),
    ],
)
def test_dtype_regexes_parse_back(dtype, good: list[str], bad: list[str]) -> None:
    pattern = constraint_regex(dtype=dtype)
    cast = {int: int, "float": float, bool: lambda s: {"True": True, "False": False}[s]}[dtype]
    for text in good:
        assert re.fullmatch(pattern, text)
        cast(text)
    for text in bad:
        assert not re.fullmatch(pattern, text)


def test_choices_only_allow_the_given_strings(token_bytes, walk) -> None:
    choices = ["accept", "reject", "accept with changes", "a.b*c"]
    c = compile_constraint(choices=choices, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    rng = random.Random(0)
    seen = set()
    for _ in range(40):
        out = walk(c, token_bytes, EOS, rng)
        assert out is not None and out.decode() in choices
        seen.add(out.decode())
    assert len(seen) >= 3
    assert c.forced_run(c.state_after_text(0, "rej")) == "ect"


def test_same_arguments_share_one_constraint(token_bytes) -> None:
    a = compile_constraint(regex="[0-9]{4}", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    b = compile_constraint(regex="[0-9]{4}", token_bytes=list(token_bytes), eos_token_id=EOS, vocab_size=32000)
    c = compile_constraint(regex="[0-9]{4}", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32064)
    assert a is b and a is not c


def test_compile_regex_dfa_reports_and_caches() -> None:
    info = compile_regex_dfa(r"(ab|cd)*e")
    assert info.num_states == 4 and info.num_transitions == 5  # start, after a, after c, end
    assert info.key == compile_regex_dfa(r"(ab|cd)*e").key != compile_regex_dfa("x").key
    assert (default_cache_dir() / f"{info.key}.fsm").exists()


def test_fill_masks_mixes_constraints(token_bytes) -> None:
    digits = compile_constraint(regex="[0-9]+", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    yes_no = compile_constraint(choices=["yes", "no"], token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    pairs = [(digits, 0), (None, None), (yes_no, 0), (digits, digits.state_after_text(0, "12"))]
    out = torch.zeros(4, 32000, dtype=torch.bool)
    fill_masks(pairs, out)
    assert torch.equal(out[0], digits.allowed_tokens(0))
    assert out[1].all()
    assert torch.equal(out[2], yes_no.allowed_tokens(0))
    assert torch.equal(out[3], digits.allowed_tokens(pairs[3][1])) and out[3][EOS]


def test_bitmasks_unpack_to_the_bool_masks(token_bytes) -> None:
    c = compile_constraint(regex="[a-z]+ [0-9]{2}", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32003)
    states = [0, 1, c.state_after_text(0, "ab 1"), c.done_state]
    words = torch.zeros(len(states), (32003 + 31) // 32, dtype=torch.int32)
    c.fill_bitmask(states, words)
    bools = torch.zeros(len(states), 32003, dtype=torch.bool)
    assert torch.equal(unpack_bitmask(words, 32003), c.fill_mask(states, bools))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_masks_fill_cuda_tensors(token_bytes) -> None:
    c = compile_constraint(regex="[a-z]+ [0-9]{2}", token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32064)
    states = [0, c.state_after_text(0, "ab "), c.done_state]
    expected = c.fill_mask(states, torch.zeros(3, 32064, dtype=torch.bool))
    on_device = c.fill_mask(states, torch.zeros(3, 32064, dtype=torch.bool, device="cuda"))
    words = c.fill_bitmask(states, torch.zeros(3, 1002, dtype=torch.int32, device="cuda"))
    assert torch.equal(on_device.cpu(), expected)
    assert torch.equal(unpack_bitmask(words, 32064).cpu(), expected)
    mixed = fill_masks([(c, 0), (None, None)], torch.zeros(2, 32064, dtype=torch.bool, device="cuda"))
    assert torch.equal(mixed[0].cpu(), expected[0]) and bool(mixed[1].all())


@pytest.mark.parametrize("kind", [{"regex": r"[a-z]{2,5}"}, {"choices": ["yes", "no"]}, {"grammar": "arithmetic.lark"}])
def test_every_compiled_constraint_is_a_complete_constraint(token_bytes, kind) -> None:
    """The engine calls each method of the protocol (`fill_mask` for batch masks,
    `state_after_text` after a re-tokenized jump): every kind has all of them."""
    from lmc.grammars.constraint import Constraint

    c = compile_constraint(**kind, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    assert isinstance(c, Constraint)
    state = c.initial_state()
    out = torch.zeros(1, 32000, dtype=torch.bool)
    assert torch.equal(c.fill_mask([state], out)[0], c.allowed_tokens(state).bool())
