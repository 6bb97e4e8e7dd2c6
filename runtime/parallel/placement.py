"""Which data-parallel worker runs which row, decided before the run from the plan's prefix tree.

Every worker has its own radix cache, so a prefix that rows on two workers share is computed
twice. The planned placement sorts the rows by their known request prompts (a depth-first walk of
the rows' token prefix tree, as the `order` pass does), then cuts that order into one contiguous
shard per worker: each cut lies where the rows on either side share the fewest tokens, among the
places that keep the shards' predicted prefill tokens within a tolerance of an equal split. Rows
that share a prefix so stay together; a dynamic region runs inside its row, so on its row's
worker. Round-robin placement (row i on worker i mod N) is the baseline it is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lmc.plan.cache_model import (
    ModeledRequest,
    PlaceholderIds,
    Tokenize,
    instantiate_rows,
    predict,
    row_requests,
)
from lmc.plan.file import Plan
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.radix_cache import common_prefix_len

POLICIES = ("planned", "round-robin")
# A cut may move this share of one shard's predicted cost away from an equal split to reach a
# place where the rows on either side share fewer tokens.
BALANCE_TOLERANCE = 0.25


@dataclass(frozen=True)
class Placement:
    """One list of jobs per worker (each in input order) and each shard's predicted prefill
    tokens: the compiler's cache model run on that shard's rows alone."""

    policy: str
    shards: list[list[RowJob]]
    predicted_prefill: list[int]

    @property
    def total_predicted_prefill(self) -> int:
        return sum(self.predicted_prefill)


def place(plan: Plan, jobs: Sequence[RowJob], workers: int, tokenize: Tokenize, roles: Any = None,
          policy: str = "planned") -> Placement:
    """Split `jobs` over `workers` shards by `policy` ("planned" or "round-robin")."""
    if workers < 1:
        raise ValueError(f"data parallelism needs at least one worker, got {workers}")
    if policy not in POLICIES:
        raise ValueError(f"unknown placement policy {policy!r}; choose one of {list(POLICIES)}")
    if policy == "round-robin":
        shards = [list(jobs[w::workers]) for w in range(workers)]
    else:
        shards = _planned(plan, list(jobs), workers, tokenize, roles)
    return Placement(policy, shards, [predicted_prefill(plan, s, tokenize, roles) for s in shards])


def predicted_prefill(plan: Plan, jobs: Sequence[RowJob], tokenize: Tokenize, roles: Any = None) -> int:
    """Prompt tokens the cache model predicts one engine must compute for these rows."""
    rows = [j.fields for j in jobs if j.fields is not None]
    prediction = predict(plan.graph, rows, tokenize, roles)
    return prediction.prompt_tokens - prediction.cached_tokens


def _planned(plan: Plan, jobs: list[RowJob], workers: int, tokenize: Tokenize, roles: Any) -> list[list[RowJob]]:
    runnable = [j for j in jobs if j.fields is not None]
    programs = instantiate_rows(plan.graph, [j.fields for j in runnable], roles)
    ids = PlaceholderIds()
    keyed = []
    for position, (job, program) in enumerate(zip(runnable, programs)):
        requests = row_requests(program, position, tokenize, ids) if program is not None else []
        keyed.append((tuple(r.prompt for r in requests), job.index, job, requests))
    keyed.sort(key=lambda k: (k[0], k[1]))
    trie = _PrefixTrie()
    costs = [sum(trie.insert(r) for r in requests) for _, _, _, requests in keyed]
    shared = [0] + [common_prefix_len(a[0][0], b[0][0]) if a[0] and b[0] else 0 for a, b in zip(keyed, keyed[1:])]
    cuts = _cuts(costs, shared, workers)
    shards = [sorted((k[2] for k in keyed[start:end]), key=lambda j: j.index)
              for start, end in zip([0, *cuts], [*cuts, len(keyed)])]
    unreadable = [j for j in jobs if j.fields is None]  # they only report their error
    shards[0] = sorted(shards[0] + unreadable, key=lambda j: j.index)
    return shards


def _cuts(costs: list[int], shared: list[int], workers: int) -> list[int]:
    """`workers - 1` increasing cut positions (a cut at i starts a shard with row i)."""
    total = sum(costs)
    before = [0]
    for c in costs:
        before.append(before[-1] + c)
    tolerance = BALANCE_TOLERANCE * total / workers
    cuts: list[int] = []
    for k in range(1, workers):
        lowest = (cuts[-1] if cuts else 0) + 1
        highest = len(costs) - (workers - k)  # leave at least one row for each later shard
        if lowest > highest:
            cuts.append(min(lowest, len(costs)))
            continue
        target = total * k / workers
        window = [i for i in range(lowest, highest + 1) if abs(before[i] - target) <= tolerance]
        candidates = window or [min(range(lowest, highest + 1), key=lambda i: abs(before[i] - target))]
        cuts.append(min(candidates, key=lambda i: (shared[i], abs(before[i] - target))))
    return cuts


class _PrefixTrie:
    """Token sequences inserted one by one; `insert` returns the prompt tokens not yet present
    (what an engine that saw the earlier sequences must still compute)."""

    def __init__(self) -> None:
        self.root: dict[int, Any] = {}

    def insert(self, request: ModeledRequest) -> int:
        node, computed = self.root, 0
        for i, token in enumerate(request.prompt + request.output):
            child = node.get(token)
            if child is None:
                child = node[token] = {}
                computed += i < len(request.prompt)
            node = child
        return computed


