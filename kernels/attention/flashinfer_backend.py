"""Attention through flashinfer's paged prefill and decode wrappers (optional extra `lmc[gpu]`).

The engine's page-size-1 layout maps straight onto flashinfer's paged KV: pages are slots,
`kv_indptr`/`kv_indices` are the page table, and every last page holds exactly one entry.
"""

from __future__ import annotations

from typing import Any

import torch

from lmc.kernels.attention import AttentionMetadata

try:
    import flashinfer
except ImportError as err:
    raise ImportError(
        "the flashinfer attention backend needs flashinfer-python: pip install 'lmc[gpu]' "
        "(or pick --attention-backend triton)"
    ) from err

_WORKSPACE_BYTES = 128 * 1024 * 1024  # flashinfer's recommended split-KV scratch size


class FlashInferAttention:
    """AttentionBackend on CUDA through flashinfer.

    flashinfer's plan() needs head counts, head_dim and dtypes, which AttentionMetadata does not
    carry, so prepare() only builds the host-side index arrays and the first layer's forward plans;
    the other layers of that forward reuse the plan. Planning reads host arrays only (no sync).
    Shared-prefix tables (`meta.shared_prefix`) are not used: flashinfer's cascade wrappers are
    not wired (flashinfer is not installed on the lent GPU), so every row reads its whole KV list.
    """

    name = "flashinfer"

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._workspace = torch.zeros(_WORKSPACE_BYTES, dtype=torch.uint8, device=self.device)
        self._prefill = flashinfer.BatchPrefillWithPagedKVCacheWrapper(self._workspace, "NHD")
        self._decoders: dict[bool, Any] = {}
        self._meta: AttentionMetadata | None = None
        self._host: dict[str, torch.Tensor] = {}
        self._planned: tuple[Any, ...] | None = None

    def prepare(self, meta: AttentionMetadata) -> None:
        if meta.page_size != 1:
            raise ValueError(
                f"the flashinfer backend takes the engine's page size 1, got {meta.page_size}; "
                "use --attention-backend triton for larger pages"
            )
        seq_lens = torch.tensor(meta.seq_lens_cpu, dtype=torch.int32)
        ext_lens = torch.tensor(meta.extend_lens_cpu, dtype=torch.int32)
        self._host = {
            "qo_indptr": torch.cat([torch.zeros(1, dtype=torch.int32), ext_lens.cumsum(0)]).int(),
            "kv_indptr": torch.cat([torch.zeros(1, dtype=torch.int32), seq_lens.cumsum(0)]).int(),
            "last_page_len": torch.ones_like(seq_lens),
        }
        self._kv_indices = meta.kv_indices.to(torch.int32)
        self._meta = meta
        self._planned = None

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        k_cache: torch.Tensor,
        v_cache: torch.Tensor,
        meta: AttentionMetadata,
        scale: float,
    ) -> torch.Tensor:
        if meta is not self._meta:
            raise RuntimeError(
                "FlashInferAttention.forward got metadata it was not prepared for: call "
                "backend.prepare(meta) once per forward, before the first layer"
            )
        k_cache.index_copy_(0, meta.out_slots, k.to(k_cache.dtype))
        v_cache.index_copy_(0, meta.out_slots, v.to(v_cache.dtype))
        wrapper = self._plan(q, k_cache, meta.is_decode, scale)
        paged = (k_cache.unsqueeze(1), v_cache.unsqueeze(1))  # [pages, page_size 1, heads, dim]
        return wrapper.run(q.contiguous(), paged)

    def _plan(self, q: torch.Tensor, k_cache: torch.Tensor, decode: bool, scale: float) -> Any:
        """Plan once per forward (the first layer's call); later layers find the same key."""
        num_q_heads, num_kv_heads, head_dim = q.shape[1], k_cache.shape[1], q.shape[2]
        use_tensor_cores = num_q_heads // num_kv_heads >= 4
        key = (decode, num_q_heads, num_kv_heads, head_dim, q.dtype, k_cache.dtype, scale)
        if decode:
            if use_tensor_cores not in self._decoders:
                self._decoders[use_tensor_cores] = flashinfer.BatchDecodeWithPagedKVCacheWrapper(
                    self._workspace, "NHD", use_tensor_cores=use_tensor_cores
                )
            wrapper = self._decoders[use_tensor_cores]
        else:
            wrapper = self._prefill
        if self._planned == key:
            return wrapper
        host = self._host
        common = dict(q_data_type=q.dtype, kv_data_type=k_cache.dtype, sm_scale=scale)
        if decode:
            wrapper.plan(
                host["kv_indptr"], self._kv_indices, host["last_page_len"],
                num_q_heads, num_kv_heads, head_dim, 1, **common,
            )
        else:
            wrapper.plan(
                host["qo_indptr"], host["kv_indptr"], self._kv_indices, host["last_page_len"],
                num_q_heads, num_kv_heads, head_dim, 1, causal=True, **common,
            )
        self._planned = key
        return wrapper
