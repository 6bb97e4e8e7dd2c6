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

from lmc.kernels import ops  # noqa: E402
from lmc.kernels.triton.skinny_matmul import (  # noqa: E402
    DEEP,
    WIDE,
    SkinnyConfig,
    decode_config,
    skinny_matmul,
)

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


@pytest.mark.parametrize("m", [1, 5, 16, 33, 70])
@pytest.mark.parametrize("split_k", [1, 2])
def test_matches_linear(m: int, split_k: int) -> None:
    """Ragged row counts (masked rows, a second row block), a column count that is not a multiple
    of the stripe."""
    _case(m, 40, 64, SkinnyConfig(block_n=16, block_k=32, split_k=split_k, num_stages=1))


def test_rejects_a_split_that_does_not_divide_k() -> None:
    x, w = torch.zeros(2, 48, device=DEVICE, dtype=DTYPE), torch.zeros(8, 48, device=DEVICE, dtype=DTYPE)
    with pytest.raises(ValueError, match="split_k"):
        skinny_matmul(x, w, SkinnyConfig(block_n=16, block_k=32, split_k=1))


def _meta(*shape: int, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    return torch.empty(*shape, dtype=dtype, device="meta")


@pytest.mark.parametrize(
    "rows,n,k,expected",
    [
        (64, 128256, 4096, WIDE),  # Llama-3-8B lm_head
        (1, 28672, 4096, WIDE),  # gate_up, a batch of one
        (64, 4096, 14336, DEEP),  # down_proj
        (64, 6144, 4096, None),  # qkv: cuBLAS measured faster
        (64, 4096, 4096, None),  # o_proj: cuBLAS measured faster
        (65, 128256, 4096, None),  # more rows than measured
        (0, 128256, 4096, None),
    ],
)
def test_decode_config_follows_the_measured_rule(rows: int, n: int, k: int, expected) -> None:
    assert decode_config(_meta(rows, k), _meta(n, k)) == expected


def test_decode_config_keeps_other_dtypes_and_layouts_on_cublas() -> None:
    assert decode_config(_meta(8, 4096, dtype=torch.float32), _meta(128256, 4096, dtype=torch.float32)) is None
    assert decode_config(_meta(4096, 8).t(), _meta(128256, 4096)) is None
    assert decode_config(_meta(8, 14000), _meta(4096, 14000)) is None  # K not whole split blocks


def test_linear_is_torch_linear_off_cuda() -> None:
    gen = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(3, 8, generator=gen), torch.randn(5, 8, generator=gen), torch.randn(5, generator=gen)
    assert torch.equal(ops.linear(x, w, b), F.linear(x, w, b))


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("rows", [1, 64])
@pytest.mark.parametrize("n,k", [(128256, 4096), (28672, 4096), (4096, 14336), (6144, 4096)])
def test_linear_matches_cublas_at_llama_shapes(rows: int, n: int, k: int) -> None:
    """What the model runs (`ops.linear`, either kernel) against cuBLAS in float32."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(rows, k, generator=gen).to(DEVICE, DTYPE)
    w = (torch.randn(n, k, generator=gen) / k**0.5).to(DEVICE, DTYPE)
    ref = F.linear(x.float(), w.float()).to(DTYPE)
    torch.testing.assert_close(ops.linear(x, w).float(), ref.float(), rtol=2**-7, atol=2**-9)
