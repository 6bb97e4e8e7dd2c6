"""Per-forward launch plan for the Triton attention kernels, built once from AttentionMetadata.

Everything here is derived from the host copies of the lengths (`*_cpu`) plus device-side gathers,
so building a plan never waits for the GPU; the small host-built index arrays travel in one pinned,
non-blocking copy. The host arithmetic is numpy's: single-threaded, so it never waits on a thread
pool (torch's CPU repeat_interleave took milliseconds for 64 items on a busy 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmc.kernels.attention import AttentionMetadata


@dataclass(frozen=True)
class AttentionPlan:
    """Page table and work lists shared by every layer of one forward.

    `page_table[page_indptr[b]:page_indptr[b+1]]` lists sequence b's pages in position order
    (slot ids when page_size is 1). For an extend, program i of the grid serves query rows
    `block_start[i] .. block_start[i] + block_m` of sequence `block_seq[i]`.
    """

    page_size: int
    page_indptr: torch.Tensor  # [B+1] int32
    page_table: torch.Tensor  # [num_pages] int64
    qo_indptr: torch.Tensor  # [B+1] int32
    seq_lens: torch.Tensor  # [B] int32
    is_decode: bool
    block_m: int
    block_seq: torch.Tensor  # [num_blocks] int32 (empty for a decode)
    block_start: torch.Tensor  # [num_blocks] int32

    @property
    def batch_size(self) -> int:
        return self.seq_lens.shape[0]

    @property
    def num_blocks(self) -> int:
        return self.block_seq.shape[0]


def plan_attention(meta: AttentionMetadata, device: torch.device, block_m: int) -> AttentionPlan:
    """Build the plan; with page_size > 1 the page table is read off the slot list.

    Invariant relied on for page_size P > 1: position j of a sequence sits at slot
    page * P + j % P, i.e. each page holds P consecutive positions (the last one may be partial).
    """
    page_indptr, page_table = _page_table(meta, device)
    if meta.is_decode:
        block_seq = block_start = torch.empty(0, dtype=torch.int32, device=device)
    else:
        block_seq, block_start = _extend_blocks(meta.extend_lens_cpu, block_m, device)
    return AttentionPlan(
        page_size=meta.page_size,
        page_indptr=page_indptr,
        page_table=page_table,
        qo_indptr=meta.qo_indptr,
        seq_lens=meta.seq_lens,
        is_decode=meta.is_decode,
        block_m=block_m,
        block_seq=block_seq,
        block_start=block_start,
    )


def _page_table(meta: AttentionMetadata, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Page list per sequence: the slot of each page's first position, divided by the page size."""
    size = meta.page_size
    if size == 1:
        return meta.kv_indptr, meta.kv_indices
    seq_lens = np.array(meta.seq_lens_cpu, dtype=np.int64)
    pages = (seq_lens + size - 1) // size
    page_indptr = _exclusive_cumsum(pages)
    kv_indptr = _exclusive_cumsum(seq_lens)
    seq_of_page = np.repeat(np.arange(len(pages)), pages)
    first_pos = (np.arange(page_indptr[-1]) - page_indptr[seq_of_page]) * size
    gather = kv_indptr[seq_of_page] + first_pos
    host = torch.from_numpy(np.concatenate([gather, page_indptr]))
    moved = _to_device(host, device)
    page_table = meta.kv_indices[moved[: gather.shape[0]]] // size
    return moved[gather.shape[0] :].to(torch.int32), page_table


def _extend_blocks(
    extend_lens: list[int], block_m: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """One work item per block of `block_m` query rows, so ragged batches launch no idle programs."""
    lens = np.array(extend_lens, dtype=np.int64)
    blocks = (lens + block_m - 1) // block_m
    first = _exclusive_cumsum(blocks)
    num_blocks = int(first[-1])
    block_seq = np.repeat(np.arange(len(lens)), blocks)
    # Rows padded to a multiple of 4 int32s: both start 16-byte aligned, whatever the count, so
    # Triton (which specialises pointers on 16-byte alignment) compiles the kernel once, not
    # again mid-run when a batch first brings a block count that is not a multiple of 4.
    host = np.zeros((2, -(-num_blocks // 4) * 4), dtype=np.int32)
    host[0, :num_blocks] = block_seq
    host[1, :num_blocks] = (np.arange(num_blocks) - first[block_seq]) * block_m
    moved = _to_device(torch.from_numpy(host), device)
    return moved[0, :num_blocks], moved[1, :num_blocks]


def _exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape[0] + 1, dtype=x.dtype)
    np.cumsum(x, out=out[1:])
    return out


def _to_device(host: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host to device without a stream sync: a pinned source makes the copy truly asynchronous."""
    if device.type == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host.to(device)
