"""Shared fixtures: the Mistral v1 SentencePiece vocabulary as token surface bytes.

Built here from `transformers.LlamaTokenizer` (not from lmc's own tokenizer wrapper) so the
grammar tests check against a reference we did not write: '▁' is a space, '<0xNN>' is one raw
byte, control tokens contribute nothing.
"""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

import pytest


def llama_token_bytes(tokenizer) -> list[bytes]:
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    special = set(tokenizer.all_special_ids)
    out: list[bytes] = []
    for idx, piece in enumerate(pieces):
        if idx in special:
            out.append(b"")
        elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            out.append(bytes([int(piece[3:5], 16)]))
        else:
            out.append(piece.replace("\u2581", " ").encode("utf-8"))
    return out


@pytest.fixture(scope="session")
def llama_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    from transformers import LlamaTokenizer

    folder = tmp_path_factory.mktemp("mistral_v1")
    source = importlib.resources.files("mistral_common") / "data" / "tokenizer.model.v1"
    with importlib.resources.as_file(source) as path:
        shutil.copy(Path(path), folder / "tokenizer.model")
    return LlamaTokenizer.from_pretrained(folder)


@pytest.fixture(scope="session")
def token_bytes(llama_tokenizer) -> list[bytes]:
    return llama_token_bytes(llama_tokenizer)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test writes FSM tables under its own LMC_HOME, never the user's cache."""
    monkeypatch.setenv("LMC_HOME", str(tmp_path / "lmc_home"))


def token_walk(constraint, token_bytes: list[bytes], eos: int, rng, max_steps: int = 300, jump: bool = True) -> bytes | None:
    """Random allowed tokens until EOS (None if `max_steps` is hit first); with `jump`, forced
    runs are taken as text half of the time, as the engine's jump-forward would."""
    state = constraint.initial_state()
    out = b""
    for _ in range(max_steps):
        forced, after = constraint.forced_jump(state) if hasattr(constraint, "forced_jump") else ("", state)
        if jump and forced and rng.random() < 0.5:
            assert constraint.state_after_text(state, forced) == after
            out += forced.encode("utf-8")
            state = after
            continue
        allowed = constraint.allowed_tokens(state).nonzero().flatten().tolist()
        assert allowed, "a reachable state must allow some token"
        # Prefer EOS a little once it is allowed, so walks end.
        if eos in allowed and rng.random() < 0.3:
            return out
        choice = rng.choice(allowed)
        if choice == eos:
            return out
        out += token_bytes[choice]
        state = constraint.advance(state, choice)
    return None


@pytest.fixture(scope="session")
def walk():
    return token_walk
