"""Shared-prefix (cascade) attention tables: which query tokens read one common cached prefix.

When many sequences of a forward share a long cached prefix (few-shot rows over one set of
examples), their KV lists begin with the very same slots. A backend that reads those slots once
for all of them, in tiles of `TILE_TOKENS` query tokens, and attends each sequence's own suffix
separately, merging the two by log-sum-exp, reads the prefix once per tile instead of once per
sequence. These tables say, per forward, which prefix each tile reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

TILE_TOKENS = 16  # query tokens per prefix tile: with 4 q heads per KV head, 64 rows of a tl.dot
MIN_ROWS = 8  # a group of fewer sequences saves too few prefix reads to pay its extra launch
MIN_PREFIX = 256  # nor does a shorter prefix (one split of the decode kernel's KV is 256 positions)
SHORT_EXTEND = 16  # sequences computing more new tokens already share each KV read in a block


@dataclass(frozen=True)
class PrefixGroup:
    """Sequences (batch indices) whose KV lists begin with the same `prefix_len` slots."""

    prefix_len: int
    members: tuple[int, ...]


@dataclass(frozen=True)
class SharedPrefixTables:
    """Device tables of one forward (all int32). Tile i covers query tokens
    `tile_tokens[tile_first[i] : tile_first[i] + tile_count[i]]`, which attend to positions
    `0 .. tile_len[i] - 1` of sequence `tile_leader[i]`'s KV list; a sequence with `prefix_lens[b]`
    > 0 attends to the rest of its list itself. Tiles with `tile_count` 0 do nothing, so a
    CUDA graph launches `num_tiles` programs whatever the groups of the step it replays."""

    prefix_lens: torch.Tensor  # [B]
    tile_tokens: torch.Tensor  # [T]
    tile_first: torch.Tensor  # [>= num_tiles]
    tile_count: torch.Tensor
    tile_leader: torch.Tensor
    tile_len: torch.Tensor
    num_tiles: int


def max_tiles(num_tokens: int, num_seqs: int) -> int:
    """Tiles any grouping of a forward can need: each group of >= MIN_ROWS sequences leaves at
    most one tile part-filled. Never more than `num_tokens` (each tile holds a token)."""
    return min(num_tokens, -(-num_tokens // TILE_TOKENS) + num_seqs // MIN_ROWS)


TABLE_FIELDS = ("prefix_lens", "tile_tokens", "tile_first", "tile_count", "tile_leader", "tile_len")


def fill_tables(
    out: dict[str, np.ndarray], groups: list[PrefixGroup], qo_indptr: np.ndarray
) -> None:
    """Write the host tables of `groups` into `out` (int32 arrays at their capacities; every
    entry past the tiles in use is zeroed, so leftover tiles are empty)."""
    for name in TABLE_FIELDS:
        out[name][:] = 0
    token_base = tile_base = 0
    for group in groups:
        if len(group.members) < MIN_ROWS:
            raise ValueError(
                f"a shared-prefix group needs at least {MIN_ROWS} sequences (max_tiles counts on "
                f"it), got {len(group.members)}: leave smaller groups out"
            )
        members = np.asarray(group.members, dtype=np.int64)
        starts, lens = qo_indptr[members], qo_indptr[members + 1] - qo_indptr[members]
        n = int(lens.sum())
        offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens)
        out["tile_tokens"][token_base : token_base + n] = offsets + np.arange(n)
        out["prefix_lens"][members] = group.prefix_len
        tiles = -(-n // TILE_TOKENS)
        first = np.arange(tiles) * TILE_TOKENS
        span = slice(tile_base, tile_base + tiles)
        out["tile_first"][span] = token_base + first
        out["tile_count"][span] = np.minimum(TILE_TOKENS, n - first)
        out["tile_leader"][span] = group.members[0]
        out["tile_len"][span] = group.prefix_len
        token_base += n
        tile_base += tiles
