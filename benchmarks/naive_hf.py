"""The transformers baseline: an engine-shaped wrapper around `generate` with no KV reuse.

The executor drives it exactly as it drives lmc's engine, so the same program runs the same way;
the difference is what SGLang-style systems improve on: every request is computed from scratch
(no radix cache, no pinned prefixes, no jump-forward), each gen node of a batch of rows is one
padded `generate` call, and select choices are scored with one padded forward each.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from lmc.runtime.engine import EngineStats
from lmc.runtime.request import FinishReason, Request, RequestOutput
from lmc.runtime.tokenizer import Tokenizer

GEN_BATCH = 32
SCORE_BATCH = 8
PAD = 0


class _Rows:
    """Per-row decoding state of one `generate` call: constraint states and stop checks."""

    def __init__(self, requests: list[Request], start: int, tokenizer: Tokenizer, eos: frozenset[int]) -> None:
        self.requests = requests
        self.start = start
        self.tokenizer = tokenizer
        self.eos = eos
        self.states = [r.constraint.initial_state() if r.constraint is not None else None for r in requests]
        self.consumed = [0] * len(requests)
        self.done: list[tuple[int, FinishReason] | None] = [None] * len(requests)

    def advance(self, ids: torch.Tensor) -> None:
        for i, request in enumerate(self.requests):
            new = ids[i, self.start + self.consumed[i]:].tolist()
            if request.constraint is not None and self.done[i] is None:
                for token in new:
                    if token not in self.eos:
                        self.states[i] = request.constraint.advance(self.states[i], token)
            self.consumed[i] += len(new)


class _Mask(LogitsProcessor):
    def __init__(self, rows: _Rows) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.rows.advance(input_ids)
        for i, request in enumerate(self.rows.requests):
            if request.constraint is not None and self.rows.done[i] is None:
                allowed = request.constraint.allowed_tokens(self.rows.states[i]).to(scores.device)
                scores[i, : allowed.shape[0]].masked_fill_(~allowed, float("-inf"))
                scores[i, allowed.shape[0]:] = float("-inf")
        return scores


class _Stop(StoppingCriteria):
    def __init__(self, rows: _Rows) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        rows = self.rows
        rows.advance(input_ids)
        n = input_ids.shape[1] - rows.start
        for i, request in enumerate(rows.requests):
            if rows.done[i] is not None:
                continue
            params = request.sampling
            last = int(input_ids[i, -1])
            reason = None
            if last in params.stop_token_ids:
                reason = FinishReason.STOP
            elif last in rows.eos and not params.ignore_eos:
                reason = FinishReason.EOS
            elif params.stop and any(s in rows.tokenizer.decode(input_ids[i, rows.start:].tolist()) for s in params.stop):
                reason = FinishReason.STOP
            elif request.constraint is not None and request.constraint.is_terminal(rows.states[i]):
                reason = FinishReason.CONSTRAINT
            elif n >= params.max_tokens:
                reason = FinishReason.LENGTH
            if reason is not None:
                rows.done[i] = (n, reason)
        return torch.tensor([d is not None for d in rows.done], device=input_ids.device)


class NaiveHFEngine:
    """`submit`/`step`/`has_work` like lmc's Engine; each `step` runs every queued request."""

    def __init__(self, model_dir: Path | str, tokenizer: Tokenizer, eos_ids: frozenset[int],
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(self.device).eval()
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.vocab_size = self.model.config.vocab_size
        self.reuses_prefixes = False  # every request computed from scratch
        self._queue: list[Request] = []
        self._stats = EngineStats()

    def submit(self, request: Request) -> None:
        self._queue.append(request)
        self._stats.requests += 1
        self._stats.prompt_tokens += len(request.input_ids)

    def has_work(self) -> bool:
        return bool(self._queue)

    def unpin(self, rid: str) -> None:
        """Nothing is ever pinned: there is no cache."""

    def stats(self) -> EngineStats:
        return self._stats

    @torch.no_grad()
    def step(self) -> list[RequestOutput]:
        queue, self._queue = self._queue, []
        self._stats.steps += 1
        outputs: list[RequestOutput] = []
        gens: dict[tuple, list[Request]] = defaultdict(list)
        scores: list[Request] = []
        for request in queue:
            if request.sampling.max_tokens > 0:
                s = request.sampling
                gens[(s.max_tokens, s.temperature, s.top_p, s.top_k, s.min_p)].append(request)
            elif request.logprob_start is not None:
                scores.append(request)
            else:  # a pin or prefetch: only useful to a cache, and there is none
                outputs.append(self._finish(request, [], FinishReason.LENGTH))
        for group in gens.values():
            for i in range(0, len(group), GEN_BATCH):
                outputs += self._generate(group[i : i + GEN_BATCH])
        for i in range(0, len(scores), SCORE_BATCH):
            outputs += self._score(scores[i : i + SCORE_BATCH])
        return outputs

    def _generate(self, requests: list[Request]) -> list[RequestOutput]:
        width = max(len(r.input_ids) for r in requests)
        ids = torch.tensor([[PAD] * (width - len(r.input_ids)) + r.input_ids for r in requests], device=self.device)
        mask = torch.tensor([[0] * (width - len(r.input_ids)) + [1] * len(r.input_ids) for r in requests],
                            device=self.device)
        params = requests[0].sampling
        rows = _Rows(requests, width, self.tokenizer, self.eos_ids)
        config = GenerationConfig(
            max_new_tokens=params.max_tokens, do_sample=params.temperature > 0, pad_token_id=PAD, eos_token_id=None,
            **({"temperature": params.temperature, "top_p": params.top_p, "top_k": max(params.top_k, 0)}
               if params.temperature > 0 else {}),
        )
        out = self.model.generate(ids, attention_mask=mask, generation_config=config,
                                  logits_processor=LogitsProcessorList([_Mask(rows)]),
                                  stopping_criteria=StoppingCriteriaList([_Stop(rows)]))
        self._stats.prefill_tokens += sum(len(r.input_ids) for r in requests)
        results = []
        for i, request in enumerate(requests):
            n, reason = rows.done[i] or (out.shape[1] - width, FinishReason.LENGTH)
            new = out[i, width : width + n].tolist()
            self._stats.decode_tokens += len(new)
            results.append(self._finish(request, new, reason))
        return results

    def _score(self, requests: list[Request]) -> list[RequestOutput]:
        width = max(len(r.input_ids) for r in requests)
        ids = torch.tensor([r.input_ids + [PAD] * (width - len(r.input_ids)) for r in requests], device=self.device)
        mask = torch.tensor([[1] * len(r.input_ids) + [0] * (width - len(r.input_ids)) for r in requests],
                            device=self.device)
        hidden = self.model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        results = []
        for i, request in enumerate(requests):
            start, end = request.logprob_start or 1, len(request.input_ids)
            logits = self.model.lm_head(hidden[i, start - 1 : end - 1]).float()
            picked = torch.log_softmax(logits, dim=-1)[torch.arange(end - start, device=self.device), ids[i, start:end]]
            self._stats.prefill_tokens += end
            results.append(self._finish(request, [], FinishReason.LENGTH, picked.tolist()))
        return results

    def _finish(self, request: Request, ids: list[int], reason: FinishReason,
                logprobs: list[float] | None = None) -> RequestOutput:
        output = RequestOutput(request.rid, len(request.input_ids), ids, self.tokenizer.decode(ids), reason,
                               0, logprobs)
        self._stats.finished += 1
        if request.on_finish is not None:
            request.on_finish(output)
        return output
