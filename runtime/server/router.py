"""Which data-parallel worker takes an online request: the longest cached prefix, unless the
load is uneven (SGLang's cache-aware router, over token ids instead of text).

The router cannot see inside the workers' radix caches, so it keeps an approximate copy: one
token trie per worker holding the prompts it has routed there, least recently used prompts
dropped past `max_tokens` (about what the worker's KV pool holds). A request goes to

1. the least loaded worker when loads are uneven: the busiest has more than
   `balance_abs` requests in flight above the idlest and more than `balance_rel` times as many;
2. otherwise the worker whose trie shares the longest prefix with it, when that covers more than
   `cache_threshold` of the prompt (ties: the less loaded);
3. otherwise the worker whose trie is smallest (the most room to cache a new prefix).

The chosen worker's trie then holds the prompt, so the next request sharing it follows.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RouterConfig:
    cache_threshold: float = 0.5
    balance_abs: int = 32
    balance_rel: float = 1.5
    max_tokens: int = 1 << 20


@dataclass(eq=False)
class _Node:
    parent: _Node | None
    token: int
    stamp: int = 0
    children: dict[int, _Node] = field(default_factory=dict)


class PrefixTree:
    """The token prefixes routed to one worker; `size` counts tokens (trie nodes)."""

    def __init__(self) -> None:
        self.root = _Node(None, -1)
        self.size = 0

    def match(self, ids: list[int]) -> int:
        """How many leading tokens of `ids` this worker is thought to hold."""
        node, depth = self.root, 0
        for token in ids:
            node = node.children.get(token)
            if node is None:
                break
            depth += 1
        return depth

    def insert(self, ids: list[int], stamp: int) -> None:
        node = self.root
        for token in ids:
            child = node.children.get(token)
            if child is None:
                child = node.children[token] = _Node(node, token)
                self.size += 1
            child.stamp = stamp
            node = child

    def evict(self, keep: int) -> None:
        """Drop least recently routed leaves until at most `keep` tokens remain."""
        order = itertools.count()
        leaves = [(n.stamp, next(order), n) for n in self._nodes() if not n.children]
        heapq.heapify(leaves)
        while self.size > keep and leaves:
            _, _, node = heapq.heappop(leaves)
            parent = node.parent
            del parent.children[node.token]
            self.size -= 1
            if parent is not self.root and not parent.children:
                heapq.heappush(leaves, (parent.stamp, next(order), parent))

    def _nodes(self) -> list[_Node]:
        out, todo = [], list(self.root.children.values())
        while todo:
            node = todo.pop()
            out.append(node)
            todo.extend(node.children.values())
        return out


class PrefixRouter:
    """Routes requests over `workers` workers; `route` is called once per request."""

    def __init__(self, workers: int, config: RouterConfig | None = None) -> None:
        self.config = config or RouterConfig()
        self.trees = [PrefixTree() for _ in range(workers)]
        self._clock = itertools.count(1)

    def route(self, ids: list[int], loads: list[int]) -> int:
        """The worker for a prompt `ids`, given each worker's requests in flight."""
        cfg = self.config
        idle, busy = min(loads), max(loads)
        if busy - idle > cfg.balance_abs and busy > cfg.balance_rel * idle:
            rank = loads.index(idle)
        else:
            matches = [tree.match(ids) for tree in self.trees]
            best = max(range(len(loads)), key=lambda r: (matches[r], -loads[r]))
            if matches[best] > cfg.cache_threshold * len(ids):
                rank = best
            else:
                rank = min(range(len(loads)), key=lambda r: (self.trees[r].size, loads[r]))
        tree = self.trees[rank]
        tree.insert(ids, next(self._clock))
        if tree.size > cfg.max_tokens:
            tree.evict(cfg.max_tokens * 3 // 4)  # room for several more before the next walk
        return rank
