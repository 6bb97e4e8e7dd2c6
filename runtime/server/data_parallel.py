"""`lmc serve --data-parallel N`: N engine processes behind one server, each request routed to
the worker most likely to hold its prefix (router.py), with load balancing.

`RoutedWorkers` stands where the one-engine `EngineWorker` stands (submit, abort, unpin, the
queue limit, gauges); `ModelFacts` stands where the `Engine` stands for the routes: the model's
tokenizer (loaded here, in the server's process) and the sizes every worker reported. Workers
are spread over GPUs as `lmc run --data-parallel` spreads them (worker r on GPU r mod the
visible count), or over equal slices of the CPU's cores.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import EngineStats
from lmc.runtime.request import Request, RequestOutput
from lmc.runtime.server.engine_process import RemoteWorker
from lmc.runtime.server.router import PrefixRouter, RouterConfig
from lmc.runtime.server.worker import Overloaded, Unavailable


@dataclass
class ModelFacts:
    """What the routes read of the model when no engine lives in the server's process."""

    tokenizer: Any
    max_model_len: int
    vocab_size: int
    eos_ids: frozenset[int]
    reuses_prefixes: bool
    workers: RoutedWorkers

    def stats(self) -> EngineStats:
        """The workers' counters summed, as of each one's latest finished request."""
        total = EngineStats()
        for worker in self.workers.workers:
            state = worker.state
            total.cached_tokens += int(state.get("lmc_cached_tokens", 0))
            total.prefill_tokens += int(state.get("lmc_prefill_tokens", 0))
            total.decode_tokens += int(state.get("lmc_decode_tokens", 0))
        return total


class RoutedWorkers:
    """N engine processes and the router; at most `max_queue` requests in flight over all."""

    def __init__(self, workers: list[RemoteWorker], max_queue: int = 1024, router: RouterConfig | None = None) -> None:
        self.workers = workers
        self.max_queue = max_queue
        capacity = min(w.facts.kv_capacity for w in workers)
        self.router = PrefixRouter(len(workers), router or RouterConfig(max_tokens=capacity))
        self.routed = [0] * len(workers)
        self._where: dict[str, int] = {}  # requests in flight, and pinned ones, by worker
        self._lock = threading.Lock()
        self._ids = itertools.count()

    @classmethod
    def launch(cls, config: EngineConfig, count: int, max_queue: int = 1024) -> RoutedWorkers:
        """Start `count` engine processes at once and wait for all of them to load."""
        from lmc.runtime.parallel.data_parallel import worker_devices

        if count < 1:
            raise ValueError(f"--data-parallel needs at least one worker, got {count}")
        devices = worker_devices(config)
        threads = max(1, (os.cpu_count() or 1) // count)
        workers = [RemoteWorker(r, config, devices[r % len(devices)] if devices else None, threads)
                   for r in range(count)]
        try:
            for worker in workers:
                worker.launch()
            for worker in workers:
                worker.wait_ready()
        except BaseException:
            for worker in workers:
                worker.stop()
            raise
        return cls(workers, max_queue)

    def facts(self, tokenizer: Any) -> ModelFacts:
        first = self.workers[0].facts
        return ModelFacts(tokenizer, first.max_model_len, first.vocab_size, first.eos_ids, first.reuses_prefixes, self)

    def start(self) -> RoutedWorkers:
        return self  # the processes started in launch()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    @property
    def alive(self) -> bool:
        return any(w.alive for w in self.workers)

    @property
    def inflight(self) -> int:
        return sum(w.inflight for w in self.workers)

    @property
    def step_errors(self) -> int:
        return sum(w.step_errors for w in self.workers)

    def submit(self, request: Request) -> str:
        """Route `request` to a live worker and send it; the queue limit spans all workers."""
        live = [r for r, w in enumerate(self.workers) if w.alive]
        if not live:
            raise Unavailable("no data-parallel worker is running")
        with self._lock:
            if self.inflight >= self.max_queue:
                raise Overloaded(f"{self.inflight} requests are in flight (the limit is {self.max_queue})")
            rid = request.rid or f"srv-{next(self._ids)}"
            loads = [self.workers[r].inflight for r in live]
            rank = live[self.router.route(list(request.input_ids), loads)]
            self._where[rid] = rank
            self.routed[rank] += 1
        on_finish = request.on_finish
        try:
            return self.workers[rank].submit(replace(request, rid=rid, on_finish=self._finished(rid, request.pin, on_finish)))
        except BaseException:
            with self._lock:
                self._where.pop(rid, None)
            raise

    def _finished(self, rid: str, pinned: bool, then: Callable[[RequestOutput], object] | None) -> Callable:
        def finished(output: RequestOutput) -> None:
            if not pinned:  # a pinned request is still on its worker until unpinned
                with self._lock:
                    self._where.pop(rid, None)
            if then is not None:
                then(output)

        return finished

    def abort(self, rid: str) -> None:
        rank = self._where.get(rid)
        if rank is not None:
            self.workers[rank].abort(rid)

    def unpin(self, rid: str) -> None:
        with self._lock:
            rank = self._where.pop(rid, None)
        if rank is not None:
            self.workers[rank].unpin(rid)

    def gauges(self) -> dict[str, float]:
        """Every worker's engine state summed (hit rate is recomputed from the sums)."""
        total: dict[str, float] = {}
        for worker in self.workers:
            for name, value in worker.state.items():
                total[name] = total.get(name, 0) + value
        total["lmc_inflight_requests"] = self.inflight
        total["lmc_engine_step_errors"] = self.step_errors
        return total

    def per_worker(self) -> list[dict[str, float]]:
        return [{"lmc_worker_routed_requests": routed, "lmc_worker_inflight_requests": worker.inflight,
                 "lmc_worker_cached_tokens": worker.state.get("lmc_cached_tokens", 0),
                 "lmc_worker_prefill_tokens": worker.state.get("lmc_prefill_tokens", 0)}
                for routed, worker in zip(self.routed, self.workers)]
