"""When a request stops, and what text it returns."""

from __future__ import annotations

import functools
from collections.abc import Callable

from lmc.runtime.request import FinishReason, SamplingParams


def check_stop(
    ids: list[int],
    params: SamplingParams,
    eos_ids: frozenset[int],
    decode: Callable[[list[int]], str],
    start: int = 0,
    end: int | None = None,
) -> FinishReason | None:
    """The reason to stop after the last appended token of the output `ids[start:end]`, or None
    to go on (the bounds spare the caller a copy of the output at every token).

    Nothing stops a request before `min_tokens` (SGLang's min_new_tokens). Stop strings are
    searched only in the text that the newest token could have completed, so
    the check costs O(longest stop string) per token rather than the whole output.
    """
    end = len(ids) if end is None else end
    if end - start < params.min_tokens:
        return None
    last = ids[end - 1]
    if last in params.stop_token_ids:
        return FinishReason.STOP
    if last in eos_ids and not params.ignore_eos:
        return FinishReason.EOS
    if params.stop:
        tail = decode(ids[max(start, end - _window(tuple(params.stop))) : end])
        if any(s in tail for s in params.stop):
            return FinishReason.STOP
    if end - start >= params.max_tokens:
        return FinishReason.LENGTH
    return None


@functools.lru_cache(maxsize=256)
def _window(stop: tuple[str, ...]) -> int:
    """Tokens to decode for a stop check: the longest stop string's characters (a token adds at
    least one unless it is special), and a margin for specials and split characters."""
    return max(len(s) for s in stop) + 8


def final_text(
    output_ids: list[int],
    reason: FinishReason,
    params: SamplingParams,
    eos_ids: frozenset[int],
    decode: Callable[[list[int]], str],
) -> str:
    """Decoded output without a trailing EOS or stop token, and cut before a stop string."""
    ids = output_ids
    if ids and reason in (FinishReason.STOP, FinishReason.EOS) and (
        ids[-1] in params.stop_token_ids or (ids[-1] in eos_ids and not params.ignore_eos)
    ):
        ids = ids[:-1]
    text = decode(ids)
    if reason == FinishReason.STOP and params.stop:
        cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
    return text
