"""The shared half of cascade attention: query tiles of many sequences against one cached prefix.

Program (tile, kv head, split) loads the tile's query tokens with every q head of that kv head's
group as the rows of one matrix, so each K/V block of the prefix is read once for all of them
(not once per sequence, as a per-sequence kernel must), and writes each (token, head, split)'s
normalised output with its base-2 log-sum-exp. The per-sequence kernels attend to the rest of
each KV list and fold these parts in (`fold_parts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from lmc.kernels.attention.shared_prefix import TILE_TOKENS, SharedPrefixTables
from lmc.kernels.triton.paging import attend_range, split_chunk
from lmc.kernels.triton.plan import AttentionPlan

_LOG2E = 1.4426950408889634
MIN_SPLIT = 256  # prefix positions per split at least: shorter ones cost more to fold than they save


@triton.jit(do_not_specialize=["group", "num_splits"])
def _prefix_kernel(
    Q, K_cache, V_cache, O_part, LSE_part,
    page_indptr, page_table, tile_tokens, tile_first, tile_count, tile_leader, tile_len,
    group, num_splits, scale_log2e,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh,
    stride_pt, stride_ph, stride_ps, stride_lt, stride_lh,
    HEAD_DIM: tl.constexpr, TILE: tl.constexpr, GROUP_PAD: tl.constexpr, BLOCK_N: tl.constexpr,
    PAGE_SIZE: tl.constexpr, MIN_SPLIT: tl.constexpr,
):
    """Row r of the query matrix is token r // GROUP_PAD of the tile, head r % GROUP_PAD of the
    group. Every position of the prefix is visible to every token (the prefix precedes them)."""
    tile = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    count = tl.load(tile_count + tile)
    prefix_len = tl.load(tile_len + tile)
    chunk = split_chunk(prefix_len, num_splits, BLOCK_N, MIN_SPLIT)
    start = split * chunk
    end = tl.minimum(start + chunk, prefix_len)
    if (count > 0) & (start < end):
        first = tl.load(tile_first + tile)
        page_start = tl.load(page_indptr + tl.load(tile_leader + tile))
        offs_r = tl.arange(0, TILE * GROUP_PAD)
        offs_d = tl.arange(0, HEAD_DIM)
        slot_in_tile = offs_r // GROUP_PAD
        g = offs_r % GROUP_PAD
        row_ok = (slot_in_tile < count) & (g < group)
        token = tl.load(tile_tokens + first + slot_in_tile, mask=row_ok, other=0)
        head = kv_head * group + g
        q = tl.load(Q + token[:, None] * stride_qt + head[:, None] * stride_qh + offs_d[None, :],
                    mask=row_ok[:, None], other=0.0)
        m_i = tl.full([TILE * GROUP_PAD], float("-inf"), tl.float32)
        l_i = tl.zeros([TILE * GROUP_PAD], tl.float32)
        acc = tl.zeros([TILE * GROUP_PAD, HEAD_DIM], tl.float32)
        m_i, l_i, acc = attend_range(q, m_i, l_i, acc, K_cache, V_cache, page_table, page_start, start, end,
                                    kv_head, scale_log2e, stride_kt, stride_kh, stride_vt, stride_vh,
                                    HEAD_DIM, BLOCK_N, PAGE_SIZE)
        out = acc / l_i[:, None]
        part = O_part + token[:, None] * stride_pt + head[:, None] * stride_ph + split * stride_ps
        tl.store(part + offs_d[None, :], out, mask=row_ok[:, None])
        tl.store(LSE_part + token * stride_lt + head * stride_lh + split, m_i + tl.log2(l_i),
                 mask=row_ok)


@dataclass(frozen=True)
class PrefixParts:
    """What the per-sequence kernels need to fold the prefix in: its parts, how they were split
    (the same `split_chunk` rule on `block_n` and `min_split`), and each sequence's prefix_len."""

    o_part: torch.Tensor  # [T, Hq, S, D] float32
    lse_part: torch.Tensor  # [T, Hq, S] float32, base 2
    prefix_lens: torch.Tensor  # [B] int32
    num_splits: int
    block_n: int
    min_split: int

    @classmethod
    def unused(cls, any_float: torch.Tensor, any_int32: torch.Tensor) -> PrefixParts:
        """Stand-ins for a launch with CASCADE off, which reads none of them."""
        return cls(any_float, any_float, any_int32, 1, 16, 16)


@triton.jit
def fold_parts(acc, m_i, l_i, lse_rows, part_rows, row_ok, prefix_len, num_splits, stride_ps,
               HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, MIN_SPLIT: tl.constexpr):
    """Fold prefix parts into an online-softmax state whose rows are (token, head) pairs:
    `lse_rows`/`part_rows` point at each row's entries. `acc` is unnormalised and `m_i` finite
    (the suffix holds at least the token itself); a prefix_len of 0 folds nothing."""
    used = tl.cdiv(prefix_len, split_chunk(prefix_len, num_splits, BLOCK_N, MIN_SPLIT))
    offs_d = tl.arange(0, HEAD_DIM)
    for s in range(0, used):
        lse = tl.load(lse_rows + s, mask=row_ok, other=float("-inf"))
        part = tl.load(part_rows[:, None] + s * stride_ps + offs_d[None, :], mask=row_ok[:, None],
                       other=0.0)
        m_new = tl.maximum(m_i, lse)
        alpha = tl.exp2(m_i - m_new)
        weight = tl.exp2(lse - m_new)
        acc = acc * alpha[:, None] + part * weight[:, None]
        l_i = l_i * alpha + weight
        m_i = m_new
    return acc, m_i, l_i


def prefix_splits(num_tokens: int, num_kv_heads: int, num_sms: int) -> int:
    """Splits of each prefix in a decode: about two programs per multiprocessor when all
    `num_tokens` are tiled. From sizes alone (not lengths), so a captured CUDA graph keeps its
    grid; a short prefix uses fewer splits by itself (MIN_SPLIT)."""
    busy = -(-num_tokens // TILE_TOKENS) * num_kv_heads
    return max(1, min(triton.cdiv(2 * num_sms, max(busy, 1)), 16))


def shared_prefix_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    plan: AttentionPlan,
    tables: SharedPrefixTables,
    scale: float,
    num_splits: int,
    block_n: int = 64,
    min_split: int = MIN_SPLIT,
    num_warps: int = 4,
    num_stages: int = 2,
) -> PrefixParts:
    """The prefix parts of every tiled token of `q` [T, Hq, D] (untiled tokens' entries are
    left unwritten: their sequences' prefix_lens are 0, so nothing reads them)."""
    num_tokens, num_q_heads, head_dim = q.shape
    num_kv_heads = k_cache.shape[1]
    group = num_q_heads // num_kv_heads
    o_part = torch.empty(num_tokens, num_q_heads, num_splits, head_dim, dtype=torch.float32,
                         device=q.device)
    lse_part = torch.empty(num_tokens, num_q_heads, num_splits, dtype=torch.float32, device=q.device)
    parts = PrefixParts(o_part, lse_part, tables.prefix_lens, num_splits, block_n, min_split)
    if tables.num_tiles == 0:
        return parts
    _prefix_kernel[(tables.num_tiles, num_kv_heads, num_splits)](
        q, k_cache, v_cache, o_part, lse_part,
        plan.page_indptr, plan.page_table, tables.tile_tokens, tables.tile_first,
        tables.tile_count, tables.tile_leader, tables.tile_len,
        group, num_splits, scale * _LOG2E,
        q.stride(0), q.stride(1), k_cache.stride(0), k_cache.stride(1),
        v_cache.stride(0), v_cache.stride(1),
        o_part.stride(0), o_part.stride(1), o_part.stride(2), lse_part.stride(0), lse_part.stride(1),
        HEAD_DIM=head_dim, TILE=TILE_TOKENS, GROUP_PAD=triton.next_power_of_2(group),
        BLOCK_N=block_n, PAGE_SIZE=plan.page_size, MIN_SPLIT=min_split,
        num_warps=num_warps, num_stages=num_stages,
    )
    return parts
