"""Data parallelism: one engine process per worker, each running its planned shard of the rows.

`DataParallel` stands where the executor's engine stands in `run_file`: it has the model's
tokenizer (for the prediction), `stats()` (the workers' counters summed, as they last reported
them) and `run_rows`, which places the rows (`placement.py`), starts one process per worker
(spawned, so each builds its own engine: on a GPU box worker r sees GPU r mod the visible count,
on the CPU each gets an equal slice of the cores), runs each shard through the ordinary
executor there and hands every finished row to the caller's `on_result` as it arrives, so rows
from all workers reach one in-order writer. A worker that fails or dies stops the run with its
traceback or exit code; Ctrl-C stops every worker. Where the workers run is the launcher's
business: `Processes` spawns them on this machine, `ray_workers.RayActors` runs them as Ray
actors anywhere in a Ray cluster; both hand back rows through a queue the driver reads.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import queue
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from lmc.plan.file import Plan
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import EngineStats
from lmc.runtime.executor.execute import RunOptions
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.stats import since, snapshot
from lmc.runtime.parallel.placement import Placement, place
from lmc.runtime.tokenizer import load_tokenizer, role_texts

POLL_S = 0.5  # how often the driver checks that every worker is still alive while it waits


class WorkerFailed(RuntimeError):
    """A data-parallel worker raised or died; the message names it and says how."""


@dataclass(frozen=True)
class Shard:
    """What one worker process is given (pickled to it)."""

    rank: int
    config: EngineConfig
    plan_text: str
    jobs: list[RowJob]
    options: RunOptions
    threads: int
    visible_device: str | None


class DataParallel:
    """`workers` engines, each in its own process, over rows placed by `policy`."""

    def __init__(self, config: EngineConfig, workers: int, policy: str = "planned",
                 launcher: Launcher | None = None) -> None:
        if workers < 1:
            raise ValueError(f"--data-parallel needs at least one worker, got {workers}")
        self.config = config
        self.workers = workers
        self.policy = policy
        self.launcher = launcher or Processes()
        self.tokenizer = load_tokenizer(config.model)
        self.placement: Placement | None = None
        self.worker_stats = [EngineStats() for _ in range(workers)]

    def stats(self) -> EngineStats:
        """The workers' counters summed (as of each one's latest finished row)."""
        return EngineStats(**{f.name: sum(getattr(s, f.name) for s in self.worker_stats)
                              for f in fields(EngineStats)})

    def report(self) -> dict[str, Any]:
        """Per worker: its rows, predicted and measured prefill tokens (`--metrics` JSON)."""
        placement = self.placement or Placement(self.policy, [], [])  # interrupted before placing
        return {
            "workers": self.workers,
            "policy": placement.policy,
            "predicted_prefill_tokens": placement.total_predicted_prefill,
            "measured_prefill_tokens": sum(s.prefill_tokens for s in self.worker_stats),
            "per_worker": [
                {"rows": len(shard), "predicted_prefill_tokens": predicted,
                 "measured_prefill_tokens": stats.prefill_tokens, "hit_rate": stats.hit_rate}
                for shard, predicted, stats in zip(placement.shards, placement.predicted_prefill, self.worker_stats)
            ],
        }

    def run_rows(self, plan: Plan, jobs: list[RowJob], on_result: Callable[[RowResult], None],
                options: RunOptions, on_step: Callable[[], None] | None = None,
                metrics: RunMetrics | None = None) -> RunMetrics:
        """Run `jobs` over the workers; the executor's `execute`, but across processes."""
        metrics = metrics if metrics is not None else RunMetrics()
        roles, _ = role_texts(self.tokenizer)
        self.placement = place(plan, jobs, self.workers, self.tokenizer.encode_run, roles, self.policy)
        plan_text = plan.dumps()
        devices = self._devices() if self.launcher.places_devices else []
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        tasks = [Shard(rank, self.config, plan_text, shard, options, threads,
                        devices[rank % len(devices)] if devices else None)
                 for rank, shard in enumerate(self.placement.shards)]
        latest: dict[int, RunMetrics] = {}
        try:
            messages = self.launcher.start(tasks)
            running = set(range(self.workers))
            while running:
                try:
                    kind, rank, *body = messages.get(timeout=POLL_S)
                except queue.Empty:
                    self.launcher.check(running)
                    continue
                if kind == "error":
                    raise WorkerFailed(f"data-parallel worker {rank} failed:\n{body[0]}")
                self.worker_stats[rank], latest[rank] = body[1], body[2]
                if kind == "row":
                    on_result(body[0])
                    if on_step is not None:
                        on_step()
                else:
                    running.discard(rank)
        finally:
            self.launcher.stop()
            for part in latest.values():
                metrics.add(part)
        return metrics

    def _devices(self) -> list[str]:
        return worker_devices(self.config)


def worker_devices(config: EngineConfig) -> list[str]:
    """The GPU ids workers are spread over, worker r on id r mod their count (empty on the CPU)."""
    if not config.device.startswith("cuda"):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        return [d.strip() for d in visible.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(max(1, torch.cuda.device_count()))]


class Launcher(Protocol):
    """Runs each shard's `work` somewhere and hands back the queue its messages arrive on."""

    places_devices: bool  # whether the driver picks each worker's GPU (else the launcher does)

    def start(self, tasks: list[Shard]) -> Any:
        """Start one worker per task; returns a queue with `get(timeout=...)`."""

    def check(self, running: set[int]) -> None:
        """Raise WorkerFailed if a worker still listed in `running` died."""

    def stop(self) -> None:
        """End every worker (done or not) and release what start took."""


class Processes:
    """Each worker a spawned process on this machine."""

    places_devices = True

    def __init__(self) -> None:
        self.processes: list[Any] = []

    def start(self, tasks: list[Shard]) -> Any:
        context = multiprocessing.get_context("spawn")
        messages = context.Queue()
        self.processes = [context.Process(target=work, args=(task, messages), name=f"lmc-dp-{task.rank}", daemon=True)
                          for task in tasks]
        for process in self.processes:
            process.start()
        return messages

    def check(self, running: set[int]) -> None:
        for rank in running:
            code = self.processes[rank].exitcode
            if code is not None:
                raise WorkerFailed(f"data-parallel worker {rank} exited with code {code} before finishing its rows")

    def stop(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            process.join()


def work(shard: Shard, messages: Any) -> None:
    """One worker process: its own engine, the ordinary executor over its rows."""
    if shard.visible_device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = shard.visible_device  # read when CUDA first starts
    import torch

    from lmc.runtime.engine import Engine
    from lmc.runtime.executor.execute import execute

    torch.set_num_threads(shard.threads)
    try:
        engine = Engine(shard.config)
        start = snapshot(engine)
        metrics = RunMetrics()

        def send(kind: str, result: RowResult | None) -> None:
            # the queue pickles in a background thread: hand it copies the run no longer changes
            messages.put((kind, shard.rank, result, since(engine, start), copy.deepcopy(metrics)))

        execute(engine, Plan.loads(shard.plan_text), shard.jobs, lambda r: send("row", r), shard.options,
                metrics=metrics)
        send("done", None)
    except KeyboardInterrupt:  # Ctrl-C reaches every process; the driver writes what it has
        return
    except BaseException:
        messages.put(("error", shard.rank, traceback.format_exc()))
