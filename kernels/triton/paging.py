"""Where a sequence's KV position lives, and how a query block attends to a stretch of it: the rules
every paged attention kernel shares."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def kv_slots(page_table, page_start, pos, PAGE_SIZE: tl.constexpr):
    """Slot ids of positions `pos` of a sequence whose page list starts at `page_table[page_start]`.

    With PAGE_SIZE 1 the page table is the slot list itself; with larger pages the cache is viewed
    as [num_pages, PAGE_SIZE, heads, dim], so slot = page * PAGE_SIZE + pos % PAGE_SIZE. Callers
    clamp `pos` into the sequence, so the page-table read needs no mask.
    """
    page = tl.load(page_table + page_start + pos // PAGE_SIZE)
    return page * PAGE_SIZE + pos % PAGE_SIZE


@triton.jit
def split_chunk(seq_len, num_splits, BLOCK_N: tl.constexpr, MIN_SPLIT: tl.constexpr):
    """KV positions per split of a list of `seq_len`: equal shares rounded up to whole blocks,
    at least MIN_SPLIT, so a short list uses fewer splits than launched (the rest exit at once).
    Every kernel that writes split parts and every one that reads them uses this one rule."""
    chunk = tl.cdiv(tl.cdiv(seq_len, num_splits), BLOCK_N) * BLOCK_N
    return tl.maximum(chunk, MIN_SPLIT)


@triton.jit
def attend_range(q, m_i, l_i, acc, K_cache, V_cache, page_table, page_start, start, end, kv_head, scale_log2e,
                 stride_kt, stride_kh, stride_vt, stride_vh,
                 HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, PAGE_SIZE: tl.constexpr):
    """Online softmax of the query rows `q` over KV positions start .. end of one sequence's page
    list and one kv head, carried in base 2 (`scale_log2e` folds log2(e) into the scale): returns
    the running max, the denominator and the unnormalised output, so parts can still be merged."""
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, HEAD_DIM)
    for n0 in range(start, end, BLOCK_N):
        pos = n0 + offs_n
        slots = kv_slots(page_table, page_start, tl.minimum(pos, end - 1), PAGE_SIZE)
        k = tl.load(K_cache + slots[:, None] * stride_kt + kv_head * stride_kh + offs_d[None, :])
        v = tl.load(V_cache + slots[:, None] * stride_vt + kv_head * stride_vh + offs_d[None, :])
        qk = tl.dot(q, tl.trans(k)) * scale_log2e
        qk = tl.where(pos[None, :] < end, qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(qk - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    return m_i, l_i, acc
