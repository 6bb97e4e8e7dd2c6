import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.runtime.kv_pool import KVPool


def make_pool(num_slots: int = 8) -> KVPool:
    return KVPool(
        num_slots, num_layers=2, num_kv_heads=2, head_dim=4, dtype=torch.float32, device="cpu"
    )


def test_shapes_include_scratch_slot():
    pool = make_pool(8)
    assert pool.capacity == 8 and pool.num_free == 8
    assert len(pool.k_caches) == len(pool.v_caches) == 2
    assert pool.k_caches[0].shape == (9, 2, 4)
    assert pool.v_caches[1].dtype == torch.float32


def test_alloc_distinct_nonzero_and_all_or_nothing():
    pool = make_pool(8)
    a = pool.alloc(5)
    assert a.dtype == torch.int64 and a.device.type == "cpu"
    assert len(set(a.tolist())) == 5 and min(a.tolist()) >= 1
    assert pool.num_free == 3
    assert pool.alloc(4) is None
    assert pool.num_free == 3  # nothing taken by a failed alloc
    b = pool.alloc(3)
    assert set(a.tolist()) | set(b.tolist()) == set(range(1, 9))
    assert pool.alloc(1) is None
    assert pool.alloc(0).numel() == 0


def test_free_returns_slots_for_reuse():
    pool = make_pool(4)
    a = pool.alloc(4)
    pool.free(a[1:3])
    assert pool.num_free == 2
    b = pool.alloc(2)
    assert sorted(b.tolist()) == sorted(a[1:3].tolist())


def test_double_free_is_caught_and_changes_nothing():
    pool = make_pool(4)
    a = pool.alloc(3)
    pool.free(a[:1])
    with pytest.raises(RuntimeError, match="double free"):
        pool.free(a[:2])  # a[0] is already free
    assert pool.num_free == 2  # a[1] was not freed by the failed call
    pool.free(a[1:2])
    assert pool.num_free == 3


def test_duplicate_within_one_free_call_is_caught():
    pool = make_pool(4)
    a = pool.alloc(2)
    with pytest.raises(RuntimeError, match="double free"):
        pool.free(torch.tensor([int(a[0]), int(a[0])]))
    assert pool.num_free == 2
    pool.free(a)
    assert pool.num_free == 4


def test_scratch_and_out_of_range_slots_are_refused():
    pool = make_pool(4)
    pool.alloc(4)
    with pytest.raises(ValueError, match="scratch"):
        pool.free(torch.tensor([0]))
    with pytest.raises(ValueError, match="outside"):
        pool.free(torch.tensor([5]))
    assert pool.num_free == 0


def test_never_freed_slot_cannot_be_freed():
    pool = make_pool(4)
    with pytest.raises(RuntimeError, match="double free"):
        pool.free(torch.tensor([2]))


def test_budget_arithmetic():
    per_token = KVPool.bytes_per_token(
        num_layers=3, num_kv_heads=4, head_dim=8, dtype=torch.bfloat16
    )
    assert per_token == 2 * 3 * 4 * 8 * 2
    slots = KVPool.slots_for_budget(per_token * 101, 3, 4, 8, torch.bfloat16)
    assert slots == 100  # one token's worth goes to the scratch slot
    pool = KVPool(slots, 3, 4, 8, torch.bfloat16, "cpu")
    used = sum(t.numel() * t.element_size() for t in pool.k_caches + pool.v_caches)
    assert used <= per_token * 101
    assert KVPool.slots_for_budget(0, 3, 4, 8, torch.bfloat16) == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), max_size=40))
def test_random_alloc_free_matches_a_set_model(ops):
    """Against a plain Python set of held slots: free count, distinctness, and reuse agree."""
    pool = make_pool(10)
    held: list[int] = []
    for is_alloc, n in ops:
        if is_alloc:
            got = pool.alloc(n)
            if n > 10 - len(held):
                assert got is None
                continue
            assert not set(got.tolist()) & set(held)
            held += got.tolist()
        else:
            n = min(n, len(held))
            pool.free(torch.tensor(held[:n], dtype=torch.int64))
            held = held[n:]
        assert pool.num_free == 10 - len(held)
        assert len(set(held)) == len(held) and 0 not in held
