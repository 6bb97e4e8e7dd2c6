"""ReferenceAttention against a per-query loop written straight from AttentionMetadata's docstring."""

from __future__ import annotations

import math
import random

import pytest
import torch

from lmc.kernels.attention import AttentionMetadata, create_backend
from lmc.kernels.attention.reference import ReferenceAttention


def make_batch(
    rng: random.Random, seqs: list[tuple[int, int]], num_slots: int
) -> tuple[AttentionMetadata, list[list[int]]]:
    """seqs = [(prefix_len, extend_len)]; every token gets a distinct random slot."""
    slots = rng.sample(range(num_slots), sum(p + e for p, e in seqs))
    per_seq, kv_indices, out_slots, start = [], [], [], 0
    for prefix, extend in seqs:
        mine = slots[start : start + prefix + extend]
        start += prefix + extend
        per_seq.append(mine)
        kv_indices += mine
        out_slots += mine[prefix:]
    seq_lens = [p + e for p, e in seqs]
    extend_lens = [e for _, e in seqs]

    def indptr(lens: list[int]) -> torch.Tensor:
        return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32)

    meta = AttentionMetadata(
        qo_indptr=indptr(extend_lens),
        kv_indptr=indptr(seq_lens),
        kv_indices=torch.tensor(kv_indices, dtype=torch.int64),
        out_slots=torch.tensor(out_slots, dtype=torch.int64),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32),
        extend_lens=torch.tensor(extend_lens, dtype=torch.int32),
        seq_lens_cpu=seq_lens,
        extend_lens_cpu=extend_lens,
    )
    return meta, per_seq


def naive_attention(q, k_cache, v_cache, seqs, per_seq, scale):
    """One query at a time, one head at a time, softmax by hand in float64."""
    out = torch.zeros(q.shape, dtype=torch.float64)
    group = q.shape[1] // k_cache.shape[1]
    row = 0
    for (prefix, extend), slots in zip(seqs, per_seq):
        for i in range(extend):
            visible = slots[: prefix + i + 1]
            for h in range(q.shape[1]):
                keys = k_cache[visible, h // group].double()
                values = v_cache[visible, h // group].double()
                scores = keys @ q[row, h].double() * scale
                out[row, h] = torch.softmax(scores, dim=0) @ values
            row += 1
    return out


CASES = {
    "prefill": [(0, 7), (0, 3), (0, 12)],
    "extend_on_prefix": [(5, 4), (9, 2), (1, 6)],
    "decode": [(4, 1), (11, 1), (0, 1), (20, 1)],
    "mixed": [(6, 1), (0, 5), (13, 1), (3, 8), (0, 1)],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("heads", [(4, 4), (8, 2), (6, 1)])
def test_matches_naive_loop(case: str, heads: tuple[int, int]) -> None:
    rng = random.Random(f"{case}-{heads}")
    torch.manual_seed(rng.randrange(1 << 30))
    num_q, num_kv, dim, num_slots = heads[0], heads[1], 16, 96
    seqs = CASES[case]
    meta, per_seq = make_batch(rng, seqs, num_slots)
    tokens = sum(e for _, e in seqs)
    q = torch.randn(tokens, num_q, dim)
    k = torch.randn(tokens, num_kv, dim)
    v = torch.randn(tokens, num_kv, dim)
    k_cache = torch.randn(num_slots, num_kv, dim)
    v_cache = torch.randn(num_slots, num_kv, dim)
    scale = 1 / math.sqrt(dim)

    backend = ReferenceAttention("cpu")
    backend.prepare(meta)
    out = backend.forward(q, k, v, k_cache, v_cache, meta, scale)

    assert torch.equal(k_cache[meta.out_slots], k) and torch.equal(v_cache[meta.out_slots], v)
    expected = naive_attention(q, k_cache, v_cache, seqs, per_seq, scale)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_returns_input_dtype_and_leaves_other_slots_alone() -> None:
    rng = random.Random(0)
    meta, _ = make_batch(rng, [(3, 2), (2, 1)], 32)
    q = torch.randn(3, 4, 8, dtype=torch.bfloat16)
    k = torch.randn(3, 2, 8, dtype=torch.bfloat16)
    v = torch.randn(3, 2, 8, dtype=torch.bfloat16)
    k_cache = torch.randn(32, 2, 8, dtype=torch.bfloat16)
    v_cache = k_cache.clone()
    untouched = torch.ones(32, dtype=torch.bool)
    untouched[meta.out_slots] = False
    before = k_cache[untouched].clone()
    out = ReferenceAttention("cpu").forward(q, k, v, k_cache, v_cache, meta, 0.3)
    assert out.dtype == torch.bfloat16 and out.shape == q.shape
    assert torch.equal(k_cache[untouched], before)


def test_registry_creates_reference_on_cpu() -> None:
    backend = create_backend("auto", "cpu")
    assert isinstance(backend, ReferenceAttention) and backend.name == "reference"
