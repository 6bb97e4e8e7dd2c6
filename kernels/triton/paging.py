"""Where a sequence's KV position lives: the one address rule every attention kernel shares."""

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
