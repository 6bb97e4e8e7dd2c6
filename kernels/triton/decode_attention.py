"""Split-KV paged decode: one new query per sequence against its whole KV list.

Stage one gives each (sequence, kv head, split) a contiguous stretch of the KV list and all q heads
of that kv head's group at once (the K/V tile is read once for the group); stage two merges the
splits by their log-sum-exp. Splitting keeps the GPU full when the batch is small and contexts long.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lmc.kernels.triton.paging import attend_range, split_chunk
from lmc.kernels.triton.plan import AttentionPlan
from lmc.kernels.triton.shapes import check_head_dim
from lmc.kernels.triton.shared_prefix_attention import PrefixParts, fold_parts

_LOG2E = 1.4426950408889634


@triton.jit(do_not_specialize=["group", "num_splits", "prefix_splits"])
def _decode_partial_kernel(
    Q, K_cache, V_cache, Out, O_part, LSE_part,
    page_indptr, page_table, seq_lens, prefix_lens, O_pre, LSE_pre,
    group, num_splits, prefix_splits, scale_log2e,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh,
    stride_pt, stride_ph, stride_ps, stride_lt, stride_lh,
    stride_et, stride_eh, stride_es, stride_ft, stride_fh,
    HEAD_DIM: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_N: tl.constexpr,
    PAGE_SIZE: tl.constexpr, MIN_SPLIT: tl.constexpr, WRITE_FINAL: tl.constexpr,
    CASCADE: tl.constexpr, PRE_BLOCK_N: tl.constexpr, PRE_MIN_SPLIT: tl.constexpr,
):
    """Grid (sequence, kv head, split). With WRITE_FINAL (a single split) the normalised result
    goes straight to Out; otherwise to O_part with its base-2 log-sum-exp in LSE_part.

    With CASCADE the splits cover positions prefix_lens[seq] .. seq_len only, and split 0 folds
    in the shared prefix's parts (O_pre, LSE_pre): the merge then sees one whole attention."""
    seq = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    seq_len = tl.load(seq_lens + seq)
    page_start = tl.load(page_indptr + seq)
    kv_lo = tl.load(prefix_lens + seq) if CASCADE else 0
    chunk = split_chunk(seq_len - kv_lo, num_splits, BLOCK_N, MIN_SPLIT)
    start = kv_lo + split * chunk
    end = tl.minimum(start + chunk, seq_len)

    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, HEAD_DIM)
    head_ok = offs_g < group
    heads = kv_head * group + offs_g
    q = tl.load(Q + seq * stride_qt + heads[:, None] * stride_qh + offs_d[None, :],
                mask=head_ok[:, None], other=0.0)

    m_i = tl.full([BLOCK_G], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_G], tl.float32)
    acc = tl.zeros([BLOCK_G, HEAD_DIM], tl.float32)
    m_i, l_i, acc = attend_range(q, m_i, l_i, acc, K_cache, V_cache, page_table, page_start, start, end,
                                kv_head, scale_log2e, stride_kt, stride_kh, stride_vt, stride_vh,
                                HEAD_DIM, BLOCK_N, PAGE_SIZE)

    if CASCADE:  # noqa: SIM102 (a compile-time branch around a run-time one)
        if split == 0:
            acc, m_i, l_i = fold_parts(
                acc, m_i, l_i, LSE_pre + seq * stride_ft + heads * stride_fh,
                O_pre + seq * stride_et + heads * stride_eh, head_ok, kv_lo, prefix_splits,
                stride_es, HEAD_DIM, PRE_BLOCK_N, PRE_MIN_SPLIT,
            )
    out = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]
    if WRITE_FINAL:
        tl.store(Out + seq * stride_ot + heads[:, None] * stride_oh + offs_d[None, :],
                 out.to(Out.dtype.element_ty), mask=head_ok[:, None])
    else:
        part = O_part + seq * stride_pt + heads[:, None] * stride_ph + split * stride_ps
        tl.store(part + offs_d[None, :], out, mask=head_ok[:, None])
        tl.store(LSE_part + seq * stride_lt + heads * stride_lh + split, m_i + tl.log2(l_i),
                 mask=head_ok)


@triton.jit(do_not_specialize=["num_splits"])
def _decode_merge_kernel(
    Out, O_part, LSE_part, seq_lens, prefix_lens, num_splits,
    stride_ot, stride_oh, stride_pt, stride_ph, stride_ps, stride_lt, stride_lh,
    HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, MIN_SPLIT: tl.constexpr,
    CASCADE: tl.constexpr,
):
    """Grid (sequence, q head): weight each non-empty split's output by 2^(its lse - max lse)."""
    seq = tl.program_id(0)
    head = tl.program_id(1)
    seq_len = tl.load(seq_lens + seq)
    kv_lo = tl.load(prefix_lens + seq) if CASCADE else 0
    used = tl.cdiv(seq_len - kv_lo, split_chunk(seq_len - kv_lo, num_splits, BLOCK_N, MIN_SPLIT))
    offs_d = tl.arange(0, HEAD_DIM)
    m = float("-inf")
    total = 0.0
    acc = tl.zeros([HEAD_DIM], tl.float32)
    for s in range(0, used):
        lse = tl.load(LSE_part + seq * stride_lt + head * stride_lh + s)
        part = tl.load(O_part + seq * stride_pt + head * stride_ph + s * stride_ps + offs_d)
        m_new = tl.maximum(m, lse)
        alpha = tl.exp2(m - m_new)
        weight = tl.exp2(lse - m_new)
        acc = acc * alpha + part * weight
        total = total * alpha + weight
        m = m_new
    out = acc / tl.where(total > 0, total, 1.0)
    tl.store(Out + seq * stride_ot + head * stride_oh + offs_d, out.to(Out.dtype.element_ty))


def choose_num_splits(batch: int, num_kv_heads: int, num_sms: int) -> int:
    """Enough splits for about two programs per multiprocessor (at Llama-3-8B shapes on an H100,
    batch 64 x 1024 ran fastest unsplit: 108 us against 116 us with 2 splits). Independent of the
    lengths, so a captured CUDA graph stays right and well split as contexts grow; short
    sequences use fewer splits by themselves (see `min_split`)."""
    return max(1, min(triton.cdiv(2 * num_sms, max(batch * num_kv_heads, 1)), 64))


def decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    out: torch.Tensor,
    plan: AttentionPlan,
    scale: float,
    num_splits: int,
    block_n: int = 64,
    num_warps: int = 4,
    num_stages: int = 2,
    min_split: int = 256,
    prefix: PrefixParts | None = None,
) -> None:
    """Write attention of one query per sequence (`q` [B, Hq, D]) into `out` (same shape).

    The cache must already hold each sequence's new K/V at the end of its KV list. Up to
    `num_splits` programs share a sequence's KV list, each taking at least `min_split` positions
    (a multiple of `block_n`): shorter splits cost more in merging than they gain. With `prefix`
    (see shared_prefix_attention) sequence b reads only positions prefix_lens[b] onwards itself.
    """
    head_dim = check_head_dim(q, k_cache, v_cache, out)
    batch, num_q_heads = q.shape[0], q.shape[1]
    num_kv_heads = k_cache.shape[1]
    if batch == 0:
        return
    group = num_q_heads // num_kv_heads
    block_g = max(16, triton.next_power_of_2(group))
    if num_splits > 1:
        o_part = torch.empty(batch, num_q_heads, num_splits, head_dim, dtype=torch.float32,
                             device=q.device)
        lse_part = torch.empty(batch, num_q_heads, num_splits, dtype=torch.float32,
                               device=q.device)
    else:
        o_part, lse_part = out, out
    pre = prefix if prefix is not None else PrefixParts.unused(o_part, plan.seq_lens)
    _decode_partial_kernel[(batch, num_kv_heads, num_splits)](
        q, k_cache, v_cache, out, o_part, lse_part,
        plan.page_indptr, plan.page_table, plan.seq_lens, pre.prefix_lens, pre.o_part,
        pre.lse_part,
        group, num_splits, pre.num_splits, scale * _LOG2E,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1),
        v_cache.stride(0), v_cache.stride(1), out.stride(0), out.stride(1),
        o_part.stride(0), o_part.stride(1), o_part.stride(2), lse_part.stride(0),
        lse_part.stride(1), pre.o_part.stride(0), pre.o_part.stride(1), pre.o_part.stride(2),
        pre.lse_part.stride(0), pre.lse_part.stride(1),
        HEAD_DIM=head_dim, BLOCK_G=block_g, BLOCK_N=block_n, PAGE_SIZE=plan.page_size,
        MIN_SPLIT=min_split, WRITE_FINAL=num_splits == 1, CASCADE=prefix is not None,
        PRE_BLOCK_N=pre.block_n, PRE_MIN_SPLIT=pre.min_split, num_warps=num_warps,
        num_stages=num_stages,
    )
    if num_splits > 1:
        _decode_merge_kernel[(batch, num_q_heads)](
            out, o_part, lse_part, plan.seq_lens, pre.prefix_lens, num_splits,
            out.stride(0), out.stride(1), o_part.stride(0), o_part.stride(1), o_part.stride(2),
            lse_part.stride(0), lse_part.stride(1),
            HEAD_DIM=head_dim, BLOCK_N=block_n, MIN_SPLIT=min_split, CASCADE=prefix is not None,
            num_warps=4,
        )
