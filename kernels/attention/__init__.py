"""One attention interface, several backends chosen once at engine start-up.

The KV cache of a layer is a pair of tensors `[num_slots, num_kv_heads, head_dim]`; a sequence's
keys and values live at arbitrary slots (paged with page size 1), listed in position order by
`kv_indices[kv_indptr[b]:kv_indptr[b+1]]`. Backends with larger pages view the same memory as
`[num_slots // page_size, page_size, heads, dim]`.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Protocol

import torch

from lmc.kernels.attention.shared_prefix import SharedPrefixTables

log = logging.getLogger(__name__)


@dataclass
class AttentionMetadata:
    """Where one forward's tokens come from and where their K/V go.

    Tokens of all sequences are packed along one dimension of length T = sum(extend_lens).
    Sequence b owns query rows `qo_indptr[b]:qo_indptr[b+1]`; its new tokens sit at the *end* of
    its KV list, so query i of b (0-based among its new tokens) may attend to KV positions
    `0 .. seq_lens[b] - extend_lens[b] + i` (causal over the new tokens, full over the prefix).
    Backends that cannot share a prefix's reads ignore `shared_prefix`: it changes no result.
    """

    qo_indptr: torch.Tensor  # [B+1] int32, on the model's device
    kv_indptr: torch.Tensor  # [B+1] int32
    kv_indices: torch.Tensor  # [sum(seq_lens)] int64 slot ids, prefix then new tokens
    out_slots: torch.Tensor  # [T] int64: the slot where each new token's K/V is written
    seq_lens: torch.Tensor  # [B] int32: KV length after this step
    extend_lens: torch.Tensor  # [B] int32: new tokens this step (1 for a decode)
    seq_lens_cpu: list[int]  # host copies: backends plan launches from these without a sync
    extend_lens_cpu: list[int]
    page_size: int = 1
    shared_prefix: SharedPrefixTables | None = None  # cascade tables (see shared_prefix.py)

    @property
    def batch_size(self) -> int:
        return len(self.seq_lens_cpu)

    @property
    def is_decode(self) -> bool:
        """True when every sequence adds exactly one token (the decode-only fast path)."""
        return all(n == 1 for n in self.extend_lens_cpu)


class AttentionBackend(Protocol):
    """Writes the new K/V into the cache, then attends over each sequence's full KV list."""

    name: str

    def prepare(self, meta: AttentionMetadata) -> None:
        """Called once per forward before any layer: plan launches, build auxiliary indices."""

    def forward(
        self,
        q: torch.Tensor,  # [T, num_q_heads, head_dim]
        k: torch.Tensor,  # [T, num_kv_heads, head_dim] new keys (rotary already applied)
        v: torch.Tensor,  # [T, num_kv_heads, head_dim]
        k_cache: torch.Tensor,  # [num_slots, num_kv_heads, head_dim]
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:  # [T, num_q_heads, head_dim]
        ...


_BACKENDS = {
    "reference": "lmc.kernels.attention.reference:ReferenceAttention",
    "triton": "lmc.kernels.attention.triton_backend:TritonAttention",
    "flashinfer": "lmc.kernels.attention.flashinfer_backend:FlashInferAttention",
}


def available_backends() -> list[str]:
    return list(_BACKENDS)


def create_backend(name: str, device: torch.device | str) -> AttentionBackend:
    """Pick a backend by name; "auto" takes flashinfer, then triton on CUDA, reference elsewhere."""
    device = torch.device(device)
    if name == "auto":
        if device.type != "cuda":
            name = "reference"
        else:
            for candidate in ("flashinfer", "triton"):
                try:
                    return create_backend(candidate, device)
                except ImportError as exc:
                    log.warning("attention backend %s is unavailable (%s); trying the next one", candidate, exc)
            log.warning("no GPU attention backend is available; using the reference torch backend")
            name = "reference"
    if name not in _BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; choose one of {available_backends()}")
    module_name, cls_name = _BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(device)
