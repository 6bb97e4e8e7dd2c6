import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from lmc.runtime.kv_pool import KVPool
from lmc.runtime.radix_cache import RadixCache, TreeNode


def make(num_slots: int = 32, enabled: bool = True) -> tuple[KVPool, RadixCache]:
    pool = KVPool(
        num_slots, num_layers=1, num_kv_heads=1, head_dim=1, dtype=torch.float32, device="cpu"
    )
    return pool, RadixCache(pool, enabled=enabled)


def cached(cache: RadixCache, pool: KVPool, tokens: list[int]) -> torch.Tensor:
    """Put `tokens` in the tree as a finished request would; returns the slots it gave the tree."""
    prefix, node = cache.match_prefix(tokens)
    cache.lock(node)
    slots = torch.cat([prefix, pool.alloc(len(tokens) - len(prefix))])
    cache.cache_request(tokens, slots, node, finished=True)
    return slots


def path_tokens(node: TreeNode) -> list[int]:
    out: list[int] = []
    while node.parent is not None:
        out = list(node.key) + out
        node = node.parent
    return out


def test_match_mid_edge_splits_and_returns_the_split_node():
    pool, cache = make()
    slots = cached(cache, pool, [1, 2, 3, 4])
    got, node = cache.match_prefix([1, 2, 9])
    assert got.tolist() == slots[:2].tolist()
    assert node.key == (1, 2) and node.parent is cache.root
    assert list(node.children) == [3] and node.children[3].key == (3, 4)
    assert node.children[3].slots.tolist() == slots[2:].tolist()
    full, leaf = cache.match_prefix([1, 2, 3, 4, 5])
    assert full.tolist() == slots.tolist() and path_tokens(leaf) == [1, 2, 3, 4]
    assert cache.total_size() == 4


def test_match_of_unknown_and_empty_tokens():
    pool, cache = make()
    cached(cache, pool, [1, 2])
    for tokens in ([], [7, 1, 2]):
        got, node = cache.match_prefix(tokens)
        assert got.numel() == 0 and node is cache.root


def test_insert_reports_already_present_prefix_and_takes_the_rest():
    pool, cache = make()
    a = pool.alloc(3)
    assert cache.insert([5, 6, 7], a) == 0
    b = pool.alloc(5)
    assert cache.insert([5, 6, 7, 8, 9], b) == 3
    got, _ = cache.match_prefix([5, 6, 7, 8, 9])
    assert got.tolist() == a.tolist() + b[3:].tolist()
    assert cache.insert([5, 6], pool.alloc(2)) == 2
    assert cache.total_size() == 5


def test_tree_keeps_its_own_copy_of_inserted_slots():
    """The engine may pass a view of a reusable per-request table; overwriting it later must not
    change what the tree holds."""
    pool, cache = make()
    table = torch.zeros(8, dtype=torch.int64)
    table[:3] = pool.alloc(3)
    expect = table[:3].tolist()
    cache.insert([1, 2, 3], table[:3])
    table[:3] = 0
    assert cache.match_prefix([1, 2, 3])[0].tolist() == expect


def test_lock_protects_node_and_ancestors():
    pool, cache = make()
    cached(cache, pool, [1, 2, 3, 4])
    cached(cache, pool, [1, 2, 5, 6])
    _, node = cache.match_prefix([1, 2, 3, 4])
    cache.lock(node)
    assert cache.protected_size == 4 and cache.evictable_size == 2
    assert cache.evict(100) == 2  # only the [5, 6] branch may go
    assert cache.match_prefix([1, 2, 3, 4])[0].numel() == 4
    assert cache.match_prefix([1, 2, 5, 6])[0].numel() == 2
    cache.unlock(node)
    assert cache.protected_size == 0 and cache.evictable_size == 4
    assert cache.evict(100) == 4
    assert pool.num_free == pool.capacity


def test_unlock_without_lock_raises():
    pool, cache = make()
    cached(cache, pool, [1])
    _, node = cache.match_prefix([1])
    with pytest.raises(RuntimeError, match="unlock"):
        cache.unlock(node)


def test_eviction_is_lru_by_logical_clock():
    pool, cache = make()
    a, b, c = (cached(cache, pool, t) for t in ([1, 1], [2, 2], [3, 3]))
    cache.match_prefix([1, 1])  # a is now the most recently used
    assert cache.evict(1) == 2  # whole leaf [2, 2] goes
    assert cache.match_prefix([2, 2])[0].numel() == 0
    assert cache.evict(2) == 2
    assert cache.match_prefix([3, 3])[0].numel() == 0
    assert cache.match_prefix([1, 1])[0].tolist() == a.tolist()
    assert pool.num_free == pool.capacity - 2
    del b, c


def test_parent_becomes_leaf_after_its_children_are_evicted():
    pool, cache = make()
    cached(cache, pool, [1, 2, 3])
    cached(cache, pool, [1, 2, 4])
    cached(cache, pool, [9])
    assert cache.evict(2) == 2  # leaves [3] and [4] are the oldest
    assert cache.match_prefix([1, 2, 3])[0].numel() == 2  # [1, 2] survives, and is touched
    assert cache.evict(1) == 1  # so [9] goes before it
    assert cache.match_prefix([9])[0].numel() == 0
    assert cache.evict(1) == 2 and cache.total_size() == 0
    assert cache.stats.evicted_tokens == 5


def test_cache_request_unfinished_then_finished():
    pool, cache = make()
    tokens = [4, 5, 6]
    prefix, node = cache.match_prefix(tokens)
    cache.lock(node)
    slots = pool.alloc(3)
    new_slots, new_node = cache.cache_request(tokens, slots, node, finished=False)
    assert new_slots.tolist() == slots.tolist() and path_tokens(new_node) == tokens
    assert cache.protected_size == 3 and cache.evict(10) == 0
    tokens += [7, 8]  # next chunk of a chunked prefill
    slots = torch.cat([new_slots, pool.alloc(2)])
    out, root = cache.cache_request(tokens, slots, new_node, finished=True)
    assert out.numel() == 0 and root is cache.root
    assert cache.protected_size == 0 and cache.evictable_size == 5
    assert cache.match_prefix(tokens)[0].tolist() == slots.tolist()
    assert pool.num_free == pool.capacity - 5


def test_cache_request_frees_duplicate_slots_of_a_second_request():
    pool, cache = make()
    reqs = []
    for _ in range(2):  # both start before either caches: both compute [1, 2, 3]
        prefix, node = cache.match_prefix([1, 2, 3])
        cache.lock(node)
        reqs.append((pool.alloc(3), node))
    (sa, na), (sb, nb) = reqs
    cache.cache_request([1, 2, 3], sa, na, finished=True)
    assert pool.num_free == pool.capacity - 6
    slots, node = cache.cache_request([1, 2, 3, 4], torch.cat([sb, pool.alloc(1)]), nb, False)
    assert pool.num_free == pool.capacity - 4  # sb's three duplicates went back to the pool
    assert slots[:3].tolist() == sa.tolist() and path_tokens(node) == [1, 2, 3, 4]
    cache.unlock(node)
    assert cache.evict(100) == 4 and pool.num_free == pool.capacity


def test_disabled_cache_matches_nothing_and_frees_finished_requests():
    pool, cache = make(enabled=False)
    slots = pool.alloc(3)
    got, node = cache.match_prefix([1, 2, 3])
    assert got.numel() == 0 and node is cache.root
    cache.lock(node)
    kept, node = cache.cache_request([1, 2, 3], slots, node, finished=False)
    assert kept is slots and node is cache.root
    cache.cache_request([1, 2, 3], slots, node, finished=True)
    assert pool.num_free == pool.capacity
    assert cache.match_prefix([1, 2, 3])[0].numel() == 0 and cache.total_size() == 0
    with pytest.raises(RuntimeError, match="disabled"):
        cache.insert([1], pool.alloc(1))


def test_reset_frees_everything_but_refuses_while_locked():
    pool, cache = make()
    cached(cache, pool, [1, 2, 3])
    _, node = cache.match_prefix([1, 2])
    cache.lock(node)
    with pytest.raises(RuntimeError, match="locked"):
        cache.reset()
    cache.unlock(node)
    cache.reset()
    assert pool.num_free == pool.capacity and cache.total_size() == 0
    assert cache.match_prefix([1, 2])[0].numel() == 0


def test_dump_shows_keys_locks_and_depth_limit():
    pool, cache = make()
    cached(cache, pool, [1, 2, 3])
    cached(cache, pool, [1, 2, 4])
    _, node = cache.match_prefix([1, 2, 4])
    cache.lock(node)
    text = cache.dump()
    assert "[1, 2] len=2 lock=1" in text and "[3] len=1 lock=0" in text
    decoded = cache.dump(lambda ids: "".join("abcde"[i] for i in ids), max_depth=1)
    assert "'bc'" in decoded and "'d'" not in decoded


def test_stale_heap_entries_do_not_pile_up():
    pool, cache = make()
    cached(cache, pool, [1, 2])
    for _ in range(1000):
        cache.match_prefix([1, 2])
    assert len(cache._heap) < 200
    assert cache.evict(1) == 2


# ---- stateful: the cache and pool driven like an engine, against a dict of prefixes ----------


class EngineLike(RuleBasedStateMachine):
    """Requests start (match + lock + alloc), continue (chunked prefill: cache_request unfinished),
    finish, and eviction happens at random; a dict {token prefix: slot} is the reference tree.

    Each slot's K holds a marker for the prefix whose KV it stores, as a real model's write would:
    a locked slot evicted and reused by another request would show a foreign marker.
    """

    enabled = True
    alphabet = st.lists(st.integers(0, 2), min_size=0, max_size=5)

    def __init__(self) -> None:
        super().__init__()
        self.pool = KVPool(40, 1, 1, 1, torch.float32, "cpu")
        self.cache = RadixCache(self.pool, enabled=self.enabled)
        self.model: dict[tuple[int, ...], int] = {}  # prefix -> slot, as the tree should hold
        self.stamp: dict[tuple[int, ...], int] = {}  # prefix -> index of the op that last used it
        self.markers: dict[tuple[int, ...], float] = {}
        self.reqs: dict[int, dict] = {}  # rid -> tokens, slots, node, m (leading tree-owned slots)
        self.ops = 0
        self.next_rid = 0

    # -- helpers --
    def marker(self, prefix: tuple[int, ...]) -> float:
        return self.markers.setdefault(prefix, float(len(self.markers) + 1))

    def write(self, tokens: list[int], slots: torch.Tensor, start: int) -> None:
        for i in range(start, len(tokens)):
            self.pool.k_caches[0][int(slots[i]), 0, 0] = self.marker(tuple(tokens[: i + 1]))

    def model_match(self, tokens: list[int]) -> int:
        k = 0
        while k < len(tokens) and tuple(tokens[: k + 1]) in self.model:
            k += 1
        return k

    def touch(self, tokens: list[int], n: int) -> None:
        self.ops += 1
        for i in range(1, n + 1):
            self.stamp[tuple(tokens[:i])] = self.ops

    def locked(self) -> set[tuple[int, ...]]:
        return {tuple(r["tokens"][:i]) for r in self.reqs.values() for i in range(1, r["m"] + 1)}

    def tree_contents(self) -> dict[tuple[int, ...], int]:
        out: dict[tuple[int, ...], int] = {}
        stack = [(self.cache.root, ())]
        while stack:
            node, path = stack.pop()
            for i in range(len(node.key)):
                out[path + node.key[: i + 1]] = int(node.slots[i])
            stack += [(c, path + node.key) for c in node.children.values()]
        return out

    def do_evict(self, n: int) -> int:
        locked = self.locked()
        evictable = [p for p in self.model if p not in locked]
        freed = self.cache.evict(n)
        after = self.tree_contents()
        assert all(self.model.get(p) == s for p, s in after.items())
        gone = [p for p in self.model if p not in after]
        assert freed == len(gone) and not set(gone) & locked
        assert freed >= n if len(evictable) >= n else freed == len(evictable)
        if gone:  # LRU: nothing unlocked that survives is older than what was evicted
            newest_gone = max(self.stamp[p] for p in gone)
            assert all(self.stamp[p] >= newest_gone for p in after if p not in locked)
        for p in gone:
            del self.model[p], self.stamp[p]
        return freed

    def alloc(self, n: int) -> torch.Tensor | None:
        """Allocate as the engine would: evict from the tree first when the pool is short."""
        if n > self.pool.num_free:
            self.do_evict(n - self.pool.num_free)
        return self.pool.alloc(n)

    def hand_back(self, rid: int, extra: list[int], finished: bool) -> None:
        """Compute `extra` more tokens of request `rid`, then give its KV to the cache."""
        r = self.reqs[rid]
        new = self.alloc(len(extra))
        if new is None:
            return
        tokens, slots = r["tokens"] + extra, torch.cat([r["slots"], new])
        self.write(tokens, slots, len(r["tokens"]))
        free_before = self.pool.num_free
        p = self.model_match(tokens) if self.enabled else 0
        out, node = self.cache.cache_request(tokens, slots, r["node"], finished)
        if finished:
            assert out.numel() == 0 and node is self.cache.root
            del self.reqs[rid]
        if not self.enabled:
            assert node is self.cache.root
            assert self.pool.num_free == free_before + (len(tokens) if finished else 0)
            if not finished:
                assert out is slots
                r.update(tokens=tokens, slots=slots)
            return
        self.touch(tokens, len(tokens))
        assert self.pool.num_free == free_before + (p - r["m"])  # duplicates went back
        for i in range(p, len(tokens)):
            self.model[tuple(tokens[: i + 1])] = int(slots[i])
        if not finished:
            expect = [self.model[tuple(tokens[: i + 1])] for i in range(len(tokens))]
            assert out.tolist() == expect and path_tokens(node) == tokens
            r.update(tokens=tokens, slots=out, node=node, m=len(tokens))

    # -- rules --
    @rule(tokens=alphabet)
    def start(self, tokens: list[int]) -> None:
        prefix, node = self.cache.match_prefix(tokens)
        k = self.model_match(tokens) if self.enabled else 0
        self.touch(tokens, k)
        assert prefix.tolist() == [self.model[tuple(tokens[: i + 1])] for i in range(k)]
        assert path_tokens(node) == tokens[:k]
        self.cache.lock(node)
        rid, self.next_rid = self.next_rid, self.next_rid + 1
        # registered before allocating, so eviction below sees this request's lock
        self.reqs[rid] = dict(tokens=tokens[:k], slots=prefix, node=node, m=k)
        new = self.alloc(len(tokens) - k)
        if new is None:  # admission refused: give the lock back
            self.cache.unlock(node)
            del self.reqs[rid]
            return
        self.reqs[rid].update(tokens=list(tokens), slots=torch.cat([prefix, new]))
        self.write(tokens, self.reqs[rid]["slots"], k)

    @rule(data=st.data(), extra=alphabet, finished=st.booleans())
    def step(self, data: st.DataObject, extra: list[int], finished: bool) -> None:
        if not self.reqs:
            return
        rid = data.draw(st.sampled_from(sorted(self.reqs)))
        self.hand_back(rid, extra[:3], finished)

    @rule(tokens=alphabet)
    def peek(self, tokens: list[int]) -> None:
        """A scheduler ranking waiting requests matches without locking; it counts as a use."""
        prefix, _ = self.cache.match_prefix(tokens)
        k = self.model_match(tokens) if self.enabled else 0
        self.touch(tokens, k)
        assert prefix.tolist() == [self.model[tuple(tokens[: i + 1])] for i in range(k)]

    @rule(n=st.integers(0, 4))
    def evict(self, n: int) -> None:
        self.do_evict(n)

    # -- invariants --
    @invariant()
    def slots_are_accounted_for(self) -> None:
        private = [s for r in self.reqs.values() for s in r["slots"][r["m"] :].tolist()]
        held = list(self.model.values()) + private
        assert len(set(held)) == len(held) and 0 not in held
        assert self.pool.num_free + len(held) == self.pool.capacity
        free = self.pool.alloc(self.pool.num_free)
        assert not set(free.tolist()) & set(held)
        self.pool.free(free)

    @invariant()
    def tree_equals_model_and_kv_is_intact(self) -> None:
        assert self.tree_contents() == self.model
        for prefix, slot in self.model.items():
            assert self.pool.k_caches[0][slot, 0, 0] == self.marker(prefix)
        for r in self.reqs.values():
            for i, slot in enumerate(r["slots"].tolist()):
                assert self.pool.k_caches[0][slot, 0, 0] == self.marker(tuple(r["tokens"][: i + 1]))
            assert r["slots"][: r["m"]].tolist() == [
                self.model[tuple(r["tokens"][: i + 1])] for i in range(r["m"])
            ]

    @invariant()
    def size_counters_match_a_walk(self) -> None:
        evictable = protected = 0
        refs: dict[int, int] = {}
        for r in self.reqs.values():
            node = r["node"]
            while node.parent is not None:
                refs[id(node)] = refs.get(id(node), 0) + 1
                node = node.parent
        stack = list(self.cache.root.children.values())
        while stack:
            node = stack.pop()
            assert node.lock_ref == refs.get(id(node), 0)
            if node.lock_ref:
                protected += len(node.key)
            else:
                evictable += len(node.key)
            stack += node.children.values()
        assert (self.cache.evictable_size, self.cache.protected_size) == (evictable, protected)
        assert protected == len(self.locked())

    def teardown(self) -> None:
        for rid in sorted(self.reqs):
            self.hand_back(rid, [], finished=True)
        self.do_evict(10**6)
        assert self.pool.num_free == self.pool.capacity and self.cache.total_size() == 0


class DisabledEngineLike(EngineLike):
    enabled = False


TestEngineLike = EngineLike.TestCase
TestEngineLike.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestDisabledEngineLike = DisabledEngineLike.TestCase
TestDisabledEngineLike.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)


def test_peek_match_resumed_across_inserts_splits_and_evictions_equals_a_fresh_match():
    """The scheduler's per-step look at a waiting prompt resumes from its last node; whatever the
    tree did since (grew, split edges, evicted leaves, reset), it must see the true match."""
    import random

    rng = random.Random(5)
    pool, cache = make(num_slots=64)
    prompts = [[rng.randrange(4) for _ in range(rng.randrange(1, 12))] for _ in range(12)]
    looks = {i: (None, 0) for i in range(len(prompts))}
    for step in range(300):
        action = rng.random()
        tokens = [rng.randrange(4) for _ in range(rng.randrange(1, 10))]
        if action < 0.5 and pool.num_free + cache.evictable_size >= len(tokens):
            if pool.num_free < len(tokens):
                cache.evict(len(tokens) - pool.num_free)
            cached(cache, pool, tokens)
        elif action < 0.8:
            cache.evict(rng.randrange(1, 6))
        elif action < 0.82:
            cache.reset()
        i = rng.randrange(len(prompts))
        prompt, limit = prompts[i], rng.randrange(len(prompts[i]) + 1)
        node, depth, partial = cache.peek_match(prompt, limit, *looks[i])
        looks[i] = (node, depth)
        fresh = cache.peek_match(prompt, limit)
        assert depth + partial == fresh[1] + fresh[2] == len(cache.match_prefix(prompt[:limit])[0]), step


def test_common_prefix_len_agrees_with_os_path_commonprefix():
    """The bisecting comparison against the standard library's element-wise common prefix, on
    runs that differ anywhere (first token, last, none) and with bounds into `tokens`."""
    import os.path
    import random

    from lmc.runtime.radix_cache import common_prefix_len

    rng = random.Random(11)
    for _ in range(3000):
        key = tuple(rng.randrange(3) for _ in range(rng.randrange(0, 300)))
        lead = [rng.randrange(3) for _ in range(rng.randrange(0, 4))]
        body = list(key[: rng.randrange(0, len(key) + 1)]) + [rng.randrange(3) for _ in range(rng.randrange(0, 50))]
        tokens = lead + body
        end = rng.choice([None, rng.randrange(len(lead), len(tokens) + 1)])
        expected = len(os.path.commonprefix([list(key), tokens[len(lead) : end]]))
        assert common_prefix_len(key, tokens, len(lead), end) == expected


def test_match_resumed_from_a_peek_equals_a_fresh_match():
    """Admission resumes its match where the scheduler's look ended; slots, node and the tree
    afterwards must be those of a walk from the root, whatever happened in between."""
    import random

    rng = random.Random(3)
    for trial in range(40):
        pools = [make(num_slots=96) for _ in range(2)]
        prompts = [[rng.randrange(3) for _ in range(rng.randrange(2, 14))] for _ in range(6)]
        history = [[rng.randrange(3) for _ in range(rng.randrange(1, 12))] for _ in range(8)]
        looks = []
        for pool, cache in pools:
            for tokens in history[:4]:
                cached(cache, pool, tokens)
            looks.append([cache.peek_match(p, len(p)) for p in prompts])
            for tokens in history[4:]:  # the tree grows and splits after the look
                cached(cache, pool, tokens)
            cache.evict(3)
        resumed, fresh = pools[0][1], pools[1][1]
        for p, (node, depth, _) in zip(prompts, looks[0]):
            a_slots, a_node = resumed.match_prefix(p, node, depth)
            b_slots, b_node = fresh.match_prefix(p)
            assert a_slots.tolist() == b_slots.tolist() and path_tokens(a_node) == path_tokens(b_node), trial
        assert resumed.dump() == fresh.dump(), trial
