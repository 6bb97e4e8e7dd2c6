"""One batched forward over a mix of prefill chunks, jump-forward runs and decodes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmc.kernels.attention import AttentionBackend
from lmc.runtime.cuda_graph import DecodeGraphs
from lmc.runtime.device_clock import DeviceClock
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.launched_step import LaunchedStep
from lmc.runtime.prefix_groups import PrefixGrouper
from lmc.runtime.scheduler import ScheduledBatch
from lmc.runtime.step_buffer import StepLayout, StepSizes, host_buffer, to_device
from lmc.runtime.step_inputs import StepRows, fill, metadata, plan_rows


@dataclass
class ForwardOutput:
    """Logits of the rows the engine asked for, and which row belongs to which sequence.

    `sample_rows[i]` is the logits row for sampling the next token of batch sequence i, or -1
    when its chunk did not reach the end of its tokens. `logprob_rows[i]` lists, for sequences
    that asked for prompt log-probabilities, (row, token id that follows that position). The
    logits may live in a buffer that the next forward overwrites: read them before it runs.
    """

    logits: torch.Tensor  # [N, vocab] float32
    sample_rows: list[int]
    logprob_rows: list[list[tuple[int, int]]]


class ModelRunner:
    """Turns a scheduled batch into flat tensors and runs the model once: a pure decode batch
    through a captured CUDA graph when `graphs` has one that fits, anything else eagerly."""

    def __init__(
        self,
        model: torch.nn.Module,
        pool: KVPool,
        attn: AttentionBackend,
        graphs: DecodeGraphs | None = None,
        share_prefixes: bool = True,
        clock: DeviceClock | None = None,
    ) -> None:
        self.model = model
        self.clock = clock  # opened here, at the step's first device work; the engine closes it
        self.share_prefixes = share_prefixes  # cascade attention over shared cached prefixes
        self._grouper = PrefixGrouper()
        self.pool = pool
        self.attn = attn
        self.graphs = graphs
        self.device = pool.k_caches[0].device
        self.kv_caches = list(zip(pool.k_caches, pool.v_caches))

    @torch.inference_mode()
    def forward(self, batch: ScheduledBatch, previous: LaunchedStep | None = None) -> ForwardOutput:
        """Launch the forward of `batch`; input tokens that `previous` sampled and the host has
        not read yet come from its device tensor."""
        rows = plan_rows(batch, self._grouper if self.share_prefixes else None)
        if self.clock is not None:
            self.clock.start()
        if rows.placeholders and previous is None:
            raise RuntimeError("the batch has tokens still on the device but no step in flight")
        if self.graphs is not None and self.graphs.fits(rows):
            logits = self.graphs.run(rows, previous)
        else:
            logits = self._eager(rows, previous)
        return ForwardOutput(logits, rows.sample_rows, rows.logprob_rows)

    def _eager(self, rows: StepRows, previous: LaunchedStep | None) -> torch.Tensor:
        """All index arrays in one host buffer and one asynchronous copy, then the model."""
        batch = len(rows.seq_lens)
        sizes = StepSizes(len(rows.input_ids), batch, len(rows.logits_rows), rows.kv_entries)
        layout = StepLayout.for_sizes(sizes)
        host = host_buffer(layout.nbytes, self.device)
        fill(layout.views(host), rows, pad_to=batch)
        return self.run_buffer(layout, host, rows, previous)

    def run_buffer(
        self, layout: StepLayout, host: torch.Tensor, rows: StepRows, previous: LaunchedStep | None = None
    ) -> torch.Tensor:
        """The model over a filled step buffer (what a tensor-parallel rank receives)."""
        batch = layout.sizes.seqs
        views = layout.views(to_device(host, self.device))
        if previous is not None:
            previous.copy_into(views["input_ids"], rows)
        meta = metadata(views, rows, batch)
        self.attn.prepare(meta)
        return self.model(
            views["input_ids"], views["positions"], self.kv_caches, meta, self.attn,
            views["logits_rows"],
        )
