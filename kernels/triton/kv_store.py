"""Write the new tokens' K and V into their cache slots in one launch."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _store_kv_kernel(
    K, V, K_cache, V_cache, out_slots,
    stride_kt, stride_vt, stride_kct, stride_vct,
    ROW: tl.constexpr, BLOCK: tl.constexpr,
):
    """Grid (token,): token t's heads*dim values go to row out_slots[t] of both caches."""
    t = tl.program_id(0)
    slot = tl.load(out_slots + t)
    offs = tl.arange(0, BLOCK)
    ok = offs < ROW
    k = tl.load(K + t * stride_kt + offs, mask=ok)
    v = tl.load(V + t * stride_vt + offs, mask=ok)
    tl.store(K_cache + slot * stride_kct + offs, k, mask=ok)
    tl.store(V_cache + slot * stride_vct + offs, v, mask=ok)


def store_kv(
    k: torch.Tensor,
    v: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    out_slots: torch.Tensor,
) -> None:
    """k, v [T, Hkv, D] (each token's heads*dim dense, e.g. views of a fused qkv) into the caches."""
    num_tokens = k.shape[0]
    if num_tokens == 0:
        return
    row = k.shape[1] * k.shape[2]
    for name, t in (("k", k), ("v", v), ("k_cache", k_cache), ("v_cache", v_cache)):
        if t.shape[1:] != k_cache.shape[1:] or t.stride(2) != 1 or t.stride(1) != t.shape[2]:
            raise ValueError(
                f"store_kv needs {name} laid out [rows, {k_cache.shape[1]}, {k_cache.shape[2]}] with "
                f"heads*dim dense per row; got shape {tuple(t.shape)}, strides {t.stride()}"
            )
    _store_kv_kernel[(num_tokens,)](
        k, v, k_cache, v_cache, out_slots,
        k.stride(0), v.stride(0), k_cache.stride(0), v_cache.stride(0),
        ROW=row, BLOCK=triton.next_power_of_2(row), num_warps=4,
    )
