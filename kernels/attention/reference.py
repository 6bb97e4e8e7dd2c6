"""The reference attention backend: plain torch, float32, runs anywhere.

It is the oracle that GPU kernels are tested against, so every step is spelled out; it is also
the CPU backend, so the work is batched where that costs no clarity: sequences with few new
tokens (decodes, select scoring, short suffixes after a cached prefix) run as one padded
`scaled_dot_product_attention` call, and each long extend as one call of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import torch
import torch.nn.functional as F

from lmc.kernels.attention import AttentionMetadata

SHORT_EXTEND = 64  # sequences with at most this many new tokens share one padded call


@dataclass
class _BatchPlan:
    """Short sequences of a forward gathered into one padded batch of n queries each."""

    rows: torch.Tensor  # [Bs, n] query row of each (sequence, new token), padded with row 0
    valid: torch.Tensor  # [Bs, n] False on padded query positions
    slots: torch.Tensor  # [Bs, L] KV slot ids, padded with slot 0
    bias: torch.Tensor  # [Bs, 1, n, L] 0 where query i may see key j, -inf elsewhere


@dataclass
class _ExtendPlan:
    """One sequence with many new tokens: its query rows, KV slots and causal mask."""

    q_start: int
    q_end: int
    slots: torch.Tensor  # [L] KV slot ids in position order
    mask: torch.Tensor  # [n, L] True where new query i may see key j


class ReferenceAttention:
    """AttentionBackend in plain torch: writes new K/V to the cache, then attends per sequence."""

    name = "reference"

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._meta: AttentionMetadata | None = None
        self._batch: _BatchPlan | None = None
        self._extends: list[_ExtendPlan] = []

    def prepare(self, meta: AttentionMetadata) -> None:
        """Build the gather indices and masks once per forward; every layer reuses them."""
        qo_indptr = [0, *accumulate(meta.extend_lens_cpu)]
        kv_indptr = [0, *accumulate(meta.seq_lens_cpu)]
        short: list[int] = []
        self._extends = []
        for b, (seq_len, ext_len) in enumerate(zip(meta.seq_lens_cpu, meta.extend_lens_cpu)):
            if ext_len == 0:
                continue
            if ext_len <= SHORT_EXTEND:
                short.append(b)
                continue
            slots = meta.kv_indices[kv_indptr[b] : kv_indptr[b + 1]]
            self._extends.append(
                _ExtendPlan(qo_indptr[b], qo_indptr[b + 1], slots, self._causal_mask(seq_len, ext_len))
            )
        self._batch = self._plan_batch(meta, short, qo_indptr, kv_indptr) if short else None
        self._meta = meta

    def _causal_mask(self, seq_len: int, ext_len: int) -> torch.Tensor:
        """Query i (of the ext_len new tokens) sees keys 0 .. seq_len - ext_len + i."""
        prefix = seq_len - ext_len
        keys = torch.arange(seq_len, device=self.device)
        last_visible = prefix + torch.arange(ext_len, device=self.device)
        return keys[None, :] <= last_visible[:, None]

    def _plan_batch(
        self, meta: AttentionMetadata, batch: list[int], qo_indptr: list[int], kv_indptr: list[int]
    ) -> _BatchPlan:
        lens = torch.tensor([meta.seq_lens_cpu[b] for b in batch], device=self.device)
        news = torch.tensor([meta.extend_lens_cpu[b] for b in batch], device=self.device)
        width, n = int(lens.max()), int(news.max())
        slots = torch.zeros(len(batch), width, dtype=torch.int64, device=self.device)
        for row, b in enumerate(batch):
            slots[row, : meta.seq_lens_cpu[b]] = meta.kv_indices[kv_indptr[b] : kv_indptr[b + 1]]
        step = torch.arange(n, device=self.device)
        valid = step[None, :] < news[:, None]
        starts = torch.tensor([qo_indptr[b] for b in batch], device=self.device)
        rows = torch.where(valid, starts[:, None] + step[None, :], 0)
        # Query i of a sequence sees keys up to (its prefix length + i); padded queries see key 0.
        last_visible = torch.where(valid, (lens - news)[:, None] + step[None, :], 0)
        visible = torch.arange(width, device=self.device)[None, None, :] <= last_visible[:, :, None]
        bias = torch.zeros(visible.shape, device=self.device).masked_fill(~visible, float("-inf"))
        return _BatchPlan(rows, valid, slots, bias[:, None])

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        """Attention of q `[T, Hq, D]` over each sequence's cached K/V; returns q's dtype."""
        if meta is not self._meta:
            self.prepare(meta)
        k_cache[meta.out_slots] = k.to(k_cache.dtype)
        v_cache[meta.out_slots] = v.to(v_cache.dtype)
        out = torch.empty(q.shape, dtype=torch.float32, device=q.device)
        if self._batch is not None:
            plan = self._batch
            out[plan.rows[plan.valid]] = _batched_attention(q, k_cache, v_cache, plan, scale)[plan.valid]
        for ext in self._extends:
            out[ext.q_start : ext.q_end] = _extend_attention(
                q[ext.q_start : ext.q_end], k_cache, v_cache, ext, scale
            )
        return out.to(q.dtype)


def _batched_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, plan: _BatchPlan, scale: float
) -> torch.Tensor:
    """n queries per sequence against its padded keys: `[Bs, n, Hq, D]` in float32."""
    keys = k_cache[plan.slots].float().transpose(1, 2)  # [Bs, Hkv, L, D]
    values = v_cache[plan.slots].float().transpose(1, 2)
    (batch, n), num_q_heads, head_dim = plan.rows.shape, q.shape[1], q.shape[2]
    num_kv_heads = keys.shape[1]
    group = num_q_heads // num_kv_heads
    # Query head h reads KV head h // group (GQA): the group's queries attend as rows of one head.
    queries = q[plan.rows].float().view(batch, n, num_kv_heads, group, head_dim)
    queries = queries.permute(0, 2, 3, 1, 4).reshape(batch, num_kv_heads, group * n, head_dim)
    bias = plan.bias.repeat(1, 1, group, 1)
    out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=bias, scale=scale)
    out = out.view(batch, num_kv_heads, group, n, head_dim).permute(0, 3, 1, 2, 4)
    return out.reshape(batch, n, num_q_heads, head_dim)


def _extend_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, plan: _ExtendPlan, scale: float
) -> torch.Tensor:
    """Several new queries of one sequence against its prefix and themselves: `[n, Hq, D]`.

    As in decode, the queries of a GQA group become rows of their KV head (no K/V copies), and
    the inputs are 4-D: torch's CPU SDPA takes its fused kernel only then."""
    n, num_q_heads, head_dim = q.shape
    keys = k_cache[plan.slots].float().transpose(0, 1)[None]  # [1, Hkv, L, D]
    values = v_cache[plan.slots].float().transpose(0, 1)[None]
    num_kv_heads = keys.shape[1]
    group = num_q_heads // num_kv_heads
    queries = q.float().view(n, num_kv_heads, group, head_dim).permute(1, 2, 0, 3)
    queries = queries.reshape(1, num_kv_heads, group * n, head_dim)
    mask = plan.mask.repeat(group, 1)
    out = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask, scale=scale)
    return out.view(num_kv_heads, group, n, head_dim).permute(2, 0, 1, 3).reshape(n, num_q_heads, head_dim)
