"""The cache plan of `lmc explain --inputs`: the prediction, with the model's tokenizer if any."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmc.compiler.cache_model import Prediction, Tokenize, WordPieces, predict
from lmc.compiler.ir import Graph


@dataclass
class TokenizerChoice:
    tokenize: Tokenize
    name: str
    roles: Any = None
    note: str = ""


def choose_tokenizer(model: str | None) -> TokenizerChoice:
    """The model's tokenizer (and chat roles) via lmc.runtime, or word pieces with a note why.

    `model` is a model name ("tiny", a preset) or a Hugging Face directory; None or "none"
    asks for the approximate word-piece count directly."""
    if model is None or model == "none":
        return TokenizerChoice(WordPieces(), WordPieces.name)
    try:
        from lmc.runtime.tokenizer import load_tokenizer

        tok = load_tokenizer(model)
    except (ImportError, OSError, ValueError) as exc:
        return TokenizerChoice(WordPieces(), WordPieces.name,
                               note=f"the tokenizer of {model!r} is unavailable ({exc}); token counts are approximate")
    try:
        roles = tok.roles
    except (ValueError, AttributeError):
        roles = None

    def tokenize(text: str, at_start: bool) -> list[int]:
        return tok.encode(text) if at_start else tok.encode_continuation(text)

    return TokenizerChoice(tokenize, model, roles)


def cache_plan(graph: Graph, rows: list[Any], model: str | None) -> tuple[Prediction, str]:
    """(prediction, note): the analytical maximum reuse over all row instances."""
    choice = choose_tokenizer(model)
    prediction = predict(graph, list(rows), choice.tokenize, choice.roles, choice.name)
    return prediction, choice.note
