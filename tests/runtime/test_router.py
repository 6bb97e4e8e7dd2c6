"""The data-parallel router: longest prefix first, load balance when uneven, bounded tries."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.runtime.server.router import PrefixRouter, PrefixTree, RouterConfig


def test_requests_sharing_a_prefix_follow_each_other():
    router = PrefixRouter(2)
    a, b = list(range(100, 140)), list(range(500, 540))
    assert router.route(a + [1], [0, 0]) == 0
    assert router.route(b + [2], [1, 0]) == 1  # no worker holds it: the emptier trie
    assert [router.route(a + [k], [3, 3]) for k in range(5)] == [0] * 5
    assert [router.route(b + [k], [3, 3]) for k in range(5)] == [1] * 5


def test_a_short_shared_part_is_not_enough_to_follow():
    router = PrefixRouter(2, RouterConfig(cache_threshold=0.5))
    router.route([7] * 10, [0, 0])
    assert router.route([7] * 4 + [9] * 10, [0, 0]) == 1  # 4 of 14 tokens match: go where there is room


def test_uneven_load_goes_to_the_idlest_worker_whatever_the_prefix():
    router = PrefixRouter(3, RouterConfig(balance_abs=4, balance_rel=1.5))
    prefix = list(range(50))
    assert router.route(prefix, [0, 0, 0]) == 0
    assert router.route(prefix + [1], [10, 2, 3]) == 1  # worker 0 holds the prefix, but is busy
    assert router.route(list(range(900, 960)), [1, 1, 1]) == 2  # an unseen prompt: the empty trie
    assert router.route(prefix + [2], [4, 5, 1]) == 0  # within balance_abs: a longest match (0 and 1 tie: the less
    # loaded) wins over the idle worker 2


def test_the_tree_matches_what_was_inserted_and_evicts_the_least_recent():
    tree = PrefixTree()
    tree.insert([1, 2, 3, 4], stamp=1)
    tree.insert([1, 2, 9], stamp=2)
    assert tree.size == 5 and tree.match([1, 2, 3, 7]) == 3 and tree.match([5]) == 0
    tree.evict(keep=3)
    assert tree.size == 3 and tree.match([1, 2, 9]) == 3 and tree.match([1, 2, 3, 4]) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=12), min_size=1, max_size=30),
       st.integers(1, 40))
def test_the_tree_stays_within_its_budget_and_only_holds_inserted_prefixes(prompts, budget):
    router = PrefixRouter(2, RouterConfig(max_tokens=budget))
    for i, ids in enumerate(prompts):
        router.route(ids, [i % 3, 1])
    for tree in router.trees:
        assert tree.size <= budget
        nodes = tree._nodes()
        assert len(nodes) == tree.size
        for node in nodes:  # every path in a trie is a prefix of some routed prompt
            path = []
            while node is not tree.root:
                path.append(node.token)
                node = node.parent
            path.reverse()
            assert any(p[: len(path)] == path for p in prompts)
