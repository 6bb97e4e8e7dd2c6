"""Engine configuration: the one place where runtime knobs live."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "smollm2-135m"  # a real instruct model, fetched on first use; `tiny` is the offline test model


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs to start; passed down, never read from globals.

    `kv_cache_tokens` wins over `kv_cache_fraction` when both are set. `starvation_steps` bounds
    how long cache-aware ordering may postpone a request: after waiting that many scheduler steps
    a request is admitted before any younger one, whatever its cache hit.
    `decode_reserve_tokens` KV slots per running request are kept free when admitting new work, so
    that admission rarely forces a preemption. A waiting request that shares at least
    `defer_shared_prefix_tokens` not-yet-cached tokens (or half of its own, if fewer) with one
    admitted in the same step waits a step, then reads them from the cache instead of computing
    them a second time.
    `overlap_schedule` lets the host schedule and launch step N+1 before it reads step N's
    tokens (see `Engine.step`); on the CPU there is nothing to overlap, so it is off by default.
    `tensor_parallel` ranks (processes) share each layer's heads and MLP columns
    (`runtime/parallel/tensor_parallel.py`). `host_kv_cache_gb` > 0 keeps KV that the radix
    cache evicts in (pinned) host memory, up to that many GiB, to load back on a later hit
    (`runtime/kv_tier.py`).
    """

    model: str = DEFAULT_MODEL
    load_format: str = "auto"  # "auto" (safetensors) or "dummy" (seeded random weights)
    dtype: str = "auto"  # "auto": float32 on CPU, bfloat16 on CUDA
    device: str = "cpu"
    seed: int = 0
    attention_backend: str = "auto"  # auto | reference | triton | flashinfer
    kv_cache_tokens: int | None = None
    kv_cache_fraction: float = 0.8
    page_size: int = 1
    enable_radix_cache: bool = True
    shared_prefix_attention: bool = True  # cascade attention over long shared cached prefixes
    max_running_requests: int = 256
    max_batch_tokens: int = 4096  # token budget of one forward (decodes + extends)
    chunk_size: int = 2048  # longest extend of one request in one step (chunked prefill)
    schedule_policy: str = "lpm"  # "lpm": longest matched prefix first; "fcfs"
    starvation_steps: int = 64
    decode_reserve_tokens: int = 8
    defer_shared_prefix_tokens: int = 32
    max_model_len: int | None = None
    enable_cuda_graph: bool = True
    cuda_graph_batch_sizes: tuple[int, ...] = ()  # empty: 1, 2, 4, 8, 16, ... max_running_requests
    enable_jump_forward: bool = True
    overlap_schedule: bool | None = None  # None: on for CUDA (host work hides behind the GPU)
    tensor_parallel: int = 1
    host_kv_cache_gb: float = 0.0
