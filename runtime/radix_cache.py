"""RadixAttention's prefix cache: a radix tree from token runs to the KV slots that hold them.

Requests that share a prompt prefix reuse its KV instead of recomputing it. Ownership rule: every
allocated slot is held either by the tree or by exactly one running request; a node with
lock_ref > 0 is never evicted, because a running request reads its slots. With a host tier
(`kv_tier.py`), an evicted leaf's KV is copied to host memory before its slots are freed, and a
match that ends where a stored leaf begins loads it back into fresh slots.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence

import torch

from lmc.runtime.kv_pool import KVPool
from lmc.runtime.kv_tier import HostTier
from lmc.runtime.radix_node import RadixStats, TreeNode, format_tree

_EMPTY = torch.empty(0, dtype=torch.int64)


def common_prefix_len(key: Sequence[int], tokens: Sequence[int], start: int = 0, end: int | None = None) -> int:
    """Length of the common prefix of `key` and `tokens[start:end]`.

    Runs are compared as slices, at C speed: the whole first (the usual case), then halves of
    the part that differs, so a prompt that leaves a 1 000-token edge near its end costs about
    ten slice comparisons instead of a thousand Python steps."""
    n = min(len(key), (len(tokens) if end is None else end) - start)
    if tuple(tokens[start : start + n]) == tuple(key[:n]):
        return n
    lo, hi = 0, n  # key[:lo] matches; the first difference is in [lo, hi)
    while hi - lo > 8:
        mid = (lo + hi) // 2
        if tuple(tokens[start + lo : start + mid]) == tuple(key[lo:mid]):
            lo = mid
        else:
            hi = mid
    while lo < hi and key[lo] == tokens[start + lo]:
        lo += 1
    return lo


class RadixCache:
    """Token-prefix tree -> KV slot ids with LRU eviction of unlocked leaves.

    `evictable_size`/`protected_size` are counters kept up to date by every mutation. Eviction
    pops a heap of (last_access, leaf) entries that is never rebuilt per call: an entry is pushed
    whenever a node becomes an unlocked leaf or such a leaf is touched, and stale entries (the
    node gained children, was locked, touched again, or evicted) are skipped when popped.
    """

    def __init__(self, pool: KVPool, enabled: bool = True, tier: HostTier | None = None) -> None:
        self.pool = pool
        self.enabled = enabled
        self.tier = tier
        self.stats = RadixStats()
        self._clear()

    def _clear(self) -> None:
        self.root = TreeNode(key=(), slots=_EMPTY, parent=None)
        self._clock = 0
        self._evictable = 0
        self._protected = 0
        self._num_nodes = 0
        self._heap: list[tuple[int, int, TreeNode]] = []
        self._seq = itertools.count()  # heap tie-breaker: nodes themselves are not ordered

    # ---- lookups -------------------------------------------------------------------------
    def match_prefix(
        self, tokens: Sequence[int], start: TreeNode | None = None, depth: int = 0
    ) -> tuple[torch.Tensor, TreeNode]:
        """Slots of the longest cached prefix of `tokens` and the node where it ends (splitting an
        edge if the match ends mid-edge). Touches last_access along the path. `start` and `depth`
        may be what `peek_match` returned for these tokens: the walk then compares only the
        tokens past that node, which stays valid as `peek_match` says."""
        if not self.enabled:
            return _EMPTY, self.root
        slots, node = self._match(tokens, start, depth)
        if self.tier is not None:
            slots, node = self._load_from_host(tokens, slots, node)
        self.stats.match_calls += 1
        self.stats.matched_tokens += slots.numel()
        return slots, node

    def _match(
        self, tokens: Sequence[int], start: TreeNode | None = None, depth: int = 0
    ) -> tuple[torch.Tensor, TreeNode]:
        self._clock += 1
        if not self._resumable(start, depth, len(tokens)):
            start, depth = self.root, 0
        parts = []
        above = start
        while above is not self.root:  # the path down to `start`, as a walk from the root touches it
            self._touch(above)
            parts.append(above.slots)
            above = above.parent
        parts.reverse()
        node, pos = start, depth
        while pos < len(tokens) and (child := node.children.get(tokens[pos])) is not None:
            n = common_prefix_len(child.key, tokens, pos)
            if n < len(child.key):
                child = self._split(child, n)
            self._touch(child)
            parts.append(child.slots)
            node, pos = child, pos + n
        return (torch.cat(parts) if parts else _EMPTY), node

    def _resumable(self, start: TreeNode | None, depth: int, limit: int) -> bool:
        """Whether a walk may resume at `start` (from `peek_match`, at `depth`): it is still in
        the tree (eviction detaches what it removes) and within the tokens looked at."""
        return start is not None and depth <= limit and (start is self.root or start.parent is not None)

    def peek_match(
        self, tokens: Sequence[int], limit: int, start: TreeNode | None = None, depth: int = 0
    ) -> tuple[TreeNode, int, int]:
        """The longest cached prefix of `tokens[:limit]`, leaving the tree as it is (no split, no
        LRU touch): the deepest node it covers whole, that node's depth, and how many tokens it
        matches on into the next edge. The walk resumes at `start` (a node this returned for the
        same tokens, at `depth`) while that node is still in the tree, so asking again after the
        tree changed costs only the new part: eviction removes leaves only, and a split keeps
        every node's depth."""
        if not self.enabled:
            return self.root, 0, 0
        if self._resumable(start, depth, limit):
            node = start
        else:
            node, depth = self.root, 0
        while depth < limit and (child := node.children.get(tokens[depth])) is not None:
            n = common_prefix_len(child.key, tokens, depth, limit)
            if n < len(child.key):
                return node, depth, n
            node, depth = child, depth + n
        return node, depth, 0

    # ---- locks ---------------------------------------------------------------------------
    def lock(self, node: TreeNode) -> None:
        """Pin `node` and its ancestors so eviction leaves them (and their slots) alone."""
        while node is not self.root:
            if node.lock_ref == 0:
                self._evictable -= len(node.key)
                self._protected += len(node.key)
            node.lock_ref += 1
            node = node.parent

    def unlock(self, node: TreeNode) -> None:
        while node is not self.root:
            if node.lock_ref <= 0:
                raise RuntimeError(f"unlock of an unlocked node (key starts {node.key[:8]})")
            node.lock_ref -= 1
            if node.lock_ref == 0:
                self._protected -= len(node.key)
                self._evictable += len(node.key)
                self._push_if_evictable(node)
            node = node.parent

    # ---- insertion -----------------------------------------------------------------------
    def insert(self, tokens: Sequence[int], slots: torch.Tensor) -> int:
        """Insert; returns how many leading tokens were already in the tree (the caller keeps its
        slots for those positions; the tree takes the rest). Frees nothing."""
        if not self.enabled:
            raise RuntimeError(
                "insert() on a disabled RadixCache; use cache_request(), which frees"
            )
        if len(tokens) != slots.numel():
            raise ValueError(f"insert got {len(tokens)} tokens but {slots.numel()} slots")
        self._clock += 1
        return self._insert_below(self.root, 0, tokens, slots)[0]

    def _insert_below(
        self, node: TreeNode, pos: int, tokens: Sequence[int], slots: torch.Tensor
    ) -> tuple[int, TreeNode, list[torch.Tensor]]:
        """Insert `tokens[pos:]` under `node`, which ends at depth `pos` on `tokens`' path. Returns
        how many leading tokens the tree already had, the node that now ends at len(tokens), and
        the tree's slots for the positions from `pos` to that count, edge by edge."""
        had: list[torch.Tensor] = []
        while pos < len(tokens):
            child = node.children.get(tokens[pos])
            if child is None:
                leaf = TreeNode(
                    tuple(tokens[pos:]), slots[pos:].clone(), node, last_access=self._clock
                )
                node.children[tokens[pos]] = leaf
                self._num_nodes += 1
                self._evictable += len(leaf.key)
                self.stats.inserted_tokens += len(leaf.key)
                self._push_if_evictable(leaf)
                return pos, leaf, had
            n = common_prefix_len(child.key, tokens, pos)
            if n < len(child.key):
                child = self._split(child, n)
            self._touch(child)
            had.append(child.slots)
            node, pos = child, pos + n
        return pos, node, had

    def cache_request(
        self, tokens: Sequence[int], slots: torch.Tensor, node: TreeNode, finished: bool
    ) -> tuple[torch.Tensor, TreeNode]:
        """Hand a request's computed KV to the tree; see the module docstring's ownership rule.

        `node` (locked by the request) ends at depth m: slots[:m] already belong to the tree, so
        the insertion starts there instead of comparing the prefix again. Positions m..p that the
        tree already had (another request computed them) are freed here. Unfinished requests get
        back the tree's slots for all of `tokens` and a newly locked node.
        """
        if not self.enabled:
            if finished:
                self.pool.free(slots)
                return _EMPTY, self.root
            return slots, self.root
        if len(tokens) != slots.numel():
            raise ValueError(f"cache_request got {len(tokens)} tokens but {slots.numel()} slots")
        self._clock += 1
        m = self._touch_path(node)  # as a walk from the root would have touched it
        p, end, had = self._insert_below(node, m, tokens, slots)
        if p > m:
            self.pool.free(slots[m:p])
        self.unlock(node)
        if finished:
            return _EMPTY, self.root
        self._clock += 1
        self._touch_path(end)
        new_slots = slots.clone()
        if p > m:
            new_slots[m:p] = torch.cat(had)
        self.lock(end)
        return new_slots, end

    # ---- eviction ------------------------------------------------------------------------
    def evict(self, num_tokens: int) -> int:
        """Free at least `num_tokens` slots if possible, least-recently-used unlocked leaf first;
        a parent whose last child goes becomes a candidate itself. Returns slots freed."""
        freed: list[torch.Tensor] = []
        count = 0
        while count < num_tokens and self._heap:
            stamp, _, node = heapq.heappop(self._heap)
            if not self._is_evictable_leaf(node) or stamp != node.last_access:
                continue
            if self.tier is not None:
                self.tier.store(tuple(self._path(node)), node.key, node.slots)
            freed.append(node.slots)
            count += len(node.key)
            self._evictable -= len(node.key)
            self._num_nodes -= 1
            parent = node.parent
            del parent.children[node.key[0]]
            node.parent = None
            self._push_if_evictable(parent)
        if freed:
            self.pool.free(torch.cat(freed))
        self.stats.evicted_tokens += count
        return count

    @property
    def evictable_size(self) -> int:
        return self._evictable

    @property
    def protected_size(self) -> int:
        return self._protected

    def total_size(self) -> int:
        return self._evictable + self._protected

    def reset(self) -> None:
        """Drop every node and free its slots; only legal when no request holds a lock."""
        if self._protected:
            raise RuntimeError(f"reset() while {self._protected} cached tokens are locked")
        nodes = self._walk(self.root)
        parts = [n.slots for n in nodes]
        for n in nodes:  # detached, like evicted nodes: `peek_match` never resumes from one
            n.parent = None
        if parts:
            self.pool.free(torch.cat(parts))
        self._clear()
        self.stats = RadixStats()

    def dump(
        self,
        tokenizer_decode: Callable[[list[int]], str] | None = None,
        max_depth: int | None = None,
    ) -> str:
        """The tree as indented text: each edge's tokens, length, lock_ref and LRU clock."""
        head = f"root evictable={self._evictable} protected={self._protected}"
        return "\n".join([head, *format_tree(self.root, tokenizer_decode, max_depth)])

    # ---- internals -----------------------------------------------------------------------
    def _split(self, child: TreeNode, n: int) -> TreeNode:
        """Cut `child`'s edge after n tokens; the new upper node inherits its locks and clock."""
        mid = TreeNode(
            child.key[:n],
            child.slots[:n],
            child.parent,
            {child.key[n]: child},
            lock_ref=child.lock_ref,
            last_access=child.last_access,
        )
        child.parent.children[child.key[0]] = mid
        child.key, child.slots, child.parent = child.key[n:], child.slots[n:], mid
        self._num_nodes += 1
        return mid

    def _touch(self, node: TreeNode) -> None:
        node.last_access = self._clock
        self._push_if_evictable(node)

    def _is_evictable_leaf(self, node: TreeNode) -> bool:
        return node.parent is not None and not node.children and node.lock_ref == 0

    def _push_if_evictable(self, node: TreeNode) -> None:
        if not self._is_evictable_leaf(node):
            return
        if len(self._heap) > 4 * self._num_nodes + 64:  # amortized: rebuild without stale entries
            leaves = [n for n in self._walk(self.root) if self._is_evictable_leaf(n)]
            self._heap = [(n.last_access, next(self._seq), n) for n in leaves]
            heapq.heapify(self._heap)
        heapq.heappush(self._heap, (node.last_access, next(self._seq), node))

    def _load_from_host(
        self, tokens: Sequence[int], slots: torch.Tensor, node: TreeNode
    ) -> tuple[torch.Tensor, TreeNode]:
        """Extend a match with the host tier's entries, while one continues it and device slots
        can be found (evicting other leaves; the match so far is locked meanwhile)."""
        while (entry := self.tier.take(tokens, slots.numel())) is not None:
            n = entry.matched(tokens, slots.numel())
            self.lock(node)
            new = self.pool.alloc(n)
            if new is None:
                self.stats.evicted_for_host_loads += self.evict(n - self.pool.num_free)
                new = self.pool.alloc(n)
            self.unlock(node)
            if new is None:
                self.tier.give_back(entry)
                break
            self.tier.load(entry, n, new)
            end = slots.numel() + n
            self.insert(tokens[:end], torch.cat([slots, new]))
            slots, node = self._match(tokens)
        return slots, node

    def _path(self, node: TreeNode) -> list[int]:
        """The tokens before `node`'s edge."""
        parts = []
        while (node := node.parent) is not self.root:
            parts.append(node.key)
        return [t for key in reversed(parts) for t in key]

    def _touch_path(self, node: TreeNode) -> int:
        """Touch `node` and its ancestors at the current clock; returns its depth."""
        depth = 0
        while node is not self.root:
            self._touch(node)
            depth += len(node.key)
            node = node.parent
        return depth

    def _walk(self, node: TreeNode) -> list[TreeNode]:
        out, stack = [], list(node.children.values())
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(n.children.values())
        return out
