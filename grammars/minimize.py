"""DFA minimization (Moore's partition refinement, vectorized) and alphabet compaction.

Why Moore rather than Hopcroft: each refinement round is a few numpy calls over the whole table,
so the Python overhead is per round, not per state; constraint DFAs converge in few rounds except
along long runs of look-alike states (e.g. `[^"]{0,200}`), where a round costs microseconds.
"""

from __future__ import annotations

import numpy as np

from lmc.grammars.dfa import CharDFA
from lmc.grammars.moore import refine
from lmc.grammars.rows import row_groups


def minimize(
    trans: np.ndarray, tags: list[frozenset[int]], starts: tuple[int, ...], classes: tuple[int, ...]
) -> CharDFA:
    """The minimal DFA of a trimmed DFA, states renumbered breadth-first from 0 (so equal
    languages give byte-identical tables), with classes that no state tells apart merged."""
    block = _refine(trans, tags)
    reps = np.unique(block, return_index=True)[1]
    quotient = np.where(trans[reps] >= 0, block[np.maximum(trans[reps], 0)], -1)
    order = _bfs_order(quotient, int(block[0]))
    remap = np.full(len(reps) + 1, -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    table = remap[quotient[order]]
    new_tags = tuple(tags[int(reps[b])] for b in order)
    return _merge_columns(table, new_tags, starts, classes)


def _refine(trans: np.ndarray, tags: list[frozenset[int]]) -> np.ndarray:
    """Block id per state: states in one block accept the same strings with the same tags."""
    tag_ids: dict[frozenset[int], int] = {}
    return refine(trans, np.array([tag_ids.setdefault(t, len(tag_ids)) for t in tags], dtype=np.int64))


def _bfs_order(table: np.ndarray, start: int) -> list[int]:
    rows = table.tolist()
    seen = {start}
    order = [start]
    for s in order:
        for t in rows[s]:
            if t >= 0 and t not in seen:
                seen.add(t)
                order.append(t)
    return order


def _merge_columns(
    table: np.ndarray, tags: tuple[frozenset[int], ...], starts: tuple[int, ...], classes: tuple[int, ...]
) -> CharDFA:
    """Collapse classes with identical columns, and adjacent intervals of the same class."""
    new_class = row_groups(table.T)
    columns = table.T[np.unique(new_class, return_index=True)[1]]
    merged_starts: list[int] = []
    merged_classes: list[int] = []
    for lo, c in zip(starts, classes):
        nc = int(new_class[c])
        if not merged_classes or merged_classes[-1] != nc:
            merged_starts.append(lo)
            merged_classes.append(nc)
    trans = np.ascontiguousarray(columns.T, dtype=np.int32)
    return CharDFA(tuple(merged_starts), tuple(merged_classes), trans, tags)
