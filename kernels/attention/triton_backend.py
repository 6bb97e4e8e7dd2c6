"""Attention through the Triton paged kernels: split-KV decode, or extend for any other batch."""

from __future__ import annotations

import torch

from lmc.kernels.attention import AttentionMetadata
from lmc.kernels.triton.decode_attention import choose_num_splits, decode_attention
from lmc.kernels.triton.extend_attention import extend_attention
from lmc.kernels.triton.kv_store import store_kv
from lmc.kernels.triton.plan import AttentionPlan, plan_attention
from lmc.kernels.triton.shared_prefix_attention import prefix_splits, shared_prefix_attention


class TritonAttention:
    """AttentionBackend on CUDA (or on CPU under TRITON_INTERPRET=1, for tests).

    prepare() builds the plan every layer of the forward shares; forward() only launches kernels,
    sizing its grids from host-side lengths, so it never waits for the GPU.

    `supports_cuda_graph`: with page size 1, a decode plan is the metadata's own device tensors
    (no copy, no host-side lengths), and the decode kernels read every length from device memory
    and choose their split count from the batch size and head count alone. So a decode forward
    captured over static metadata buffers stays right when a replay brings other lengths.

    With `meta.shared_prefix` (cascade attention) a shared prefix is read once per tile of
    query tokens by `shared_prefix_attention`, and each sequence's kernel reads only the rest of
    its KV list, folding the prefix in by log-sum-exp; its grid too comes from sizes alone.
    """

    name = "triton"
    supports_cuda_graph = True

    def __init__(self, device: torch.device | str, extend_block_m: int = 64) -> None:
        self.device = torch.device(device)
        self.extend_block_m = extend_block_m
        self._num_sms = (
            torch.cuda.get_device_properties(self.device).multi_processor_count
            if self.device.type == "cuda"
            else 4
        )
        self._plan: AttentionPlan | None = None

    def prepare(self, meta: AttentionMetadata) -> None:
        self._plan = plan_attention(meta, self.device, self.extend_block_m)

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
        plan = self._plan
        if plan is None or plan.seq_lens is not meta.seq_lens:
            raise RuntimeError(
                "TritonAttention.forward got metadata it was not prepared for: call "
                "backend.prepare(meta) once per forward, before the first layer"
            )
        store_kv(k, v, k_cache, v_cache, meta.out_slots)
        out = torch.empty_like(q)
        prefix = None
        if meta.shared_prefix is not None:
            splits = prefix_splits(q.shape[0], k_cache.shape[1], self._num_sms) if plan.is_decode else 1
            prefix = shared_prefix_attention(q, k_cache, v_cache, plan, meta.shared_prefix, scale, splits)
        if plan.is_decode:
            splits = choose_num_splits(plan.batch_size, k_cache.shape[1], self._num_sms)
            decode_attention(q, k_cache, v_cache, out, plan, scale, splits, prefix=prefix)
        else:
            extend_attention(q, k_cache, v_cache, out, plan, scale, prefix=prefix)
        return out
