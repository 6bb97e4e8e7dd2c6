"""Next-token choice for a whole batch at once: penalties, constraint masks, greedy or sampled."""

from __future__ import annotations

import torch

from lmc.runtime.request import SamplingParams


def apply_penalties(
    logits: torch.Tensor, params: list[SamplingParams], outputs: list[list[int]]
) -> None:
    """Subtract frequency (per occurrence) and presence (once) penalties of generated tokens."""
    rows = [i for i, p in enumerate(params) if p.frequency_penalty or p.presence_penalty]
    if not rows:
        return
    vocab = logits.shape[-1]
    for i in rows:
        ids = torch.tensor(outputs[i], dtype=torch.int64, device=logits.device)
        counts = torch.bincount(ids, minlength=vocab)[:vocab].to(logits.dtype)
        logits[i] -= params[i].frequency_penalty * counts
        logits[i] -= params[i].presence_penalty * (counts > 0).to(logits.dtype)


def filter_probs(probs: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Zero the tokens that top-k, top-p and min-p exclude; rows keep at least their best token."""
    top_k = torch.tensor([p.top_k if p.top_k > 0 else probs.shape[-1] for p in params], device=probs.device)
    top_p = torch.tensor([p.top_p for p in params], device=probs.device, dtype=probs.dtype)
    min_p = torch.tensor([p.min_p for p in params], device=probs.device, dtype=probs.dtype)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    rank = torch.arange(probs.shape[-1], device=probs.device).expand_as(sorted_probs)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass strictly above each token
    drop = (rank >= top_k[:, None]) | (before > top_p[:, None])
    drop |= sorted_probs < min_p[:, None] * sorted_probs[:, :1]
    drop[:, 0] = False
    sorted_probs = sorted_probs.masked_fill(drop, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_probs)


def sample(
    logits: torch.Tensor,
    params: list[SamplingParams],
    outputs: list[list[int]],
    generators: list[torch.Generator | None],
    allowed: torch.Tensor | None = None,
    default_generator: torch.Generator | None = None,
) -> list[int]:
    """Choose one token per row of `logits` [B, vocab] (float32, modified in place).

    `allowed` [B, vocab] bool restricts each row to its constraint's tokens. Rows with a
    per-request generator draw from it alone, so a seeded request gives the same tokens whatever
    else shares its batch.
    """
    apply_penalties(logits, params, outputs)
    if allowed is not None:
        logits.masked_fill_(~allowed, float("-inf"))
    chosen = logits.argmax(dim=-1)
    sampled = [i for i, p in enumerate(params) if not p.greedy]
    if sampled:
        rows = torch.tensor(sampled, device=logits.device)
        temps = torch.tensor([params[i].temperature for i in sampled], device=logits.device)
        probs = torch.softmax(logits[rows] / temps[:, None], dim=-1)
        probs = filter_probs(probs, [params[i] for i in sampled])
        shared = [k for k, i in enumerate(sampled) if generators[i] is None]
        if shared:
            draws = torch.multinomial(probs[shared], 1, generator=default_generator).squeeze(1)
            chosen[rows[shared]] = draws
        for k, i in enumerate(sampled):
            if generators[i] is not None:
                chosen[i] = torch.multinomial(probs[k], 1, generator=generators[i])[0]
    return chosen.tolist()


def token_logprobs(logits: torch.Tensor, rows: list[int], token_ids: list[int]) -> list[float]:
    """log p(token | prefix) for each (logits row, following token) pair."""
    if not rows:
        return []
    logp = torch.log_softmax(logits[rows], dim=-1)
    picked = logp[torch.arange(len(rows)), torch.tensor(token_ids, device=logits.device)]
    return picked.tolist()
