"""Triton RMSNorm, rotary and SiLU-and-mul against the reference ops and transformers' modules.

The Triton versions round where the unfused references round, so nearly every element must be
bit-identical, not merely close. Without CUDA they run under Triton's interpreter at small sizes,
in float16 only: the interpreter truncates float32 to bfloat16 instead of rounding to nearest.
"""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from transformers.activations import ACT2FN  # noqa: E402
from transformers.models.llama.modeling_llama import (  # noqa: E402
    LlamaRMSNorm,
    apply_rotary_pos_emb,
)

from lmc.kernels import ops as reference  # noqa: E402
from lmc.kernels.triton import ops as fast  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")


def assert_matches(out: torch.Tensor, ref: torch.Tensor) -> None:
    """At least 99% of elements bit-identical, the rest within a couple of 16-bit ulps."""
    assert out.shape == ref.shape and out.dtype == ref.dtype
    out, ref = out.cpu(), ref.cpu()
    same = (out == ref).float().mean().item()
    assert same >= 0.99, f"only {same:.2%} of elements bit-identical"
    torch.testing.assert_close(out.float(), ref.float(), rtol=2**-6, atol=1e-3)


def _rand(*shape: int, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=gen).to(dtype=dtype, device=DEVICE)


def _rms_norm_case(tokens: int, hidden: int, dtype: torch.dtype, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x, residual = _rand(tokens, hidden, dtype=dtype, gen=gen), _rand(tokens, hidden, dtype=dtype, gen=gen)
    weight = (1 + 0.1 * torch.randn(hidden, generator=gen)).to(dtype=dtype, device=DEVICE)
    hf = LlamaRMSNorm(hidden, eps=1e-5).to(device=DEVICE, dtype=dtype)
    hf.weight.data.copy_(weight)
    with torch.no_grad():
        assert_matches(fast.rms_norm(x, weight, 1e-5), hf(x))
        normed, total = fast.rms_norm(x, weight, 1e-5, residual=residual)
        assert torch.equal(total, x + residual)
        assert_matches(normed, hf(x + residual))
    ref_normed, ref_total = reference.rms_norm(x.cpu(), weight.cpu(), 1e-5, residual.cpu())
    assert_matches(normed, ref_normed)
    assert torch.equal(total.cpu(), ref_total)


def _rotary_case(tokens: int, q_heads: int, kv_heads: int, head_dim: int, dtype: torch.dtype,
                 seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    table = reference.rotary_cos_sin(reference.RopeParams(head_dim, theta=500000.0), 4096, DEVICE)
    positions = torch.randint(0, 4096, (tokens,), generator=gen).to(DEVICE)
    qkv = _rand(tokens, (q_heads + 2 * kv_heads) * head_dim, dtype=dtype, gen=gen)
    q = qkv[:, : q_heads * head_dim].view(tokens, q_heads, head_dim)  # strided views, as in a model
    k = qkv[:, q_heads * head_dim : (q_heads + kv_heads) * head_dim].view(tokens, kv_heads, head_dim)
    q_out, k_out = fast.apply_rotary(q, k, positions, table)
    cos, sin = table[positions].chunk(2, dim=-1)
    cos, sin = torch.cat([cos, cos], -1).to(dtype), torch.cat([sin, sin], -1).to(dtype)
    hf_q, hf_k = apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1)
    assert_matches(q_out, hf_q)
    assert_matches(k_out, hf_k)
    ref_q, ref_k = reference.apply_rotary(q.cpu(), k.cpu(), positions.cpu(), table.cpu())
    assert_matches(q_out, ref_q)
    assert_matches(k_out, ref_k)


def _silu_case(tokens: int, inter: int, dtype: torch.dtype, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = _rand(tokens, 2 * inter, dtype=dtype, gen=gen) * 3
    out = fast.silu_and_mul(x)
    assert_matches(out, ACT2FN["silu"](x[:, :inter]) * x[:, inter:])
    assert_matches(out, reference.silu_and_mul(x.cpu()))


# --- CPU: interpreter, small sizes ---------------------------------------------------------------

cpu_only = pytest.mark.skipif(CUDA, reason="interpreter run; the GPU tests cover this on CUDA")


@cpu_only
def test_ops_interpreted() -> None:
    _rms_norm_case(5, 96, torch.float16, seed=1)
    _rotary_case(6, 4, 2, 32, torch.float16, seed=2)
    _silu_case(3, 80, torch.float16, seed=3)


# --- GPU: model sizes ----------------------------------------------------------------------------

DTYPES = [torch.bfloat16, torch.float16]


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "hidden"), [(1, 4096), (77, 4096), (300, 896), (9, 5120)])
def test_rms_norm_gpu(tokens: int, hidden: int, dtype: torch.dtype) -> None:
    _rms_norm_case(tokens, hidden, dtype, seed=tokens + hidden)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("q_heads", "kv_heads", "head_dim"), [(32, 8, 128), (14, 2, 64), (8, 8, 128)])
def test_rotary_gpu(q_heads: int, kv_heads: int, head_dim: int, dtype: torch.dtype) -> None:
    _rotary_case(301, q_heads, kv_heads, head_dim, dtype, seed=q_heads + head_dim)


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "inter"), [(1, 14336), (64, 14336), (130, 4864)])
def test_silu_and_mul_gpu(tokens: int, inter: int, dtype: torch.dtype) -> None:
    _silu_case(tokens, inter, dtype, seed=tokens + inter)
