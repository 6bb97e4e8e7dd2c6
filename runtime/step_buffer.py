"""Every index array of one forward in one byte buffer: filled on the host, moved in one copy.

A forward needs nine small integer arrays (token ids, positions, KV slots, offsets, ...). Copying
each on its own costs one synchronising host-to-device transfer apiece; laid out at fixed offsets
in one pinned buffer they move in a single asynchronous copy, and a CUDA graph can read them from
one static device buffer whose layout never changes between steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_ALIGN = 16  # bytes; aligned arrays keep Triton on one compiled variant of each kernel

# name -> (dtype, which count sizes it, extra entries). kv_indices comes last, so that a copy of
# the buffer's first `used_bytes(k)` bytes moves a KV list of any length k up to the capacity.
_FIELDS: dict[str, tuple[torch.dtype, str, int]] = {
    "input_ids": (torch.int64, "tokens", 0),
    "positions": (torch.int64, "tokens", 0),
    "out_slots": (torch.int64, "tokens", 0),
    "logits_rows": (torch.int64, "logits", 0),
    "qo_indptr": (torch.int32, "seqs", 1),
    "kv_indptr": (torch.int32, "seqs", 1),
    "seq_lens": (torch.int32, "seqs", 0),
    "extend_lens": (torch.int32, "seqs", 0),
    "prefix_lens": (torch.int32, "seqs", 0),  # shared-prefix tables (kernels/attention/shared_prefix.py)
    "tile_tokens": (torch.int32, "tokens", 0),
    "tile_first": (torch.int32, "tokens", 0),
    "tile_count": (torch.int32, "tokens", 0),
    "tile_leader": (torch.int32, "tokens", 0),
    "tile_len": (torch.int32, "tokens", 0),
    "kv_indices": (torch.int64, "kv_entries", 0),
}


@dataclass(frozen=True)
class StepSizes:
    """Capacities of one buffer: packed tokens T, sequences B, logits rows N, KV entries K."""

    tokens: int
    seqs: int
    logits: int
    kv_entries: int


@dataclass(frozen=True)
class StepLayout:
    """Byte offset of each array of `_FIELDS` for the given capacities."""

    sizes: StepSizes
    offsets: dict[str, int]
    nbytes: int

    @classmethod
    def for_sizes(cls, sizes: StepSizes) -> StepLayout:
        offsets, end = {}, 0
        for name, (dtype, count, extra) in _FIELDS.items():
            offsets[name] = end
            nbytes = (getattr(sizes, count) + extra) * dtype.itemsize
            end += -(-nbytes // _ALIGN) * _ALIGN
        return cls(sizes, offsets, end)

    def used_bytes(self, kv_entries: int) -> int:
        """Bytes from the start through the first `kv_entries` KV indices."""
        return self.offsets["kv_indices"] + kv_entries * torch.int64.itemsize

    def views(self, buffer: torch.Tensor, kv_entries: int | None = None) -> dict[str, torch.Tensor]:
        """Typed views of `buffer` (uint8, at least `used_bytes(kv_entries)` long), one per array
        at its full capacity; kv_indices is cut to `kv_entries` when given."""
        out = {}
        for name, (dtype, count, extra) in _FIELDS.items():
            n = getattr(self.sizes, count) + extra
            if name == "kv_indices" and kv_entries is not None:
                n = kv_entries
            start = self.offsets[name]
            out[name] = buffer[start : start + n * dtype.itemsize].view(dtype)
        return out


def host_buffer(nbytes: int, device: torch.device) -> torch.Tensor:
    """A uint8 host buffer, pinned when it is bound for a CUDA device so its copy is asynchronous.

    Pinned blocks come from torch's caching host allocator, which keeps a block out of reuse until
    the copies that read it have finished, so a fresh buffer per step is both cheap and safe."""
    return torch.empty(nbytes, dtype=torch.uint8, pin_memory=device.type == "cuda")


def to_device(host: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host to device without waiting for the GPU (the source must come from `host_buffer` or
    be pinned); on the CPU the tensor itself."""
    if device.type == "cpu":
        return host
    return host.to(device, non_blocking=True)
