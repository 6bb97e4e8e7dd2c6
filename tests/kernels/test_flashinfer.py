"""flashinfer backend against the reference backend (float32) on ragged batches, page size 1.

Skipped where flashinfer-python is not installed (it is the optional extra `lmc[gpu]`).
"""

from __future__ import annotations

import pytest
import torch

from lmc.kernels.attention import AttentionMetadata, create_backend
from lmc.kernels.attention.reference import ReferenceAttention

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _metadata(specs: list[tuple[int, int]], gen: torch.Generator) -> AttentionMetadata:
    """Each sequence's KV positions on shuffled slots (slot 0 left unused, like the KV pool)."""
    seq_lens = [p + e for p, e in specs]
    ext = [e for _, e in specs]
    perm = torch.randperm(sum(seq_lens), generator=gen) + 1
    slots = list(perm.split(seq_lens))

    def indptr(lens: list[int]) -> torch.Tensor:
        return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32)

    return AttentionMetadata(
        qo_indptr=indptr(ext).cuda(),
        kv_indptr=indptr(seq_lens).cuda(),
        kv_indices=perm.cuda(),
        out_slots=torch.cat([s[p:] for s, (p, _) in zip(slots, specs)]).cuda(),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32).cuda(),
        extend_lens=torch.tensor(ext, dtype=torch.int32).cuda(),
        seq_lens_cpu=seq_lens,
        extend_lens_cpu=ext,
    )


@pytest.mark.parametrize(
    "specs",
    [
        [(0, 1), (0, 130), (17, 64), (2000, 37), (513, 300)],  # extend, ragged, prefixes mid-page
        [(n, 1) for n in (0, 15, 16, 255, 1024, 2000)],  # decode
    ],
    ids=["extend", "decode"],
)
@pytest.mark.parametrize("num_q_heads", [8, 32])
def test_flashinfer_matches_reference(specs: list[tuple[int, int]], num_q_heads: int) -> None:
    pytest.importorskip("flashinfer")
    gen = torch.Generator().manual_seed(num_q_heads + len(specs))
    meta = _metadata(specs, gen)
    num_kv_heads, head_dim, scale = 8, 128, 128**-0.5
    tokens, slots = sum(meta.extend_lens_cpu), sum(meta.seq_lens_cpu) + 1

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(device="cuda", dtype=torch.bfloat16)

    q, k, v = rand(tokens, num_q_heads, head_dim), rand(tokens, num_kv_heads, head_dim), rand(tokens, num_kv_heads, head_dim)
    k_cache, v_cache = rand(slots, num_kv_heads, head_dim), rand(slots, num_kv_heads, head_dim)
    k_ref, v_ref = k_cache.float(), v_cache.float()  # the oracle's own float32 caches

    backend = create_backend("flashinfer", "cuda")
    backend.prepare(meta)
    out = backend.forward(q, k, v, k_cache, v_cache, meta, scale)
    reference = ReferenceAttention("cuda")
    reference.prepare(meta)
    expected = reference.forward(q.float(), k, v, k_ref, v_ref, meta, scale)

    assert torch.equal(k_cache.float(), k_ref) and torch.equal(v_cache.float(), v_ref)
    err = float((out.float() - expected).norm() / expected.norm())
    assert err < 1e-2, f"relative error {err:.2e} against the float32 reference"
