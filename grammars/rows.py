"""Grouping equal rows of an integer table, fast: the one primitive every partition step uses."""

from __future__ import annotations

from functools import cache

import numpy as np


def row_groups(table: np.ndarray) -> np.ndarray:
    """Group id per row (equal rows, equal ids; the ids are dense but in no promised order).

    Partition refinement calls this once per round, up to a few dozen rounds per compile, so it
    must not sort whole rows: each row is hashed to one 64-bit number (a random linear form,
    wrapping), and only those are sorted. The grouping is then checked against the rows
    themselves; on a collision the exact byte-string sort decides instead.
    """
    rows = np.ascontiguousarray(table)
    if rows.shape[1] == 0:
        return np.zeros(rows.shape[0], dtype=np.int64)
    keys = rows.astype(np.uint64) @ _weights(rows.shape[1]) if rows.shape[1] > 1 else rows[:, 0]
    first, groups = _sorted_groups(keys)
    if np.array_equal(rows[first[groups]], rows):
        return groups
    exact = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return np.unique(exact, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _sorted_groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(one index per distinct key, group id per key)`, ids in key order: what
    `np.unique(keys, return_index=True, return_inverse=True)` gives (up to which index of a
    group is returned) at a third of its cost, which matters at a few hundred rows a round."""
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    groups = np.empty(len(keys), dtype=np.int64)
    groups[order] = np.cumsum(new) - 1
    return order[new], groups


@cache
def _weights(width: int) -> np.ndarray:
    """Odd random multipliers (fixed seed: equal inputs give equal ids on every run)."""
    return np.random.default_rng(width).integers(0, 2**63, size=width, dtype=np.uint64) * 2 + 1
