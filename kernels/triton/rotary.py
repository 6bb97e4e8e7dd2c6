"""Rotary position embedding (rotate_half layout) of q and k together, one program per token."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rotate_heads(X, OUT, row, n_heads, stride_xt, stride_xh, stride_ot, stride_oh, cos, sin,
                  HALF: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_HALF: tl.constexpr):
    """All heads of one token: out = x * cos + rotate_half(x) * sin, each product rounded to x's
    dtype before the sum, as the unfused reference rounds them. The launch turns FP fusion off:
    with it, a product and the sum contract into one bf16 FMA (fma.rn.bf16 in the PTX on sm90),
    which skips the product's rounding and breaks bit-equality with the reference."""
    heads = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_HALF)
    ok = (heads < n_heads)[:, None] & (dims < HALF)[None, :]
    src = X + row * stride_xt + heads[:, None] * stride_xh + dims[None, :]
    dst = OUT + row * stride_ot + heads[:, None] * stride_oh + dims[None, :]
    x1 = tl.load(src, mask=ok, other=0.0)
    x2 = tl.load(src + HALF, mask=ok, other=0.0)
    dtype = x1.dtype
    c = cos.to(dtype).to(tl.float32)[None, :]
    s = sin.to(dtype).to(tl.float32)[None, :]
    x1 = x1.to(tl.float32)
    x2 = x2.to(tl.float32)
    a1 = (x1 * c).to(dtype).to(tl.float32)
    b1 = (x2 * s).to(dtype).to(tl.float32)
    a2 = (x2 * c).to(dtype).to(tl.float32)
    b2 = (x1 * s).to(dtype).to(tl.float32)
    tl.store(dst, (a1 - b1).to(dtype), mask=ok)
    tl.store(dst + HALF, (a2 + b2).to(dtype), mask=ok)


@triton.jit
def _rotary_kernel(
    Q, K, Q_OUT, K_OUT, positions, cos_sin, n_q_heads, n_kv_heads,
    stride_qt, stride_qh, stride_kt, stride_kh,
    stride_qot, stride_qoh, stride_kot, stride_koh, stride_cs,
    HALF: tl.constexpr, BLOCK_QH: tl.constexpr, BLOCK_KH: tl.constexpr, BLOCK_HALF: tl.constexpr,
):
    """Grid (token,): cos/sin of the token's position are read once for all q and k heads."""
    row = tl.program_id(0)
    pos = tl.load(positions + row)
    dims = tl.arange(0, BLOCK_HALF)
    cos = tl.load(cos_sin + pos * stride_cs + dims, mask=dims < HALF, other=0.0)
    sin = tl.load(cos_sin + pos * stride_cs + HALF + dims, mask=dims < HALF, other=0.0)
    _rotate_heads(Q, Q_OUT, row, n_q_heads, stride_qt, stride_qh, stride_qot, stride_qoh,
                  cos, sin, HALF, BLOCK_QH, BLOCK_HALF)
    _rotate_heads(K, K_OUT, row, n_kv_heads, stride_kt, stride_kh, stride_kot, stride_koh,
                  cos, sin, HALF, BLOCK_KH, BLOCK_HALF)


def apply_rotary(
    q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate q [T, Hq, D] and k [T, Hkv, D] by `positions`; `cos_sin_cache` is
    [max_positions, D] (cos half, then sin half), as `lmc.kernels.ops.rotary_cos_sin` builds it."""
    head_dim = q.shape[-1]
    if q.stride(-1) != 1 or k.stride(-1) != 1 or cos_sin_cache.stride(-1) != 1:
        raise ValueError("apply_rotary needs q, k and cos_sin_cache with a dense last dim")
    if cos_sin_cache.shape[-1] != head_dim or head_dim % 2:
        raise ValueError(
            f"apply_rotary needs an even head_dim equal to the cos/sin table's width; got "
            f"head_dim {head_dim} and table {tuple(cos_sin_cache.shape)}"
        )
    q_out, k_out = torch.empty_like(q), torch.empty_like(k)
    num_tokens = q.shape[0]
    if num_tokens == 0:
        return q_out, k_out
    half = head_dim // 2
    _rotary_kernel[(num_tokens,)](
        q, k, q_out, k_out, positions, cos_sin_cache, q.shape[1], k.shape[1],
        q.stride(0), q.stride(1), k.stride(0), k.stride(1),
        q_out.stride(0), q_out.stride(1), k_out.stride(0), k_out.stride(1), cos_sin_cache.stride(0),
        HALF=half, BLOCK_QH=triton.next_power_of_2(q.shape[1]),
        BLOCK_KH=triton.next_power_of_2(k.shape[1]), BLOCK_HALF=triton.next_power_of_2(half),
        num_warps=4, enable_fp_fusion=False,
    )
    return q_out, k_out
