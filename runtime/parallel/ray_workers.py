"""Data-parallel workers as Ray actors (`lmc run --ray [--ray-address ADDR]`, extra `lmc[ray]`).

The planned shards are the same as `--data-parallel`'s; each runs in an actor that owns one
engine (one GPU each on a CUDA run, which Ray assigns; one CPU otherwise) on whichever node of
the cluster Ray places it, through the same `work` function as a local worker process. Rows
come back through a Ray queue to the driver's in-order writer and journal, so a run's file and
its resume are the same as with local workers. Every node needs lmc (and the model) installed;
without `--ray-address` a local Ray instance starts, or the one this process already joined is
used.
"""

from __future__ import annotations

from typing import Any

from lmc.runtime.parallel.data_parallel import Shard, WorkerFailed, work


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError("--ray needs Ray: pip install 'lmc[ray]' (or pip install ray)") from None
    return ray


class RayActors:
    """A launcher (see `data_parallel.Launcher`) with one Ray actor per shard."""

    places_devices = False  # Ray sets each actor's CUDA_VISIBLE_DEVICES

    def __init__(self, address: str | None = None) -> None:
        self.ray = _ray()
        if not self.ray.is_initialized():
            self.ray.init(address=address, log_to_driver=False)
        self.actors: list[Any] = []
        self.runs: list[Any] = []
        self.queue: Any = None

    def start(self, tasks: list[Shard]) -> Any:
        from ray.util.queue import Queue

        ray = self.ray
        self.queue = Queue()
        gpus = 1 if tasks and tasks[0].config.device.startswith("cuda") else 0
        actor_class = ray.remote(num_cpus=1, num_gpus=gpus)(_ShardActor)
        self.actors = [actor_class.remote() for _ in tasks]
        self.runs = [actor.run.remote(task, self.queue) for actor, task in zip(self.actors, tasks)]
        return self.queue

    def check(self, running: set[int]) -> None:
        """A run that ended (or whose actor died) while its rows are still due is a failure."""
        finished, _ = self.ray.wait(self.runs, num_returns=len(self.runs), timeout=0)
        for rank, run in enumerate(self.runs):
            if run in finished and rank in running:
                try:
                    self.ray.get(run)
                except Exception as exc:  # the actor died: RayActorError, a worker crash
                    raise WorkerFailed(f"Ray worker {rank} failed: {exc}") from None

    def stop(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.queue is not None:
            self.queue.shutdown()
        self.actors, self.runs, self.queue = [], [], None


class _ShardActor:
    """One engine's process: runs its shard exactly as a local worker process would."""

    def run(self, task: Shard, messages: Any) -> None:
        work(task, messages)
