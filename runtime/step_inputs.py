"""What one forward computes, as host arrays, and how they are written into a step buffer.

The scheduler hands over sequences and how many pending tokens each computes; the model wants
packed token ids, positions, the slot every new K/V goes to and each sequence's KV list. The only
per-sequence Python here is reading each sequence's tokens and deciding which logits rows it
needs; offsets, positions and output slots are computed as whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from lmc.kernels.attention import AttentionMetadata
from lmc.kernels.attention.shared_prefix import (
    MIN_ROWS,
    TABLE_FIELDS,
    PrefixGroup,
    SharedPrefixTables,
    fill_tables,
    max_tiles,
)
from lmc.runtime.prefix_groups import PrefixGrouper
from lmc.runtime.scheduler import ScheduledBatch
from lmc.runtime.sequence import PLACEHOLDER, Sequence


@dataclass
class StepRows:
    """Host-side inputs of one forward.

    `logits_rows` lists the packed-token rows whose logits the engine reads. `sample_rows[i]`
    indexes `logits_rows` for sampling sequence i's next token, or is -1 when its chunk did not
    reach the end of its tokens; `logprob_rows[i]` lists (index into `logits_rows`, token id that
    follows that position) for sequences that asked for prompt log-probabilities.
    `placeholders` lists (packed-token row, sequence) for input tokens the previous forward
    sampled and the host has not read yet: the runner copies them in on the device.
    `prefix_groups` lists the sequences whose attention may read a shared cached prefix once.
    """

    input_ids: list[int]
    starts: list[int]  # position of each sequence's first new token (its num_computed)
    extend_lens: list[int]
    seq_lens: list[int]
    slots: list[torch.Tensor]  # each sequence's KV slots, through its new tokens
    logits_rows: list[int]
    sample_rows: list[int]
    logprob_rows: list[list[tuple[int, int]]]
    placeholders: list[tuple[int, Sequence]] = field(default_factory=list)
    prefix_groups: list[PrefixGroup] = field(default_factory=list)

    @property
    def is_decode(self) -> bool:
        """Every sequence computes one token (each computes at least one, so T == B says it)."""
        return len(self.input_ids) == len(self.seq_lens)

    @property
    def kv_entries(self) -> int:
        return sum(self.seq_lens)


def plan_rows(batch: ScheduledBatch, grouper: PrefixGrouper | None = None) -> StepRows:
    """The one pass over the batch's sequences; it runs before every forward, with the GPU idle,
    so it does no per-sequence tensor work beyond taking each slot list as it is. A `grouper`
    groups sequences sharing a long cached prefix (prefix_groups.py)."""
    rows = StepRows(
        [], [seq.num_computed for seq in batch.seqs], list(batch.extend_lens), [], [], [], [], []
    )
    offset = 0
    for seq, start, n in zip(batch.seqs, rows.starts, batch.extend_lens):
        end = start + n
        tokens = seq.token_ids
        rows.input_ids.extend(tokens[start:end])
        rows.seq_lens.append(end)
        slots = seq.slots
        rows.slots.append(slots if slots.shape[0] == end else slots[:end])
        scored = _scored_positions(seq, start, end)
        if scored:
            first = len(rows.logits_rows)
            rows.logprob_rows.append([(first + k, tokens[p + 1]) for k, p in enumerate(scored)])
            rows.logits_rows.extend(offset + p - start for p in scored)
        else:
            rows.logprob_rows.append([])
        if end == len(tokens) and tokens[-1] == PLACEHOLDER:
            rows.placeholders.append((offset + n - 1, seq))
        if end == len(tokens) and seq.remaining_tokens > 0:
            rows.sample_rows.append(len(rows.logits_rows))
            rows.logits_rows.append(offset + n - 1)
        else:
            rows.sample_rows.append(-1)
        offset += n
    if grouper is not None:
        rows.prefix_groups = grouper(batch.seqs, batch.extend_lens)
    return rows


def _scored_positions(seq: Sequence, start: int, end: int) -> range:
    """Positions in [start, end) whose logits score the next prompt token (select)."""
    first = seq.request.logprob_start
    if first is None:
        return range(0)
    return range(max(start, first - 1), min(end, seq.prompt_len - 1))


def fill(views: dict[str, torch.Tensor], rows: StepRows, pad_to: int) -> None:
    """Write `rows` into host `views` (see StepLayout.views) as a batch of `pad_to` sequences.

    Padding rows (decode batches only) are one-token sequences at position 0 that write their
    K/V to the KV pool's scratch slot 0, which is never handed out, and attend to it alone: they
    compute garbage that nothing reads, and no real sequence's memory is touched. The arithmetic
    is numpy's, single-threaded: torch's CPU ops on a few hundred items sometimes waited
    milliseconds on their thread pool.
    """
    batch = len(rows.seq_lens)
    pad = pad_to - batch
    if pad < 0 or (pad and not rows.is_decode):
        raise ValueError(f"only decode batches are padded; got {batch} sequences for {pad_to} rows")
    out = {name: view.numpy() for name, view in views.items()}
    tokens = len(rows.input_ids) + pad
    ext = np.array(rows.extend_lens + [1] * pad, dtype=np.int64)
    lens = np.array(rows.seq_lens + [1] * pad, dtype=np.int64)
    starts = np.array(rows.starts + [0] * pad, dtype=np.int64)
    qo_indptr, kv_indptr = _exclusive_cumsum(ext), _exclusive_cumsum(lens)
    out["qo_indptr"][: pad_to + 1] = qo_indptr
    out["kv_indptr"][: pad_to + 1] = kv_indptr
    out["seq_lens"][:pad_to] = lens
    out["extend_lens"][:pad_to] = ext
    out["input_ids"][: len(rows.input_ids)] = rows.input_ids
    out["input_ids"][len(rows.input_ids) : tokens] = 0
    kv_indices = views["kv_indices"][: kv_indptr[-1]]
    torch.cat([*rows.slots, torch.zeros(pad, dtype=torch.int64)], out=kv_indices)
    # Token t of sequence b is at position starts[b] + (t - qo_indptr[b]), and its K/V goes to
    # entry kv_indptr[b] + position of b's KV list (the new tokens end the list).
    seq_of_token = np.repeat(np.arange(pad_to), ext)
    positions = np.arange(tokens) + (starts - qo_indptr[:-1])[seq_of_token]
    out["positions"][:tokens] = positions
    out_entries = kv_indptr[:-1][seq_of_token] + positions
    np.take(kv_indices.numpy(), out_entries, out=out["out_slots"][:tokens])
    out["logits_rows"][: len(rows.logits_rows)] = rows.logits_rows
    fill_tables(out, rows.prefix_groups, qo_indptr)


def metadata(views: dict[str, torch.Tensor], rows: StepRows, batch: int) -> AttentionMetadata:
    """Attention metadata over device `views` for the first `batch` sequences (padding included)."""
    pad = batch - len(rows.seq_lens)
    tokens = len(rows.input_ids) + pad
    return AttentionMetadata(
        qo_indptr=views["qo_indptr"][: batch + 1],
        kv_indptr=views["kv_indptr"][: batch + 1],
        kv_indices=views["kv_indices"],
        out_slots=views["out_slots"][:tokens],
        seq_lens=views["seq_lens"][:batch],
        extend_lens=views["extend_lens"][:batch],
        seq_lens_cpu=rows.seq_lens + [1] * pad,
        extend_lens_cpu=rows.extend_lens + [1] * pad,
        page_size=1,
        shared_prefix=_shared_prefix(views, rows, batch, tokens),
    )


def _shared_prefix(
    views: dict[str, torch.Tensor], rows: StepRows, batch: int, tokens: int
) -> SharedPrefixTables | None:
    """The step's shared-prefix tables, or None when attention need not look at them.

    A decode of at least MIN_ROWS sequences always carries them (no tiles when nothing is
    shared), so that one CUDA graph captured per batch size serves steps with and without
    shared prefixes; any other forward carries them only when a group exists."""
    if not rows.prefix_groups and not (rows.is_decode and batch >= MIN_ROWS):
        return None
    tables = {name: views[name] for name in TABLE_FIELDS}
    tables["prefix_lens"] = tables["prefix_lens"][:batch]
    tables["tile_tokens"] = tables["tile_tokens"][:tokens]
    return SharedPrefixTables(**tables, num_tiles=max_tiles(tokens, batch))


def _exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape[0] + 1, dtype=x.dtype)
    np.cumsum(x, out=out[1:])
    return out
