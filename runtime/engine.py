"""The in-process LLM engine: submit requests, step, collect results.

One `step()` is one batched forward: the scheduler picks the work, the model runner computes it,
and the engine samples, applies constraints and jump-forward, checks stop conditions and hands
finished requests' KV to the radix cache. On a GPU, steps overlap: the host reads step N's tokens
while the device computes step N+1 (`LaunchedStep`).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from dataclasses import dataclass, replace

import torch

from lmc.kernels.attention import create_backend
from lmc.runtime.config import EngineConfig
from lmc.runtime.cuda_graph import capture_decode_graphs
from lmc.runtime.device_clock import DeviceClock
from lmc.runtime.kernel_cache import use_lmc_kernel_cache
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.kv_tier import HostTier
from lmc.runtime.launched_step import LaunchedStep
from lmc.runtime.model_loader import LoadedModel, load_model
from lmc.runtime.model_runner import ForwardOutput, ModelRunner
from lmc.runtime.parallel.tensor_parallel import TensorParallel, TensorParallelRunner
from lmc.runtime.radix_cache import RadixCache
from lmc.runtime.request import FinishReason, Request, RequestOutput, SamplingParams
from lmc.runtime.sampler import sample, select_rows, token_logprobs, top_logprobs
from lmc.runtime.scheduler import ScheduledBatch, Scheduler
from lmc.runtime.sequence import PLACEHOLDER, SeqStatus, Sequence
from lmc.runtime.stopping import check_stop, final_text

log = logging.getLogger(__name__)
CPU_KV_TOKENS_CAP = 1 << 17  # on CPU a fraction of free RAM would be far more than any batch needs
CPU_KV_BYTES_CAP = 1 << 30  # and zeroing it costs start-up time: 6 GB took 6 s for SmolLM2's 30 layers


class InvalidRequest(ValueError):
    """A request the engine cannot run; `reason` says why without the request id."""

    def __init__(self, rid: str, reason: str) -> None:
        super().__init__(f"request {rid}: {reason}")
        self.reason = reason


@dataclass
class EngineStats:
    """Counters since start; `hit_rate` is cached / (cached + computed prompt tokens).

    `prefill_tokens` counts computed positions inside prompts, `decode_tokens` computed positions
    after them (sampled or forced); a preempted request that resumes counts its recomputation."""

    requests: int = 0
    finished: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    prefill_tokens: int = 0
    decode_tokens: int = 0
    forced_tokens: int = 0
    evicted_tokens: int = 0
    preemptions: int = 0
    steps: int = 0
    overlapped_steps: int = 0  # steps read only after the next one was launched
    host_stored_tokens: int = 0  # evicted KV written to the host tier
    host_loaded_tokens: int = 0  # cached tokens that came back from the host tier
    forward_seconds: float = 0.0  # inside the model runner's forward: building and launching it
    device_wait_seconds: float = 0.0  # the host blocked on the device for sampled tokens
    device_seconds: float = 0.0  # the device on the steps, from their input copy to their sampling (device_clock.py)

    @property
    def hit_rate(self) -> float:
        total = self.cached_tokens + self.prefill_tokens
        return self.cached_tokens / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**self.__dict__, "hit_rate": self.hit_rate}


@dataclass
class RequestHandle:
    rid: str
    output: RequestOutput | None = None

    @property
    def done(self) -> bool:
        return self.output is not None


class Engine:
    """Continuous batching over a radix-tree KV cache; see the module docstring."""

    def __init__(self, config: EngineConfig | None = None, loaded: LoadedModel | None = None):
        self.config = config = config or EngineConfig()
        self.tensor_parallel = TensorParallel.start(config) if config.tensor_parallel > 1 else None
        self.loaded = loaded or load_model(
            config.model, config.load_format, config.dtype, config.device, config.seed
        )
        self.model = self.loaded.model
        self.tokenizer = self.loaded.tokenizer
        self.device = torch.device(self.loaded.device)
        if self.device.type == "cuda":
            use_lmc_kernel_cache()  # before any Triton kernel compiles
        self.vocab_size = self.model.vocab_size
        # Rows of the logits past the tokenizer's ids (a padded checkpoint, a preset borrowing a
        # smaller tokenizer) have no text: they are never sampled nor scored.
        self.token_vocab_size = min(self.vocab_size, self.tokenizer.vocab_size)
        self.max_model_len = config.max_model_len or getattr(
            self.loaded.config, "max_position_embeddings", 4096
        )
        eos = getattr(self.loaded.config, "eos_token_id", None)
        eos_list = eos if isinstance(eos, list) else [eos]
        self.eos_ids = frozenset(
            i for i in [*eos_list, self.tokenizer.eos_token_id] if i is not None
        )
        if self.tensor_parallel is not None:
            self.tensor_parallel.connect(self.model)  # the model keeps this rank's heads only
        slots = kv_cache_slots(config, self.model, self.loaded.dtype, self.device)
        if self.tensor_parallel is not None:
            slots = self.tensor_parallel.agree_on_slots(slots)
        self.pool = KVPool(
            slots,
            self.model.num_layers,
            self.model.num_kv_heads,
            self.model.head_dim,
            self.loaded.dtype,
            self.device,
        )
        tier = None
        if config.host_kv_cache_gb > 0 and config.enable_radix_cache:
            if self.tensor_parallel is not None:
                raise ValueError("the host KV tier does not work with tensor parallelism yet")
            tier = HostTier(self.pool, int(config.host_kv_cache_gb * 2**30))
        self.cache = RadixCache(self.pool, enabled=config.enable_radix_cache, tier=tier)
        self.scheduler = Scheduler(config, self.pool, self.cache)
        attn = create_backend(config.attention_backend, self.device)
        self._clock = DeviceClock(self.device)  # the runner opens each step's interval, sampling closes it
        if self.tensor_parallel is None:
            graphs = capture_decode_graphs(self.model, self.pool, attn, config, self.max_model_len)
            self.runner = ModelRunner(self.model, self.pool, attn, graphs,
                                      share_prefixes=config.shared_prefix_attention, clock=self._clock)
        else:
            self.runner = TensorParallelRunner(self.model, self.pool, attn, self.tensor_parallel, self._clock)
        self._generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self._ids = itertools.count()
        self._handles: dict[str, RequestHandle] = {}  # requests in flight
        self._pins: dict[str, object] = {}
        self._stats = EngineStats()
        self._overlap = config.overlap_schedule if config.overlap_schedule is not None else self.device.type == "cuda"
        self._overlap = self._overlap and self.tensor_parallel is None
        self._launched: LaunchedStep | None = None  # a deferred step, read by the next step()
        log.info("engine ready: %s on %s (%s), attention %s, %d KV slots, radix cache %s, overlap %s",
                 config.model, self.device, self.loaded.dtype, type(attn).__name__, self.pool.capacity,
                 "on" if config.enable_radix_cache else "off", "on" if self._overlap else "off")

    # ----------------------------------------------------------------- public API

    def submit(self, request: Request) -> RequestHandle:
        """Queue a request; raises ValueError for a request that could never run."""
        rid = request.rid or f"req-{next(self._ids)}"
        if rid in self._handles:
            raise ValueError(f"request id {rid!r} is already in flight")
        self.validate(request, rid)
        if request.concat is not None:
            self._check_branches_cached(request, rid)
        seq = Sequence(request, rid, list(request.input_ids), len(request.input_ids), 0)
        if request.sampling.seed is not None:
            seq.generator = torch.Generator(device=self.device).manual_seed(request.sampling.seed)
        if request.constraint is not None:
            seq.constraint_state = request.constraint.initial_state()
        handle = RequestHandle(rid)
        self._handles[rid] = handle
        self._stats.requests += 1
        self._stats.prompt_tokens += seq.prompt_len
        self.scheduler.add(seq)
        self._jump_forward(seq)
        if seq.finish_reason is not None:  # the constraint forced the whole output
            self._finish(seq)
        return handle

    def generate(self, prompts: list[str] | list[list[int]], sampling: SamplingParams | None = None) -> list[RequestOutput]:
        """Convenience: run prompts (text gets BOS) to completion, results in input order."""
        handles = []
        for prompt in prompts:
            ids = self.tokenizer.encode_run(prompt, at_start=True) if isinstance(prompt, str) else prompt
            handles.append(self.submit(Request(ids, sampling or SamplingParams())))
        self.run_until_done()
        return [h.output for h in handles]

    def has_work(self) -> bool:
        return self.scheduler.has_work() or self._launched is not None

    def run_until_done(self) -> list[RequestOutput]:
        finished: list[RequestOutput] = []
        while self.has_work():
            finished.extend(self.step())
        return finished

    def abort(self, rid: str) -> RequestOutput | None:
        """Stop a waiting or running request now; its computed KV goes to the cache unlocked
        (evictable), so nothing stays held. Its `on_finish` gets FinishReason.ABORT. Returns
        None when `rid` is not in flight (unknown, or already finished)."""
        if rid not in self._handles:
            return None
        seq = next(s for s in [*self.scheduler.running, *self.scheduler.waiting] if s.rid == rid)
        seq.finish_reason = FinishReason.ABORT
        seq.request = replace(seq.request, pin=False)
        return self._finish(seq)

    def unpin(self, rid: str) -> None:
        """Release a pinned request's KV: it stays cached but becomes evictable. A request that
        was never pinned (the cache is off) has nothing to release."""
        node = self._pins.pop(rid, None)
        if node is not None:
            self.cache.unlock(node)

    def close(self) -> None:
        """Stop the tensor-parallel ranks; an engine in one process holds nothing to release."""
        if self.tensor_parallel is not None:
            self.tensor_parallel.close()

    @property
    def reuses_prefixes(self) -> bool:
        return self.cache.enabled

    @property
    def concatenates_kv(self) -> bool:
        """Whether requests may carry a ConcatKV (the branches' KV is read from the cache)."""
        return self.cache.enabled

    def stats(self) -> EngineStats:
        s = self._stats
        s.cached_tokens = self.scheduler.counters.cached_tokens
        s.preemptions = self.scheduler.counters.preemptions
        s.device_seconds = self._clock.seconds
        s.evicted_tokens = self.scheduler.counters.evicted_tokens + self.cache.stats.evicted_for_host_loads
        if self.cache.tier is not None:
            s.host_stored_tokens = self.cache.tier.stats.stored_tokens
            s.host_loaded_tokens = self.cache.tier.stats.loaded_tokens
        return s

    # ----------------------------------------------------------------- one step

    def step(self) -> list[RequestOutput]:
        """Launch one forward and return the requests that finished.

        With overlap scheduling, a step whose tokens need no host decision before the next
        forward (no constraint, penalty or prompt scoring) is read only after the next call has
        scheduled and launched the following forward, so the host's work runs while the GPU
        computes. A request that stops on such a token has by then computed one position more:
        that KV (of its last token) goes to the cache, its sampled successor is dropped."""
        previous, self._launched = self._launched, None
        batch = self.scheduler.schedule()
        if not batch.seqs:
            if previous is not None:
                return self._finish_all(self._read(previous))
            if self.scheduler.has_work():
                raise RuntimeError("the scheduler made no progress: KV memory is too small")
            return []
        start = time.perf_counter()
        out = self.runner.forward(batch, previous)
        self._stats.forward_seconds += time.perf_counter() - start
        self._stats.steps += 1
        if log.isEnabledFor(logging.DEBUG):
            decodes = sum(1 for n in batch.extend_lens if n == 1)
            log.debug("step %d: %d requests (%d decoding), %d tokens, %d KV slots free, %d waiting",
                      self._stats.steps, len(batch.seqs), decodes, sum(batch.extend_lens), self.pool.num_free,
                      len(self.scheduler.waiting))
        launched = self._launch_sampling(batch, out)
        self._clock.stop()
        stopped = self._read(previous) if previous is not None else []
        stopped += self._account(batch, out.sample_rows)
        if launched.deferred:
            self._launched = launched
            self._stats.overlapped_steps += 1
        else:
            stopped += self._read(launched)
        return self._finish_all(stopped)

    def _launch_sampling(self, batch: ScheduledBatch, out: ForwardOutput) -> LaunchedStep:
        """Queue the sampling of `batch`'s next tokens; a deferred step leaves a placeholder as
        the next token of each sequence that will go on, so the scheduler can plan it."""
        logits = out.logits[:, : self.token_vocab_size]
        self._prompt_logprobs(batch.seqs, logits, out.logprob_rows)
        sampled = [seq for seq, row in zip(batch.seqs, out.sample_rows) if row >= 0]
        deferred = self._overlap and not any(out.logprob_rows) and all(map(_decides_on_device, sampled))
        if sampled:
            rows = select_rows(logits, [r for r in out.sample_rows if r >= 0])
            scored = [k for k, seq in enumerate(sampled) if seq.request.logprobs is not None]
            # the model's distribution, taken before sampling masks and penalizes `rows` in place
            logprobs = torch.log_softmax(rows[scored].float(), dim=-1) if scored else None
            tokens = self._sample(sampled, rows)
            if logprobs is not None:
                self._output_logprobs([sampled[k] for k in scored], logprobs, tokens[scored])
        else:
            tokens = torch.empty(0, dtype=torch.int64)
        launched = LaunchedStep.start(sampled, tokens, deferred)
        if deferred:
            for seq in sampled:
                if seq.remaining_tokens > 1:
                    seq.token_ids.append(PLACEHOLDER)
        return launched

    def _account(self, batch: ScheduledBatch, sample_rows: list[int]) -> list[Sequence]:
        """Mark the batch's tokens computed and share finished prefill chunks with the cache;
        returns the prefill-only requests that are done."""
        done = []
        prefill = 0
        for seq, n, row in zip(batch.seqs, batch.extend_lens, sample_rows):
            computed = seq.num_computed
            if computed < seq.prompt_len:
                prefill += min(computed + n, seq.prompt_len) - computed
            seq.num_computed = computed + n
            if seq.finish_reason is not None:
                continue
            if row < 0 and seq.num_pending == 0:
                seq.finish_reason = FinishReason.LENGTH  # a prefill-only request
                done.append(seq)
            elif n > 1:
                self.scheduler.cache_progress(seq)
        self._stats.prefill_tokens += prefill
        self._stats.decode_tokens += sum(batch.extend_lens) - prefill
        return done

    def _read(self, step: LaunchedStep) -> list[Sequence]:
        """Wait for `step`'s tokens and apply them: constraints, stop checks, jump-forward.
        Returns the sequences that stopped; a later placeholder of theirs is dropped."""
        stopped = []
        start = time.perf_counter()
        tokens = step.tokens()
        self._stats.device_wait_seconds += time.perf_counter() - start
        for seq, target, token in zip(step.sampled, step.targets, tokens):
            if seq.finish_reason is not None:  # stopped on its previous token
                continue
            if target < len(seq.token_ids):
                seq.token_ids[target] = token
            else:
                seq.token_ids.append(token)
            if seq.request.on_token is not None:
                seq.request.on_token(seq.rid, token)
            constraint = seq.request.constraint
            if constraint is not None and token not in self.eos_ids:
                seq.constraint_state = constraint.advance(seq.constraint_state, token)
            self._check_stop(seq, target + 1)
            if seq.finish_reason is None:
                self._jump_forward(seq)
            if seq.finish_reason is not None:
                if step.deferred:  # a placeholder of the step launched since
                    del seq.token_ids[target + 1 :]
                stopped.append(seq)
        return stopped

    def _finish_all(self, stopped: list[Sequence]) -> list[RequestOutput]:
        return [self._finish(seq) for seq in stopped]

    def _prompt_logprobs(
        self, seqs: list[Sequence], logits: torch.Tensor, logprob_rows: list[list[tuple[int, int]]]
    ) -> None:
        """Score every requested prompt position of the batch at once: one read from the GPU."""
        pairs = [pair for rows in logprob_rows for pair in rows]
        if not pairs:
            return
        rows, next_ids = zip(*pairs)
        top = max((s.request.top_logprobs for s, r in zip(seqs, logprob_rows) if r), default=0)
        values, tops = token_logprobs(logits, list(rows), list(next_ids), top)
        start = 0
        for seq, seq_rows in zip(seqs, logprob_rows):
            end = start + len(seq_rows)
            seq.prompt_logprobs.extend(values[start:end])
            if seq.request.top_logprobs:
                seq.prompt_top_logprobs.extend(t[: seq.request.top_logprobs] for t in tops[start:end])
            start = end

    def _output_logprobs(self, seqs: list[Sequence], logprobs: torch.Tensor, tokens: torch.Tensor) -> None:
        top = max(seq.request.logprobs or 0 for seq in seqs)
        chosen, best = top_logprobs(logprobs, tokens, top)
        for seq, value, pairs in zip(seqs, chosen, best):
            seq.output_logprobs.append(value)
            seq.output_top_logprobs.append(pairs[: seq.request.logprobs])

    def _sample(self, seqs: list[Sequence], logits: torch.Tensor) -> torch.Tensor:
        """One token per sequence, left on the device; masks and penalties may change `logits`
        in place. Constraint masks span the model's whole vocabulary; only the tokenizer's part
        of them applies."""
        allowed = None
        if any(s.request.constraint is not None for s in seqs):
            from lmc.grammars import fill_masks

            allowed = torch.empty(len(seqs), self.vocab_size, dtype=torch.bool, device=logits.device)
            fill_masks([(s.request.constraint, s.constraint_state) for s in seqs], allowed)
            allowed = allowed[:, : logits.shape[-1]]
        params = [s.request.sampling for s in seqs]
        return sample(
            logits,
            params,
            [s.output_ids if p.frequency_penalty or p.presence_penalty else () for s, p in zip(seqs, params)],
            [s.generator for s in seqs],
            allowed,
            self._generator,
            [s.banned_tokens(self.eos_ids) for s in seqs],
        )

    def _check_stop(self, seq: Sequence, end: int | None = None) -> None:
        """Stop conditions after `token_ids[:end]` (all of them by default)."""
        reason = check_stop(seq.token_ids, seq.request.sampling, self.eos_ids, self.tokenizer.decode_continuation,
                            seq.prompt_len, end)
        constraint = seq.request.constraint
        if reason is None and constraint is not None and constraint.is_terminal(seq.constraint_state):
            reason = FinishReason.CONSTRAINT
        seq.finish_reason = reason

    def _jump_forward(self, seq: Sequence) -> None:
        """Compressed-FSM decoding: append the text the constraint forces, as one extend.

        The output tokens not yet computed (the token just sampled) are re-tokenized together
        with the forced text, so the ids are the ones the tokenizer gives the whole text. Unless
        the jump ends the output, its last token is held back: it could merge with what follows
        (`the` + `▁` + `design` instead of `the` + `▁design`), so the model writes that boundary
        itself. The constraint's state depends only on the text, so it stays exact."""
        constraint = seq.request.constraint
        if constraint is None or not self.config.enable_jump_forward or seq.request.logprobs is not None:
            return
        forced, state = constraint.forced_jump(seq.constraint_state)
        if not forced:
            return
        keep = max(seq.num_computed, seq.prompt_len)
        tail = seq.token_ids[keep:]
        tail_bytes = self.tokenizer.decode_bytes(tail)
        try:
            ids = self.tokenizer.encode_continuation(tail_bytes.decode() + forced)
            if not constraint.is_terminal(state):
                ids = ids[:-1]
            ids = ids[: len(tail) + seq.remaining_tokens]
            text = self.tokenizer.decode_bytes(ids)[len(tail_bytes) :].decode()
        except UnicodeDecodeError:  # a cut inside a character: no jump this time
            return
        if len(ids) <= len(tail) or not text:
            return
        seq.constraint_state = state if text == forced else constraint.state_after_text(seq.constraint_state, text)
        del seq.token_ids[keep:]
        seq.token_ids.extend(ids)
        seq.num_forced += len(ids) - len(tail)
        self._stats.forced_tokens += len(ids) - len(tail)
        if seq.request.on_token is not None:
            for token in ids[len(tail) :]:
                seq.request.on_token(seq.rid, token)
        self._check_stop(seq)

    def _finish(self, seq: Sequence) -> RequestOutput:
        if seq.request.pin and self.cache.enabled and seq.status is SeqStatus.RUNNING:
            self._pins[seq.rid] = self.scheduler.pin(seq)
        elif seq.status is SeqStatus.RUNNING:
            self.scheduler.finish(seq)
        else:
            self.scheduler.drop(seq)
        reason = seq.finish_reason
        params = seq.request.sampling
        output = RequestOutput(
            rid=seq.rid,
            prompt_len=seq.prompt_len,
            output_ids=list(seq.output_ids),
            text=final_text(seq.output_ids, reason, params, self.eos_ids, self.tokenizer.decode_continuation),
            finish_reason=reason,
            cached_tokens=seq.prompt_cached_tokens,
            prompt_logprobs=seq.prompt_logprobs if seq.request.logprob_start is not None else None,
            prompt_top_logprobs=seq.prompt_top_logprobs if seq.request.top_logprobs else None,
        )
        if seq.request.logprobs is not None:
            n = len(output.output_ids)  # a deferred step may have scored a token it then dropped
            output.output_logprobs = seq.output_logprobs[:n]
            output.output_top_logprobs = seq.output_top_logprobs[:n]
        self._handles.pop(seq.rid).output = output  # the caller's handle keeps it; the engine does not
        self._stats.finished += 1
        if seq.request.on_finish is not None:
            seq.request.on_finish(output)
        return output

    # ----------------------------------------------------------------- set-up helpers

    def validate(self, request: Request, rid: str = "") -> None:
        """Raise ValueError for a request that could never run (also safe from another thread:
        it reads only fixed sizes)."""
        check_request(request, rid, self.vocab_size, self.max_model_len, self.pool.capacity)
        concat = request.concat
        if concat is not None:
            if not self.cache.enabled or request.pin:
                raise InvalidRequest(rid, "a concatenation needs the radix cache on, and cannot be pinned")
            if concat.prefix < 1 or min(concat.branches, default=-1) < 0 or concat.length > len(request.input_ids):
                raise InvalidRequest(rid, f"concatenation {concat} does not fit the {len(request.input_ids)}-token prompt")

    def _check_branches_cached(self, request: Request, rid: str) -> None:
        """A ConcatKV request reads its branches from the cache: each must be there whole."""
        assert request.concat is not None
        for i, path in enumerate(request.concat.paths(request.input_ids)):
            _, depth, partial = self.cache.peek_match(path, len(path))
            if depth + partial < len(path):
                raise InvalidRequest(rid, f"branch {i} of the concatenation is not cached "
                                          f"({depth + partial} of {len(path)} tokens); pin every branch first")



def kv_cache_slots(config: EngineConfig, model: torch.nn.Module, dtype: torch.dtype, device: torch.device) -> int:
    """KV slots for `model` (this rank's heads under tensor parallelism) on `device`."""
    if config.kv_cache_tokens is not None:
        return config.kv_cache_tokens
    per_token = KVPool.bytes_per_token(model.num_layers, model.num_kv_heads, model.head_dim, dtype)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * config.kv_cache_fraction) // per_token
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min(int(free * config.kv_cache_fraction) // per_token, CPU_KV_TOKENS_CAP, CPU_KV_BYTES_CAP // per_token)


def check_request(request: Request, rid: str, vocab_size: int, max_model_len: int, kv_slots: int) -> None:
    """Raise InvalidRequest for a request that no engine of these sizes could run; a server
    checks it before the request reaches an engine in another process."""
    ids = request.input_ids
    if not ids:
        raise InvalidRequest(rid, "the prompt is empty")
    if min(ids) < 0 or max(ids) >= vocab_size:  # C loops: a prompt has thousands of ids
        bad = [t for t in ids if not 0 <= t < vocab_size]
        raise InvalidRequest(rid, f"token ids {bad[:5]} are outside the vocabulary (size {vocab_size})")
    total = len(ids) + request.sampling.max_tokens
    if total > max_model_len:
        raise InvalidRequest(rid, f"prompt ({len(ids)} tokens) + max_tokens ({request.sampling.max_tokens}) "
                                  f"= {total} exceeds the model's context length {max_model_len}")
    if total > kv_slots:
        raise InvalidRequest(rid, f"needs {total} KV slots but the cache holds {kv_slots}; raise kv_cache_tokens")
    if request.logprob_start is not None and not 0 < request.logprob_start <= len(ids):
        raise InvalidRequest(rid, f"logprob_start must be in [1, {len(ids)}]")
    if request.top_logprobs and (request.logprob_start is None or request.top_logprobs < 0):
        raise InvalidRequest(rid, "top_logprobs needs logprob_start (it ranks scored prompt positions)")


def _decides_on_device(seq: Sequence) -> bool:
    """Whether `seq`'s next token needs nothing from the host beyond its sampling settings: no
    constraint state to mask with, no output history for penalties."""
    params = seq.request.sampling
    return (seq.request.constraint is None and seq.request.logprobs is None
            and not (params.frequency_penalty or params.presence_penalty))
