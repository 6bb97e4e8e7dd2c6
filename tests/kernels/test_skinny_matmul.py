"""The weight-streaming decode matmul against torch's `F.linear` (cuBLAS on the GPU).

Both accumulate in float32 and round once, so results agree to the last bit or two; the order of
the float32 sums differs (per split, then across splits). Without CUDA the kernels run under
Triton's interpreter at small sizes, in float16 (the interpreter truncates float32 to bfloat16).
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from lmc.kernels.triton.skinny_matmul import SkinnyConfig, skinny_matmul  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
DTYPE = torch.bfloat16 if CUDA else torch.float16
gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")


def _case(m: int, n: int, k: int, config: SkinnyConfig, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen).to(DEVICE, DTYPE)
    w = (torch.randn(n, k, generator=gen) / k**0.5).to(DEVICE, DTYPE)
    out = skinny_matmul(x, w, config)
    ref = F.linear(x.float(), w.float()).to(DTYPE)
    assert out.shape == (m, n) and out.dtype == DTYPE
    torch.testing.assert_close(out.float().cpu(), ref.float().cpu(), rtol=2**-7, atol=2**-9)


@pytest.mark.parametrize("m", [1, 5, 16, 33])
@pytest.mark.parametrize("split_k", [1, 2])
def test_matches_linear(m: int, split_k: int) -> None:
    """Ragged row counts (masked rows), a column count that is not a multiple of the stripe."""
    _case(m, 40, 64, SkinnyConfig(block_n=16, block_k=32, split_k=split_k, num_stages=1))


def test_rejects_a_split_that_does_not_divide_k() -> None:
    x, w = torch.zeros(2, 48, device=DEVICE, dtype=DTYPE), torch.zeros(8, 48, device=DEVICE, dtype=DTYPE)
    with pytest.raises(ValueError, match="split_k"):
        skinny_matmul(x, w, SkinnyConfig(block_n=16, block_k=32, split_k=1))


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("n,k,split_k", [(6144, 4096, 1), (4096, 4096, 4), (4096, 14336, 4)])
def test_matches_linear_at_llama_shapes(n: int, k: int, split_k: int) -> None:
    _case(64, n, k, SkinnyConfig(block_n=64, block_k=128, split_k=split_k))
