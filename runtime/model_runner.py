"""One batched forward over a mix of prefill chunks, jump-forward runs and decodes."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmc.kernels.attention import AttentionBackend, AttentionMetadata
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.scheduler import ScheduledBatch


@dataclass
class ForwardOutput:
    """Logits of the rows the engine asked for, and which row belongs to which sequence.

    `sample_rows[i]` is the logits row for sampling the next token of batch sequence i, or -1
    when its chunk did not reach the end of its tokens. `logprob_rows[i]` lists, for sequences
    that asked for prompt log-probabilities, (row, token id that follows that position).
    """

    logits: torch.Tensor  # [N, vocab] float32
    sample_rows: list[int]
    logprob_rows: list[list[tuple[int, int]]]


class ModelRunner:
    """Turns a scheduled batch into flat tensors and runs the model once."""

    def __init__(self, model: torch.nn.Module, pool: KVPool, attn: AttentionBackend) -> None:
        self.model = model
        self.pool = pool
        self.attn = attn
        self.device = pool.k_caches[0].device
        self.kv_caches = list(zip(pool.k_caches, pool.v_caches))

    @torch.inference_mode()
    def forward(self, batch: ScheduledBatch) -> ForwardOutput:
        input_ids: list[int] = []
        positions: list[int] = []
        kv_indices: list[torch.Tensor] = []
        out_slots: list[torch.Tensor] = []
        seq_lens: list[int] = []
        logits_rows: list[int] = []
        sample_rows: list[int] = []
        logprob_rows: list[list[tuple[int, int]]] = []
        offset = 0
        for seq, n in zip(batch.seqs, batch.extend_lens):
            start, end = seq.num_computed, seq.num_computed + n
            input_ids.extend(seq.token_ids[start:end])
            positions.extend(range(start, end))
            kv_indices.append(seq.slots[:end])
            out_slots.append(seq.slots[start:end])
            seq_lens.append(end)
            scored = self._scored_positions(seq, start, end)
            logprob_rows.append(
                [(len(logits_rows) + k, seq.token_ids[p + 1]) for k, p in enumerate(scored)]
            )
            logits_rows.extend(offset + p - start for p in scored)
            if end == len(seq.token_ids) and seq.remaining_tokens > 0:
                sample_rows.append(len(logits_rows))
                logits_rows.append(offset + n - 1)
            else:
                sample_rows.append(-1)
            offset += n

        meta = self._metadata(batch.extend_lens, seq_lens, kv_indices, out_slots)
        self.attn.prepare(meta)
        logits = self.model(
            torch.tensor(input_ids, dtype=torch.int64, device=self.device),
            torch.tensor(positions, dtype=torch.int64, device=self.device),
            self.kv_caches,
            meta,
            self.attn,
            torch.tensor(logits_rows, dtype=torch.int64, device=self.device),
        )
        return ForwardOutput(logits, sample_rows, logprob_rows)

    @staticmethod
    def _scored_positions(seq, start: int, end: int) -> range:
        """Positions in [start, end) whose logits score the next prompt token (select)."""
        first = seq.request.logprob_start
        if first is None:
            return range(0)
        return range(max(start, first - 1), min(end, seq.prompt_len - 1))

    def _metadata(
        self,
        extend_lens: list[int],
        seq_lens: list[int],
        kv_indices: list[torch.Tensor],
        out_slots: list[torch.Tensor],
    ) -> AttentionMetadata:
        def indptr(lengths: list[int]) -> torch.Tensor:
            out = torch.zeros(len(lengths) + 1, dtype=torch.int32)
            out[1:] = torch.tensor(lengths, dtype=torch.int32).cumsum(0)
            return out.to(self.device)

        return AttentionMetadata(
            qo_indptr=indptr(extend_lens),
            kv_indptr=indptr(seq_lens),
            kv_indices=torch.cat(kv_indices).to(self.device),
            out_slots=torch.cat(out_slots).to(self.device),
            seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=self.device),
            extend_lens=torch.tensor(extend_lens, dtype=torch.int32, device=self.device),
            seq_lens_cpu=seq_lens,
            extend_lens_cpu=extend_lens,
            page_size=1,
        )
