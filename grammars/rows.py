"""Grouping equal rows of an integer table, fast: the one primitive every partition step uses."""

from __future__ import annotations

import numpy as np


def row_groups(table: np.ndarray) -> np.ndarray:
    """Group id per row (equal rows, equal ids; ids ordered like the rows' bytes).

    `np.unique(axis=0)` is exact but slow (it sorts structured records field by field); viewing
    each row as one opaque byte string gives the same grouping with a single memcmp sort.
    """
    rows = np.ascontiguousarray(table)
    if rows.shape[1] == 0:
        return np.zeros(rows.shape[0], dtype=np.int64)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return np.unique(keys, return_inverse=True)[1].reshape(-1).astype(np.int64)
