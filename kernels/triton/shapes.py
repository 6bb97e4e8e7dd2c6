"""Shape rules the Triton attention kernels rely on, checked once per launch with a clear message."""

from __future__ import annotations

import torch


def check_head_dim(*tensors: torch.Tensor) -> int:
    """Return the common head_dim of [tokens, heads, head_dim] tensors whose last dim is dense.

    The kernels index the last dim with one `arange`, so it must be a power of two (16..256).
    """
    head_dim = tensors[0].shape[-1]
    for t in tensors:
        if t.dim() != 3 or t.shape[-1] != head_dim or t.stride(-1) != 1:
            raise ValueError(
                "Triton attention wants [tokens, heads, head_dim] tensors with a dense last dim and "
                f"one head_dim; got shapes {[tuple(x.shape) for x in tensors]} and strides "
                f"{[x.stride() for x in tensors]} (call .contiguous() on the odd one out)"
            )
    if head_dim < 16 or head_dim > 256 or head_dim & (head_dim - 1):
        raise ValueError(
            f"Triton attention supports head_dim 16, 32, 64, 128 or 256, got {head_dim}; "
            "use --attention-backend reference for this model"
        )
    return head_dim
