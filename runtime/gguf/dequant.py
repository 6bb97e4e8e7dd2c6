"""GGML block formats to float tensors, one vectorised pass per tensor.

A quantized GGUF tensor is a byte matrix: each row holds `row_elements / block_elements` blocks
of a fixed layout (scales as float16, then packed integers). Each function here views those bytes
as a `[blocks, block_bytes]` uint8 tensor, unpacks every block at once with torch bit operations,
and returns `[blocks, block_elements]` float32 values; `dequantize` reshapes them to the tensor's
shape. Layouts follow ggml's `ggml-common.h` block structs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

QK = 32  # elements of a Q4_0/Q4_1/Q8_0 block
QK_K = 256  # elements of a K-quant super-block


def _f16(blocks: torch.Tensor, start: int) -> torch.Tensor:
    """The float16 stored at byte `start` of every block, as a float32 column."""
    return blocks[:, start : start + 2].contiguous().view(torch.float16).float()


def _nibbles(packed: torch.Tensor) -> torch.Tensor:
    """Low nibbles of a run of bytes, then their high nibbles (ggml's order within a block)."""
    return torch.cat([packed & 0x0F, packed >> 4], dim=-1)


def _q8_0(blocks: torch.Tensor) -> torch.Tensor:
    return _f16(blocks, 0) * blocks[:, 2:].contiguous().view(torch.int8).float()


def _q4_0(blocks: torch.Tensor) -> torch.Tensor:
    return _f16(blocks, 0) * (_nibbles(blocks[:, 2:]).float() - 8)


def _q4_1(blocks: torch.Tensor) -> torch.Tensor:
    return _f16(blocks, 0) * _nibbles(blocks[:, 4:]).float() + _f16(blocks, 2)


def _k_scales(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block, packed in 12 bytes."""
    low, mid, high = packed[:, 0:4], packed[:, 4:8], packed[:, 8:12]
    scales = torch.cat([low & 63, (high & 0x0F) | ((low >> 6) << 4)], dim=-1)
    mins = torch.cat([mid & 63, (high >> 4) | ((mid >> 6) << 4)], dim=-1)
    return scales.float(), mins.float()


def _k_values(blocks: torch.Tensor, quants: torch.Tensor) -> torch.Tensor:
    """`d * scale * q - dmin * min` over eight sub-blocks of 32 (quants: [blocks, 8, 32])."""
    scales, mins = _k_scales(blocks[:, 4:16])
    d, dmin = _f16(blocks, 0), _f16(blocks, 2)
    values = (d * scales)[..., None] * quants.float() - (dmin * mins)[..., None]
    return values.reshape(-1, QK_K)


def _q4_k(blocks: torch.Tensor) -> torch.Tensor:
    qs = blocks[:, 16:144].reshape(-1, 4, 32)  # four chunks of 64 values: low nibbles, then high
    quants = torch.stack([qs & 0x0F, qs >> 4], dim=2).reshape(-1, 8, 32)
    return _k_values(blocks, quants)


def _q5_k(blocks: torch.Tensor) -> torch.Tensor:
    qh = blocks[:, 16:48]
    qs = blocks[:, 48:176].reshape(-1, 4, 32)
    low = torch.stack([qs & 0x0F, qs >> 4], dim=2).reshape(-1, 8, 32)
    shifts = torch.arange(8, dtype=torch.uint8)
    high = ((qh[:, None, :] >> shifts[None, :, None]) & 1) << 4  # sub-block j takes bit j of qh
    return _k_values(blocks, low | high)


def _q6_k(blocks: torch.Tensor) -> torch.Tensor:
    ql = blocks[:, 0:128].reshape(-1, 2, 2, 32)  # two halves of 128 values, two 32-byte runs
    qh = blocks[:, 128:192].reshape(-1, 2, 1, 32)
    scales = blocks[:, 192:208].contiguous().view(torch.int8).float()
    d = _f16(blocks, 208)
    # Within a half, value l + 32k (k = 0..3) takes nibble k // 2 of ql[l + 32 (k % 2)] and
    # bits 2k, 2k+1 of qh[l].
    low = torch.stack([ql & 0x0F, ql >> 4], dim=2).reshape(-1, 2, 4, 32)
    shifts = torch.tensor([0, 2, 4, 6], dtype=torch.uint8).view(1, 1, 4, 1)
    high = ((qh >> shifts) & 3) << 4
    quants = (low | high).float() - 32
    values = quants.reshape(-1, 16, 16) * scales[..., None]  # 16 sub-blocks of 16 values
    return (d * values.reshape(-1, QK_K)).reshape(-1, QK_K)


# name: (elements per block, bytes per block, unpacker)
BLOCK_FORMATS: dict[str, tuple[int, int, Callable[[torch.Tensor], torch.Tensor]]] = {
    "Q8_0": (QK, 34, _q8_0),
    "Q4_0": (QK, 18, _q4_0),
    "Q4_1": (QK, 20, _q4_1),
    "Q4_K": (QK_K, 144, _q4_k),
    "Q5_K": (QK_K, 176, _q5_k),
    "Q6_K": (QK_K, 210, _q6_k),
}
PLAIN_FORMATS = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
SUPPORTED_TYPES = (*PLAIN_FORMATS, *BLOCK_FORMATS)


def dequantize(data: np.ndarray, type_name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """The tensor of `shape` (row-major, outermost first) stored in the bytes `data` as `type_name`."""
    raw = torch.from_numpy(np.array(data, copy=True).reshape(-1).view(np.uint8))  # owns its bytes
    if type_name in PLAIN_FORMATS:
        return raw.view(PLAIN_FORMATS[type_name]).reshape(shape).to(dtype)
    if type_name not in BLOCK_FORMATS:
        raise ValueError(
            f"GGUF tensor type {type_name} is not supported; lmc reads {', '.join(SUPPORTED_TYPES)}"
        )
    elements, size, unpack = BLOCK_FORMATS[type_name]
    if raw.numel() % size:
        raise ValueError(f"{raw.numel()} bytes are not a whole number of {type_name} blocks")
    return unpack(raw.view(-1, size)).reshape(shape).to(dtype)
