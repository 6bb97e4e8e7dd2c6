"""RMSNorm with the residual add fused in: one read of x (and residual), one write of each output."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rms_norm_kernel(
    X, R, W, OUT, R_OUT, n_cols, eps,
    stride_x, stride_r, stride_o, stride_ro,
    HAS_RESIDUAL: tl.constexpr, BLOCK: tl.constexpr,
):
    """Grid (row,). Rounds where transformers rounds: the sum to its dtype, the normalised row to
    that dtype again before the weight product, the product to the output dtype."""
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    ok = offs < n_cols
    x = tl.load(X + row * stride_x + offs, mask=ok, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        r = tl.load(R + row * stride_r + offs, mask=ok, other=0.0).to(tl.float32)
        total = (x + r).to(R_OUT.dtype.element_ty)
        tl.store(R_OUT + row * stride_ro + offs, total, mask=ok)
        x = total.to(tl.float32)
    inv_rms = tl.rsqrt(tl.sum(x * x, 0) / n_cols + eps)
    normed = (x * inv_rms).to(R_OUT.dtype.element_ty).to(tl.float32)
    w = tl.load(W + offs, mask=ok, other=0.0).to(tl.float32)
    tl.store(OUT + row * stride_o + offs, (w * normed).to(OUT.dtype.element_ty), mask=ok)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """RMSNorm over the last dim; with `residual`, returns `(normed, x + residual)` like the
    reference op. Inputs need a dense last dim."""
    n_cols = x.shape[-1]
    rows = x.reshape(-1, n_cols)
    sum_dtype = x.dtype if residual is None else torch.promote_types(x.dtype, residual.dtype)
    out = torch.empty(x.shape, dtype=torch.promote_types(weight.dtype, sum_dtype), device=x.device)
    if residual is None:
        res_in = res_out = rows
    else:
        res_in = residual.reshape(-1, n_cols)
        res_out = torch.empty(x.shape, dtype=sum_dtype, device=x.device).view(-1, n_cols)
    block = triton.next_power_of_2(n_cols)
    if rows.shape[0] > 0:
        _rms_norm_kernel[(rows.shape[0],)](
            rows, res_in, weight, out, res_out, n_cols, eps,
            rows.stride(0), res_in.stride(0), n_cols, res_out.stride(0),
            HAS_RESIDUAL=residual is not None, BLOCK=block,
            num_warps=min(max(block // 256, 1), 16),
        )
    if residual is None:
        return out
    return out, res_out.view(x.shape)
