"""CUDA graphs of the decode forward: one launch per step instead of hundreds.

A decode step of a 32-layer model launches about 350 kernels; launched one by one from Python
the host, not the GPU, sets the pace. Captured once per padded batch size and replayed, a step
costs one host-to-device copy of its index arrays and one graph launch.
"""

from __future__ import annotations

import bisect

import torch

from lmc.kernels.attention import AttentionBackend
from lmc.runtime.config import EngineConfig
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.launched_step import LaunchedStep
from lmc.runtime.step_buffer import StepLayout, StepSizes, host_buffer
from lmc.runtime.step_inputs import StepRows, fill, metadata

MAX_KV_ENTRIES = 1 << 24  # KV list entries the graphs' static buffer holds (128 MiB of int64)


def default_batch_sizes(max_batch: int) -> list[int]:
    """1, 2, 4, then every 8 up to 64 and every 16 beyond, ending at `max_batch`.

    A decode step mostly reads the weights, whatever its batch, so a few padded rows cost
    little, while each size costs capture time and memory."""
    sizes = [1, 2, 4, *range(8, 65, 8), *range(80, max_batch + 16, 16)]
    return sorted({min(size, max_batch) for size in sizes})


def capture_decode_graphs(
    model: torch.nn.Module,
    pool: KVPool,
    attn: AttentionBackend,
    config: EngineConfig,
    max_model_len: int,
) -> DecodeGraphs | None:
    """Graphs for this engine, or None where decode runs eagerly: graphs are off, the device is
    not CUDA, or the attention backend plans from host-side lengths (reference, flashinfer),
    which a replay would not see change."""
    device = pool.k_caches[0].device
    if not config.enable_cuda_graph or device.type != "cuda":
        return None
    if not getattr(attn, "supports_cuda_graph", False):
        return None
    sizes = list(config.cuda_graph_batch_sizes) or default_batch_sizes(config.max_running_requests)
    max_kv_entries = min(max(sizes) * max_model_len, MAX_KV_ENTRIES)
    return DecodeGraphs(model, pool, attn, sizes, max_kv_entries)


class DecodeGraphs:
    """One captured decode forward per batch size in `batch_sizes`; a batch of B sequences runs
    in the smallest graph of at least B rows, the extra rows padded (see `step_inputs.fill`).

    Every graph reads one static device buffer laid out by StepLayout for the largest size and
    writes one static logits buffer. A graph stays right as contexts grow because nothing it
    launches depends on host-side lengths: the attention backend (`supports_cuda_graph`) reads
    lengths and KV lists from device memory and sizes its grids from the batch size alone. A
    batch whose KV lists exceed the buffer's `max_kv_entries` runs eagerly instead.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        pool: KVPool,
        attn: AttentionBackend,
        batch_sizes: list[int],
        max_kv_entries: int,
    ) -> None:
        self.sizes = sorted(set(batch_sizes))
        if not self.sizes or self.sizes[0] < 1:
            raise ValueError(f"CUDA graph batch sizes must be positive integers, got {batch_sizes}")
        self.device = pool.k_caches[0].device
        largest = self.sizes[-1]
        self.layout = StepLayout.for_sizes(StepSizes(largest, largest, largest, max_kv_entries))
        self.buffer = torch.zeros(self.layout.nbytes, dtype=torch.uint8, device=self.device)
        self.inputs = self.layout.views(self.buffer)
        self.logits = torch.empty(largest, model.vocab_size, dtype=torch.float32, device=self.device)
        self.replays = 0
        self._all_rows = torch.arange(largest, device=self.device)
        self._graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._capture(model, list(zip(pool.k_caches, pool.v_caches)), attn)

    def fits(self, rows: StepRows) -> bool:
        batch = len(rows.seq_lens)
        if not rows.is_decode or batch > self.sizes[-1]:
            return False
        pad = self._padded(batch) - batch
        return rows.kv_entries + pad <= self.layout.sizes.kv_entries

    def run(self, rows: StepRows, previous: LaunchedStep | None = None) -> torch.Tensor:
        """Replay the graph for `rows` (which must `fit`); float32 logits of `rows.logits_rows`.
        Placeholder tokens come from `previous` (see `LaunchedStep.copy_into`).

        The result is a view of the static logits buffer, valid until the next replay."""
        size = self._padded(len(rows.seq_lens))
        self._copy_in(rows, size)
        if previous is not None:
            previous.copy_into(self.inputs["input_ids"], rows)
        self._graphs[size].replay()
        self.replays += 1
        n = len(rows.logits_rows)
        if rows.logits_rows == list(range(n)):  # every sequence samples: row i is token i
            return self.logits[:n]
        return self.logits.index_select(0, self.inputs["logits_rows"][:n])

    def _padded(self, batch: int) -> int:
        return self.sizes[bisect.bisect_left(self.sizes, batch)]

    def _copy_in(self, rows: StepRows, size: int) -> None:
        """Fill a pinned host buffer with `rows` padded to `size`; one asynchronous copy of its
        used prefix into the static buffer (stream-ordered after the previous replay)."""
        kv_entries = rows.kv_entries + size - len(rows.seq_lens)
        nbytes = self.layout.used_bytes(kv_entries)
        host = host_buffer(nbytes, self.device)
        fill(self.layout.views(host, kv_entries), rows, pad_to=size)
        self.buffer[:nbytes].copy_(host, non_blocking=True)

    @torch.inference_mode()
    def _capture(self, model: torch.nn.Module, kv_caches: list, attn: AttentionBackend) -> None:
        """Warm every size up eagerly (Triton compiles, cuBLAS picks its kernels), then capture
        from the largest size down, all graphs sharing one memory pool: they never run at once.

        Inputs during capture are all padding rows, so the warm-up writes the scratch slot only."""
        empty = StepRows([], [], [], [], [], [], [], [])
        self._copy_in(empty, self.sizes[-1])

        def forward(size: int) -> None:
            meta = metadata(self.inputs, empty, size)
            attn.prepare(meta)
            logits = model(
                self.inputs["input_ids"][:size], self.inputs["positions"][:size], kv_caches,
                meta, attn, self._all_rows[:size],
            )
            self.logits[:size].copy_(logits)

        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for size in self.sizes:
                forward(size)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        memory_pool = torch.cuda.graph_pool_handle()
        for size in reversed(self.sizes):
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=memory_pool):
                forward(size)
            self._graphs[size] = graph
        torch.cuda.synchronize(self.device)
