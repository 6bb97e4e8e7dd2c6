"""Paged attention for new tokens: each attends to its sequence's cached prefix and, causally, to
the new tokens before it (prefill, chunked prefill and prefix-cache hits are all this one case)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lmc.kernels.triton.paging import kv_slots
from lmc.kernels.triton.plan import AttentionPlan
from lmc.kernels.triton.shapes import check_head_dim
from lmc.kernels.triton.shared_prefix_attention import PrefixParts, fold_parts

_LOG2E = 1.4426950408889634


@triton.jit
def _attend_block(
    q, acc, m_i, l_i, K_cache, V_cache, page_table, page_start, n0, last_pos,
    kv_head, stride_kt, stride_kh, stride_vt, stride_vh, scale_log2e, row_limit,
    HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, PAGE_SIZE: tl.constexpr, MASKED: tl.constexpr,
):
    """One online-softmax step over KV positions n0 .. n0 + BLOCK_N (base-2 exponentials).

    With MASKED, row r sees positions <= row_limit[r]; every row has seen position 0 before any
    fully masked step, so its running max is finite and no NaN arises."""
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    pos = tl.minimum(n0 + offs_n, last_pos)
    slots = kv_slots(page_table, page_start, pos, PAGE_SIZE)
    k = tl.load(K_cache + slots[:, None] * stride_kt + kv_head * stride_kh + offs_d[None, :])
    v = tl.load(V_cache + slots[:, None] * stride_vt + kv_head * stride_vh + offs_d[None, :])
    qk = tl.dot(q, tl.trans(k)) * scale_log2e
    if MASKED:
        qk = tl.where((n0 + offs_n)[None, :] <= row_limit[:, None], qk, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(qk, 1))
    alpha = tl.exp2(m_i - m_new)
    p = tl.exp2(qk - m_new[:, None])
    l_i = l_i * alpha + tl.sum(p, 1)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
    return acc, m_new, l_i


@triton.jit(do_not_specialize=["group", "prefix_splits"])
def _extend_kernel(
    Q, K_cache, V_cache, Out,
    qo_indptr, page_indptr, page_table, seq_lens, block_seq, block_start,
    prefix_lens, O_pre, LSE_pre,
    group, prefix_splits, scale_log2e,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh,
    stride_et, stride_eh, stride_es, stride_ft, stride_fh,
    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    PAGE_SIZE: tl.constexpr, CASCADE: tl.constexpr, PRE_BLOCK_N: tl.constexpr,
    PRE_MIN_SPLIT: tl.constexpr,
):
    """Grid (work item, q head). Positions below prefix_len + m0 are visible to every row of the
    block and run unmasked; only the last stretch, up to the block's causal edge, is masked.
    With CASCADE the walk starts at prefix_lens[seq] and the shared prefix's parts are folded in."""
    work = tl.program_id(0)
    head = tl.program_id(1)
    kv_head = head // group
    seq = tl.load(block_seq + work)
    m0 = tl.load(block_start + work)
    q_start = tl.load(qo_indptr + seq)
    ext_len = tl.load(qo_indptr + seq + 1) - q_start
    seq_len = tl.load(seq_lens + seq)
    prefix_len = seq_len - ext_len
    page_start = tl.load(page_indptr + seq)

    offs_m = m0 + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, HEAD_DIM)
    row_ok = offs_m < ext_len
    rows = q_start + offs_m
    q = tl.load(Q + rows[:, None] * stride_qt + head * stride_qh + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)

    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    last_pos = seq_len - 1

    row_limit = prefix_len + offs_m
    kv_lo = tl.load(prefix_lens + seq) if CASCADE else 0
    full_end = kv_lo + (prefix_len + m0 - kv_lo) // BLOCK_N * BLOCK_N
    for n0 in range(kv_lo, full_end, BLOCK_N):
        acc, m_i, l_i = _attend_block(
            q, acc, m_i, l_i, K_cache, V_cache, page_table, page_start, n0, last_pos,
            kv_head, stride_kt, stride_kh, stride_vt, stride_vh, scale_log2e, row_limit,
            HEAD_DIM, BLOCK_N, PAGE_SIZE, False,
        )
    causal_end = tl.minimum(seq_len, prefix_len + m0 + BLOCK_M)
    for n0 in range(full_end, causal_end, BLOCK_N):
        acc, m_i, l_i = _attend_block(
            q, acc, m_i, l_i, K_cache, V_cache, page_table, page_start, n0, last_pos,
            kv_head, stride_kt, stride_kh, stride_vt, stride_vh, scale_log2e, row_limit,
            HEAD_DIM, BLOCK_N, PAGE_SIZE, True,
        )

    if CASCADE:
        acc, m_i, l_i = fold_parts(
            acc, m_i, l_i, LSE_pre + rows * stride_ft + head * stride_fh,
            O_pre + rows * stride_et + head * stride_eh, row_ok, kv_lo, prefix_splits, stride_es,
            HEAD_DIM, PRE_BLOCK_N, PRE_MIN_SPLIT,
        )
    out = acc / l_i[:, None]
    tl.store(Out + rows[:, None] * stride_ot + head * stride_oh + offs_d[None, :],
             out.to(Out.dtype.element_ty), mask=row_ok[:, None])


def extend_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    out: torch.Tensor,
    plan: AttentionPlan,
    scale: float,
    block_n: int = 64,
    num_warps: int | None = None,
    num_stages: int = 3,
    prefix: PrefixParts | None = None,
) -> None:
    """Write attention of every packed query row of `q` [T, Hq, D] into `out` (same shape).

    The cache must already hold the new tokens' K/V (store them first). Rows are planned in blocks
    of `plan.block_m`; `block_n` KV positions are read per step. Defaults are the fastest measured
    on an H100 at Llama-3-8B shapes (block_m 64, block_n 64, 4 warps, 3 stages: 8 x 2048 prefill
    in 879 us, 64 x (1024 cached + 64 new) in 283 us; benchmarks/results/kernels_h100.json).
    With `prefix` (see shared_prefix_attention) sequence b reads positions prefix_lens[b] onwards.
    """
    head_dim = check_head_dim(q, k_cache, v_cache, out)
    num_q_heads, num_kv_heads = q.shape[1], k_cache.shape[1]
    if plan.num_blocks == 0:
        return
    if num_warps is None:
        num_warps = 8 if plan.block_m * head_dim >= 128 * 128 else 4
    pre = prefix if prefix is not None else PrefixParts.unused(out, plan.seq_lens)
    grid = (plan.num_blocks, num_q_heads)
    _extend_kernel[grid](
        q, k_cache, v_cache, out,
        plan.qo_indptr, plan.page_indptr, plan.page_table, plan.seq_lens,
        plan.block_seq, plan.block_start, pre.prefix_lens, pre.o_part, pre.lse_part,
        num_q_heads // num_kv_heads, pre.num_splits, scale * _LOG2E,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1),
        v_cache.stride(0), v_cache.stride(1), out.stride(0), out.stride(1),
        pre.o_part.stride(0), pre.o_part.stride(1), pre.o_part.stride(2),
        pre.lse_part.stride(0), pre.lse_part.stride(1),
        HEAD_DIM=head_dim, BLOCK_M=plan.block_m, BLOCK_N=block_n, PAGE_SIZE=plan.page_size,
        CASCADE=prefix is not None, PRE_BLOCK_N=pre.block_n, PRE_MIN_SPLIT=pre.min_split,
        num_warps=num_warps, num_stages=num_stages,
    )
