"""Streamed text: the deltas of a generation's output as its tokens arrive (the server's SSE,
`state.text_iter`).

A delta is only sent once it is final: text that could still turn into a stop string (which the
response must not contain) or a cut inside a multi-byte character waits for the next token. A
constrained request's jump-forward may re-tokenize its newest token, so for those (`exact=False`)
the text is sent when the request finishes.
"""

from __future__ import annotations

from lmc.runtime.tokenizer import Tokenizer


class TextStream:
    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...], exact: bool = True) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.exact = exact
        self.ids: list[int] = []
        self.sent = ""

    def add(self, token: int) -> str:
        """The new final text after `token` (often empty)."""
        return self.extend([token])

    def extend(self, tokens: list[int]) -> str:
        """The new final text after `tokens` (decoded once, however many)."""
        self.ids.extend(tokens)
        if not self.exact:
            return ""
        text = self.tokenizer.decode_continuation(self.ids)
        cut = min((i for i in (text.find(s) for s in self.stop) if i >= 0), default=len(text))
        text = text[:cut]
        hold = max((k for s in self.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        text = text[: len(text) - hold].rstrip("\ufffd")
        return self._advance(text)

    def finish(self, final: str) -> str:
        """What remains of the request's final text."""
        return self._advance(final)

    def _advance(self, text: str) -> str:
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        delta, self.sent = text[len(self.sent) :], text
        return delta
