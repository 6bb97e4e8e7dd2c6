"""Next-token choice for a whole batch at once: penalties, constraint masks, greedy or sampled.

Everything runs where the logits are, and the chosen ids stay there: the engine reads them once,
when it needs them (see `LaunchedStep`), so nothing here makes the host wait for the GPU. Small
per-row settings go over in asynchronous copies.
"""

from __future__ import annotations

import torch

from lmc.runtime.request import SamplingParams


def _on_device(values: list, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small host list on `device` without waiting for the GPU (pinned, non-blocking)."""
    host = torch.tensor(values, dtype=dtype)
    if device.type == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host


def select_rows(logits: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """`logits[rows]`, or `logits` itself when `rows` are all its rows in order (a decode step)."""
    if rows == list(range(logits.shape[0])):
        return logits
    return logits.index_select(0, _on_device(rows, torch.int64, logits.device))


def apply_penalties(
    logits: torch.Tensor, params: list[SamplingParams], outputs: list[list[int]]
) -> None:
    """Subtract frequency (per occurrence) and presence (once) penalties of generated tokens."""
    rows = [i for i, p in enumerate(params) if p.frequency_penalty or p.presence_penalty]
    if not rows:
        return
    vocab = logits.shape[-1]
    for i in rows:
        ids = _on_device(outputs[i], torch.int64, logits.device)
        counts = torch.bincount(ids, minlength=vocab)[:vocab].to(logits.dtype)
        logits[i] -= params[i].frequency_penalty * counts
        logits[i] -= params[i].presence_penalty * (counts > 0).to(logits.dtype)


def filter_probs(probs: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Zero the tokens that top-k, top-p and min-p exclude; rows keep at least their best token."""
    vocab = probs.shape[-1]
    knobs = _on_device(
        [[p.top_k if p.top_k > 0 else vocab, p.top_p, p.min_p] for p in params],
        probs.dtype, probs.device,
    )
    top_k, top_p, min_p = knobs.unbind(1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    rank = torch.arange(probs.shape[-1], device=probs.device).expand_as(sorted_probs)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass strictly above each token
    drop = (rank >= top_k[:, None]) | (before > top_p[:, None])
    drop |= sorted_probs < min_p[:, None] * sorted_probs[:, :1]
    drop[:, 0] = False
    sorted_probs = sorted_probs.masked_fill(drop, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


@torch.inference_mode()
def sample(
    logits: torch.Tensor,
    params: list[SamplingParams],
    outputs: list[list[int]],
    generators: list[torch.Generator | None],
    allowed: torch.Tensor | None = None,
    default_generator: torch.Generator | None = None,
    banned: list[tuple[int, ...]] | None = None,
) -> torch.Tensor:
    """Choose one token per row of `logits` [B, vocab] (float32, modified in place; it may be
    the model's output, an inference tensor, hence inference mode here); returns int64 `[B]`
    on the logits' device.

    `allowed` [B, vocab] bool restricts each row to its constraint's tokens; `banned[i]` are
    token ids row i may not take (EOS and stop ids before `min_tokens`). Rows with a
    per-request generator draw from it alone, so a seeded request gives the same tokens whatever
    else shares its batch.
    """
    apply_penalties(logits, params, outputs)
    if allowed is not None:
        logits.masked_fill_(~allowed, float("-inf"))
    for i, ids in enumerate(banned or ()):
        if ids:
            logits[i, [t for t in ids if t < logits.shape[-1]]] = float("-inf")
    chosen = logits.argmax(dim=-1)
    sampled = [i for i, p in enumerate(params) if not p.greedy]
    if sampled:
        rows = _on_device(sampled, torch.int64, logits.device)
        temps = _on_device([params[i].temperature for i in sampled], logits.dtype, logits.device)
        probs = torch.softmax(logits[rows] / temps[:, None], dim=-1)
        probs = filter_probs(probs, [params[i] for i in sampled])
        shared = [k for k, i in enumerate(sampled) if generators[i] is None]
        if shared:
            picked = _on_device(shared, torch.int64, logits.device)
            draws = torch.multinomial(probs[picked], 1, generator=default_generator).squeeze(1)
            chosen[rows[picked]] = draws
        for k, i in enumerate(sampled):
            if generators[i] is not None:
                chosen[i] = torch.multinomial(probs[k], 1, generator=generators[i])[0]
    return chosen


def token_logprobs(logits: torch.Tensor, rows: list[int], token_ids: list[int],
                   top: int = 0) -> tuple[list[float], list[list[tuple[int, float]]]]:
    """log p(token | prefix) for each (logits row, following token) pair and, when `top` > 0,
    each row's `top` most likely (token id, log p), most likely first."""
    if not rows:
        return [], []
    logp = torch.log_softmax(select_rows(logits, rows), dim=-1)
    picked = logp.gather(1, _on_device(token_ids, torch.int64, logits.device)[:, None])
    if top <= 0:
        return picked[:, 0].tolist(), []
    values, ids = logp.topk(min(top, logp.shape[-1]), dim=-1)
    return picked[:, 0].tolist(), [list(zip(i, v)) for i, v in zip(ids.tolist(), values.tolist())]


def top_logprobs(logprobs: torch.Tensor, tokens: torch.Tensor, k: int) -> tuple[list[float], list[list[tuple[int, float]]]]:
    """For rows of log-probabilities [B, vocab] and the token each row took: that token's log p,
    and the k best (token id, log p) pairs of each row, best first."""
    chosen = logprobs.gather(1, tokens[:, None].to(logprobs.device))[:, 0].tolist()
    if k <= 0:
        return chosen, [[] for _ in chosen]
    values, ids = logprobs.topk(k, dim=-1)
    return chosen, [list(zip(i, v)) for i, v in zip(ids.tolist(), values.tolist())]
