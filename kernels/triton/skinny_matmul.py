"""`x @ w.T` for a few rows of x (a decode step's batch): a weight-streaming matmul.

With up to 64 rows a decode matmul reads each weight once and does little arithmetic on it, so
its speed is the rate at which the weight streams from memory. Each program takes a stripe of
BLOCK_N output columns (and, with SPLIT_K > 1, a 1/SPLIT_K share of the reduction) for all rows
at once, so the grid has enough programs to keep every multiprocessor streaming; split partials
are summed in float32 by a second small kernel.

`decode_config` says where this beats cuBLAS. On an H200 at 64 rows (benchmarks/gpu_probe.py,
benchmarks/results/session5_h200/gpuperf.md), weights streamed at: lm_head 128256 x 4096 4.09
TB/s against cuBLAS's 3.49, gate_up 28672 x 4096 3.67 against 3.52, down 4096 x 14336 3.35
against 3.19; but qkv 6144 x 4096 2.86 against 3.05 and o_proj 4096 x 4096 2.47 against 2.64,
where too few stripes fill the card and cuBLAS keeps those.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl


@dataclass(frozen=True)
class SkinnyConfig:
    """Tile and split of one launch; `split_k` must divide K into whole BLOCK_K blocks."""

    block_n: int = 64
    block_k: int = 128
    split_k: int = 1
    num_warps: int = 4
    num_stages: int = 4


ROW_BLOCK = 64  # rows per program: one compile serves every batch up to 64 (masked rows read nothing)
MAX_ROWS = 64  # the most rows measured; more rows make the matmul less weight-bound
WIDE = SkinnyConfig(block_n=128, block_k=128, split_k=1, num_warps=4, num_stages=4)
DEEP = SkinnyConfig(block_n=64, block_k=128, split_k=2, num_warps=4, num_stages=6)


def decode_config(x: torch.Tensor, w: torch.Tensor) -> SkinnyConfig | None:
    """The config to run `x @ w.T` with here, or None where cuBLAS was measured faster: many
    output columns (N >= 16 384: enough stripes for several waves) or a long reduction over
    few columns (K >= 8 192, split in two); at most MAX_ROWS rows of a 16-bit dtype."""
    if x.dim() != 2 or w.dim() != 2 or not 0 < x.shape[0] <= MAX_ROWS:
        return None
    if x.dtype not in (torch.bfloat16, torch.float16) or w.dtype != x.dtype:
        return None
    if x.stride(1) != 1 or w.stride(1) != 1:
        return None
    n, k = w.shape
    if n >= 16384 and k % WIDE.block_k == 0:
        return WIDE
    if k >= 8192 and k % (DEEP.split_k * DEEP.block_k) == 0:
        return DEEP
    return None


@triton.jit
def _skinny_kernel(
    X, W, OUT, PART, M, N, K,
    stride_xm, stride_wn, stride_om, stride_ps, stride_pm,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr,
):
    """Grid (column stripe, row block, split). Rows past M read as zeros and are not stored."""
    pid_n = tl.program_id(0)
    pid_m = tl.program_id(1)
    split = tl.program_id(2)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    row_ok = offs_m < M
    col_ok = offs_n < N
    k_share = K // SPLIT_K
    k_lo = split * k_share
    acc = tl.zeros([BLOCK_M, BLOCK_N], tl.float32)
    for k0 in range(k_lo, k_lo + k_share, BLOCK_K):
        x = tl.load(X + offs_m[:, None] * stride_xm + (k0 + offs_k)[None, :], mask=row_ok[:, None],
                    other=0.0)
        w = tl.load(W + offs_n[:, None] * stride_wn + (k0 + offs_k)[None, :], mask=col_ok[:, None],
                    other=0.0)
        acc = tl.dot(x, tl.trans(w), acc)
    ok = row_ok[:, None] & col_ok[None, :]
    if SPLIT_K == 1:
        tl.store(OUT + offs_m[:, None] * stride_om + offs_n[None, :], acc.to(OUT.dtype.element_ty),
                 mask=ok)
    else:
        tl.store(PART + split * stride_ps + offs_m[:, None] * stride_pm + offs_n[None, :], acc,
                 mask=ok)


@triton.jit
def _split_sum_kernel(PART, OUT, N, stride_ps, stride_pm, stride_om,
                      SPLIT_K: tl.constexpr, BLOCK: tl.constexpr):
    """Grid (row, column block): the float32 sum of the split partials, rounded once."""
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    ok = cols < N
    total = tl.zeros([BLOCK], tl.float32)
    for s in tl.static_range(SPLIT_K):
        total += tl.load(PART + s * stride_ps + row * stride_pm + cols, mask=ok, other=0.0)
    tl.store(OUT + row * stride_om + cols, total.to(OUT.dtype.element_ty), mask=ok)


def skinny_matmul(x: torch.Tensor, w: torch.Tensor, config: SkinnyConfig = SkinnyConfig()) -> torch.Tensor:
    """`x [M, K] @ w [N, K].T` in x's dtype, accumulated in float32 (row blocks of ROW_BLOCK)."""
    (m, k), n = x.shape, w.shape[0]
    if w.shape[1] != k or x.stride(1) != 1 or w.stride(1) != 1:
        raise ValueError(f"skinny_matmul needs x [M, K] and w [N, K] with dense rows; got "
                         f"{tuple(x.shape)} and {tuple(w.shape)}")
    if k % (config.split_k * config.block_k):
        raise ValueError(f"K={k} is not a multiple of split_k * block_k = "
                         f"{config.split_k} * {config.block_k}; pick another SkinnyConfig")
    out = torch.empty(m, n, dtype=x.dtype, device=x.device)
    if m == 0:
        return out
    block_m = ROW_BLOCK
    if config.split_k > 1:
        part = torch.empty(config.split_k, m, n, dtype=torch.float32, device=x.device)
    else:
        part = out.view(1, m, n)
    grid = (triton.cdiv(n, config.block_n), triton.cdiv(m, block_m), config.split_k)
    _skinny_kernel[grid](
        x, w, out, part, m, n, k, x.stride(0), w.stride(0), out.stride(0), part.stride(0),
        part.stride(1), BLOCK_M=block_m, BLOCK_N=config.block_n, BLOCK_K=config.block_k,
        SPLIT_K=config.split_k, num_warps=config.num_warps, num_stages=config.num_stages,
    )
    if config.split_k > 1:
        block = 1024
        _split_sum_kernel[(m, triton.cdiv(n, block))](
            part, out, n, part.stride(0), part.stride(1), out.stride(0),
            SPLIT_K=config.split_k, BLOCK=block, num_warps=4,
        )
    return out
