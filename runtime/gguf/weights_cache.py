"""A GGUF model's dequantized parameters, kept as one safetensors file per run dtype.

Dequantizing SmolLM2's 4-bit tensors costs 1.5-3 s of every start on two cores. The first load
dequantizes, then writes the model's own parameters (lmc's fused names, in the model's order) to
`weights-<dtype>.safetensors` in the checkpoint's cache directory, whose name is keyed by the
GGUF's path, size and mtime, so a rewritten GGUF gets a new one. Later loads read the file
straight into the freshly allocated parameters, one `readinto` each: no dequantization, no
intermediate tensor, no q/k/v or gate/up fusing. (Memory-mapping the file and copying from it
measured about four times slower on the 2-core VM, whose page faults are expensive.)

The file is written under a temporary name, flushed and renamed into place. A cache is read only
when its header is byte for byte the one this model would write and its length matches; a file
that is truncated, corrupt or from another lmc version is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)
CACHE_VERSION = "1"  # bump when the layout of the parameters changes
_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def cache_file(directory: Path, dtype: torch.dtype) -> Path:
    return directory / f"weights-{_DTYPE_NAMES[dtype].lower()}.safetensors"


def _parameters(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [(name, param.detach()) for name, param in model.named_parameters()]


def _header(params: list[tuple[str, torch.Tensor]]) -> tuple[bytes, int]:
    """The safetensors header of `params` stored contiguously in this order (padded to 8 bytes,
    as the format asks), and the number of data bytes after it."""
    entries: dict[str, object] = {"__metadata__": {"format": "pt", "lmc_cache_version": CACHE_VERSION}}
    offset = 0
    for name, param in params:
        size = param.numel() * param.element_size()
        entries[name] = {"dtype": _DTYPE_NAMES[param.dtype], "shape": list(param.shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, offset


def _host_bytes(tensor: torch.Tensor) -> memoryview:
    """The bytes of a contiguous CPU tensor, writable in place."""
    return memoryview(tensor.view(torch.uint8).reshape(-1).numpy())


def load_into(model: nn.Module, directory: Path, dtype: torch.dtype) -> bool:
    """Fill `model`'s parameters from the cache; False (and no cache left) when there is none
    that matches exactly, so the caller loads the checkpoint and `save`s."""
    path = cache_file(directory, dtype)
    params = _parameters(model)
    header, data_bytes = _header(params)
    try:
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_size != len(header) + data_bytes or file.read(len(header)) != header:
                raise ValueError("its header or length does not match this model")
            with torch.no_grad():
                for name, param in params:
                    target = param if param.device.type == "cpu" else torch.empty_like(param, device="cpu")
                    if file.readinto(_host_bytes(target)) != target.numel() * target.element_size():
                        raise ValueError(f"it ends inside {name}")
                    if target is not param:
                        param.copy_(target)
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        log.warning("rebuilding the weights cache %s: %s", path, exc)
        path.unlink(missing_ok=True)
        return False
    return True


def save(model: nn.Module, directory: Path, dtype: torch.dtype) -> None:
    """Write the model's parameters as the cache, atomically; a failure to write (a full or
    read-only disk) costs only the speed-up, so it is logged, not raised."""
    path = cache_file(directory, dtype)
    params = _parameters(model)
    header, _ = _header(params)
    try:
        fd, staging = tempfile.mkstemp(prefix=".weights-", suffix=".part", dir=directory)
    except OSError as exc:
        log.warning("cannot write the weights cache in %s: %s", directory, exc)
        return
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(header)
            for _, param in params:
                file.write(_host_bytes(param.contiguous().cpu()))
            file.flush()
            os.fsync(file.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except OSError as exc:
        log.warning("cannot write the weights cache %s: %s", path, exc)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
