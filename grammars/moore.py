"""Moore's partition refinement, the step that minimization and token-table sharing both take.

A block per state is refined by the blocks its edges lead to until nothing splits (or a number
of rounds has passed). Each numpy round costs tens of microseconds however small the table, and
a DFA with a counter (`( [a-z]+){2,8}`) needs a round per count, so tables of a few hundred
entries are refined in plain Python instead, where a round costs a few microseconds.
"""

from __future__ import annotations

import numpy as np

from lmc.grammars.rows import row_groups

SMALL_TABLE = 400  # entries of `trans` up to which a Python round is cheaper than a numpy one


def refine(trans: np.ndarray, block: np.ndarray, rounds: int | None = None) -> np.ndarray:
    """Block ids (dense) of the partition `block` refined by `trans[state, column]` (-1: no
    edge, which counts as a block of its own) until stable or after `rounds` rounds."""
    if trans.size <= SMALL_TABLE:
        return _refine_small(trans.tolist(), block.tolist(), rounds)
    count = len(np.unique(block))
    done = 0
    while rounds is None or done < rounds:
        succ = np.append(block, -1)[trans]  # a dead edge (-1) reads the appended -1
        new_block = row_groups(np.concatenate([block[:, None], succ], axis=1))
        new_count = int(new_block.max()) + 1
        if new_count == count:
            return new_block
        block, count, done = new_block, new_count, done + 1
    return block


def _refine_small(rows: list[list[int]], block: list[int], rounds: int | None) -> np.ndarray:
    count = len(set(block))
    done = 0
    while rounds is None or done < rounds:
        ids: dict[tuple[int, ...], int] = {}
        with_dead = [*block, -1]
        new_block = [ids.setdefault((b, *[with_dead[t] for t in row]), len(ids)) for b, row in zip(block, rows)]
        if len(ids) == count:
            break
        block, count, done = new_block, len(ids), done + 1
    ids_of = {b: k for k, b in enumerate(dict.fromkeys(block))}
    return np.array([ids_of[b] for b in block], dtype=np.int64)
