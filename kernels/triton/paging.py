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
