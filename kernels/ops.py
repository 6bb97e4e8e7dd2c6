"""Reference tensor ops of the model: linear, RMSNorm, rotary embedding, SiLU-and-multiply.

Each function is the single entry point for its op: faster GPU versions are dispatched from
inside these functions, so model code never picks a kernel itself. The arithmetic follows Hugging
Face transformers step by step (which dtype each product runs in), so that our logits equal theirs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

SUPPORTED_ROPE_TYPES = ("default", "linear", "llama3")


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`x @ weight.T (+ bias)`. On CUDA a decode-sized x goes to the weight-streaming Triton
    matmul where it was measured faster than cuBLAS (see `skinny_matmul.decode_config`); both
    accumulate in float32 and round once."""
    if x.is_cuda and bias is None:
        from lmc.kernels.triton.skinny_matmul import decode_config, skinny_matmul
        config = decode_config(x, weight)
        if config is not None:
            return skinny_matmul(x, weight, config)
    return F.linear(x, weight, bias)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm; with `residual`, first adds it and returns `(normed, x + residual)`.

    The fused form is how decoder layers carry the residual stream without an extra pass over
    memory. The sum is rounded to x's dtype before normalising, the statistics are taken in
    float32, and the weight is applied in x's dtype, exactly as transformers' LlamaRMSNorm does.
    """
    if x.is_cuda:
        from lmc.kernels.triton.ops import rms_norm as fused
        return fused(x, weight, eps, residual)
    if residual is not None:
        x = x + residual
        residual = x
    x32 = x.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    out = weight * normed.to(x.dtype)
    return out if residual is None else (out, residual)


@dataclass(frozen=True)
class RopeParams:
    """What rotary embedding needs to know about a model, independent of any config format.

    `scaling` holds the extra keys of the rope type (e.g. `factor`, `low_freq_factor`,
    `high_freq_factor`, `original_max_position_embeddings` for "llama3").
    """

    head_dim: int
    theta: float = 10000.0
    rope_type: str = "default"
    scaling: dict[str, Any] = field(default_factory=dict)


def _inv_freq(params: RopeParams) -> torch.Tensor:
    """Per-pair inverse frequencies, rescaled by the rope type (float32, on CPU)."""
    exponents = torch.arange(0, params.head_dim, 2, dtype=torch.int64).float() / params.head_dim
    inv_freq = 1.0 / (params.theta**exponents)
    if params.rope_type == "default":
        return inv_freq
    if params.rope_type == "linear":
        return inv_freq / params.scaling["factor"]
    if params.rope_type == "llama3":
        return _llama3_inv_freq(inv_freq, params.scaling)
    raise ValueError(
        f"rope type {params.rope_type!r} is not supported; supported types are "
        f"{list(SUPPORTED_ROPE_TYPES)}. (Dynamic NTK and YaRN change the frequencies with the "
        "sequence length and are not implemented.)"
    )


def _llama3_inv_freq(inv_freq: torch.Tensor, s: dict[str, Any]) -> torch.Tensor:
    """Llama 3.1 scaling: long wavelengths are divided by `factor`, short ones kept, and the band
    in between interpolated smoothly, so the model keeps local precision at 128k context."""
    factor = s["factor"]
    low, high = s["low_freq_factor"], s["high_freq_factor"]
    old_len = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def rotary_cos_sin(
    params: RopeParams, max_positions: int, device: torch.device | str
) -> torch.Tensor:
    """The cos/sin table `[max_positions, head_dim]` (cos half, then sin half) in float32.

    Computed once per model, then indexed by position: angles are float32 products of position
    and inverse frequency, the same rounding transformers uses when it builds them per forward.
    """
    inv_freq = _inv_freq(params)
    positions = torch.arange(max_positions, dtype=torch.int64).float()
    angles = torch.outer(positions, inv_freq)
    return torch.cat([angles.cos(), angles.sin()], dim=-1).to(device)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q `[T, Hq, D]` and k `[T, Hkv, D]` by their positions (neox / HF rotate_half layout).

    cos and sin are cast to q's dtype before the products, as transformers does, so bfloat16
    models round the same way as the reference implementation.
    """
    if q.is_cuda:
        from lmc.kernels.triton.ops import apply_rotary as fused
        return fused(q, k, positions, cos_sin_cache)
    cos, sin = cos_sin_cache[positions].chunk(2, dim=-1)
    cos = torch.cat([cos, cos], dim=-1).unsqueeze(1).to(q.dtype)
    sin = torch.cat([sin, sin], dim=-1).unsqueeze(1).to(q.dtype)
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    """SwiGLU activation over a fused gate/up projection: `silu(x[..., :d]) * x[..., d:]`."""
    if x.is_cuda:
        from lmc.kernels.triton.ops import silu_and_mul as fused
        return fused(x)
    gate, up = x.chunk(2, dim=-1)
    return F.silu(gate) * up
