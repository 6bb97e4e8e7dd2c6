"""Tensor parallelism: one process per rank, the engine's scheduler on rank 0 only.

The engine's own process is rank 0: it schedules, samples and keeps the radix cache as on one
device. `TensorParallel.start` spawns ranks 1..N-1 (each loads the same weights, then keeps its
shard, `tp_shard.py`) and joins them in a `torch.distributed` group (NCCL on GPUs, rank r on GPU
r; gloo on the CPU, the cores split evenly). Every forward, rank 0 broadcasts the step buffer
(`step_buffer.py`: token ids, positions, KV slots, offsets) over a gloo group, and all ranks run
the model on it; the all-reduces inside the layers keep their hidden states identical. Every
rank's KV pool has the same number of slots (the smallest any rank can hold), so the slot ids
rank 0 hands out mean the same memory on every rank. Decode steps run eagerly and are read at
once (no CUDA graphs, no overlap scheduling) under tensor parallelism.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import socket
import sys
import traceback
import weakref
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from lmc.kernels.attention import AttentionBackend
from lmc.runtime.config import EngineConfig
from lmc.runtime.device_clock import DeviceClock
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.launched_step import LaunchedStep
from lmc.runtime.model_runner import ModelRunner
from lmc.runtime.models.llama import LlamaForCausalLM
from lmc.runtime.parallel.tp_shard import rank_shard, shard_model
from lmc.runtime.step_buffer import StepLayout, StepSizes, host_buffer
from lmc.runtime.step_inputs import StepRows

STARTUP_POLL_S = 0.5
# A rank waits in the broadcast while rank 0 is idle (between rows, a server without clients):
# only a long idle period may time it out. A rank that dies closes its sockets, which fails the
# collective at once.
IDLE_TIMEOUT = timedelta(hours=24)
_RUN, _STOP = 1, 0


class RankFailed(RuntimeError):
    """A tensor-parallel rank raised or died during start-up; the message says how."""


class TensorParallel:
    """Rank 0's side of the group: the other ranks' processes and the broadcast to them."""

    def __init__(self, config: EngineConfig, processes: list[Any], messages: Any, address: str) -> None:
        self.config = config
        self.world = config.tensor_parallel
        self.processes = processes
        self.messages = messages
        self.address = address
        self.control: dist.ProcessGroup | None = None
        self._threads = torch.get_num_threads()
        self._finalizer = weakref.finalize(self, _stop_ranks, processes)

    @classmethod
    def start(cls, config: EngineConfig) -> TensorParallel:
        """Spawn ranks 1..N-1; they load the model while rank 0 loads its own copy."""
        world = config.tensor_parallel
        if config.device.startswith("cuda") and torch.cuda.device_count() < world:
            raise ValueError(f"--tensor-parallel {world} needs {world} GPUs; {torch.cuda.device_count()} are visible")
        context = multiprocessing.get_context("spawn")
        messages = context.Queue()
        address = f"tcp://127.0.0.1:{_free_port()}"
        threads = max(1, (os.cpu_count() or 1) // world)
        processes = [context.Process(target=_rank_main, args=(rank, config, address, threads, messages),
                                     name=f"lmc-tp-{rank}", daemon=True) for rank in range(1, world)]
        for process in processes:
            process.start()
        tp = cls(config, processes, messages, address)
        if not config.device.startswith("cuda"):
            torch.set_num_threads(threads)
        return tp

    def connect(self, model: LlamaForCausalLM) -> None:
        """Wait for every rank's model, join the group as rank 0 and cut `model` to its shard."""
        try:
            self._connect(model)
        except BaseException:
            self._finalizer()  # the other ranks would wait for rank 0 forever
            raise

    def _connect(self, model: LlamaForCausalLM) -> None:
        rank_shard(model.config, 0, self.world)  # a model that does not split fails here, named
        ready: set[int] = set()
        while len(ready) < self.world - 1:
            try:
                kind, rank, body = self.messages.get(timeout=STARTUP_POLL_S)
            except queue.Empty:
                for rank, process in enumerate(self.processes, start=1):
                    if process.exitcode is not None:
                        raise RankFailed(f"tensor-parallel rank {rank} exited with code {process.exitcode}") from None
                continue
            if kind == "error":
                raise RankFailed(f"tensor-parallel rank {rank} failed:\n{body}")
            ready.add(rank)
        self.control = _join(0, self.config, self.address)
        shard_model(model, 0, self.world, dist.group.WORLD)

    def agree_on_slots(self, slots: int) -> int:
        """The smallest KV pool any rank can hold, so slot ids mean the same memory on all."""
        return _min_over_ranks(slots, self.control)

    def broadcast_step(self, layout: StepLayout, host: torch.Tensor) -> None:
        sizes = layout.sizes
        header = torch.tensor([_RUN, sizes.tokens, sizes.seqs, sizes.logits, sizes.kv_entries], dtype=torch.int64)
        dist.broadcast(header, 0, group=self.control)
        dist.broadcast(host, 0, group=self.control)

    def close(self) -> None:
        """Stop the other ranks and leave the group (the engine is unusable afterwards)."""
        if self.control is not None:
            dist.broadcast(torch.tensor([_STOP, 0, 0, 0, 0], dtype=torch.int64), 0, group=self.control)
            self.control = None
            for process in self.processes:
                process.join(timeout=30)
            dist.destroy_process_group()
        self._finalizer()
        torch.set_num_threads(self._threads)


class TensorParallelRunner(ModelRunner):
    """Rank 0's model runner: every step buffer goes to the other ranks before the model runs."""

    def __init__(self, model: LlamaForCausalLM, pool: KVPool, attn: AttentionBackend, tp: TensorParallel,
                 clock: DeviceClock | None = None) -> None:
        super().__init__(model, pool, attn, graphs=None, clock=clock)
        self.tp = tp

    def run_buffer(self, layout: StepLayout, host: torch.Tensor, rows: StepRows,
                   previous: LaunchedStep | None = None) -> torch.Tensor:
        self.tp.broadcast_step(layout, host)
        return super().run_buffer(layout, host, rows, previous)


def _rank_main(rank: int, config: EngineConfig, address: str, threads: int, messages: Any) -> None:
    """Rank r > 0: load, report, join, shard; then run every step rank 0 broadcasts."""
    from lmc.kernels.attention import create_backend
    from lmc.runtime.engine import kv_cache_slots
    from lmc.runtime.model_loader import load_model

    try:
        torch.set_num_threads(threads)
        device = config.device
        if device.startswith("cuda"):
            torch.cuda.set_device(rank)
            device = f"cuda:{rank}"
        loaded = load_model(config.model, config.load_format, config.dtype, device, config.seed)
    except BaseException:
        messages.put(("error", rank, traceback.format_exc()))
        return
    messages.put(("ready", rank, None))
    control = _join(rank, config, address)
    model = loaded.model
    shard_model(model, rank, config.tensor_parallel, dist.group.WORLD)
    slots = _min_over_ranks(kv_cache_slots(config, model, loaded.dtype, loaded.device), control)
    pool = KVPool(slots, model.num_layers, model.num_kv_heads, model.head_dim, loaded.dtype, loaded.device)
    runner = ModelRunner(model, pool, create_backend(config.attention_backend, loaded.device))
    try:
        _follow(runner, control, loaded.device)
    except RuntimeError as exc:  # rank 0 went away (killed, crashed): its sockets closed
        print(f"tensor-parallel rank {rank} stops: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return
    dist.destroy_process_group()


def _follow(runner: ModelRunner, control: dist.ProcessGroup, device: torch.device) -> None:
    """Run each step buffer rank 0 broadcasts until it says stop."""
    header = torch.empty(5, dtype=torch.int64)
    while True:
        dist.broadcast(header, 0, group=control)
        command, *counts = header.tolist()
        if command == _STOP:
            return
        layout = StepLayout.for_sizes(StepSizes(*counts))
        host = host_buffer(layout.nbytes, device)
        dist.broadcast(host, 0, group=control)
        runner.run_buffer(layout, host, _rows_of(layout, host))


def _rows_of(layout: StepLayout, host: torch.Tensor) -> StepRows:
    """The host-side counts the attention metadata needs, read back from a received buffer."""
    views = layout.views(host)
    sizes = layout.sizes
    return StepRows(
        input_ids=views["input_ids"][: sizes.tokens].tolist(), starts=[],
        extend_lens=views["extend_lens"][: sizes.seqs].tolist(), seq_lens=views["seq_lens"][: sizes.seqs].tolist(),
        slots=[], logits_rows=[], sample_rows=[], logprob_rows=[],
    )


def _join(rank: int, config: EngineConfig, address: str) -> dist.ProcessGroup:
    """Join the group; returns the gloo group that carries step buffers (the default one on CPU)."""
    cuda = config.device.startswith("cuda")
    dist.init_process_group("nccl" if cuda else "gloo", init_method=address, rank=rank,
                            world_size=config.tensor_parallel, timeout=IDLE_TIMEOUT)
    return dist.new_group(backend="gloo", timeout=IDLE_TIMEOUT) if cuda else dist.group.WORLD


def _min_over_ranks(value: int, group: dist.ProcessGroup) -> int:
    tensor = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN, group=group)
    return int(tensor.item())


def _stop_ranks(processes: list[Any]) -> None:
    """End the ranks still running (start-up failed, or the engine was never closed)."""
    for process in processes:
        if process.is_alive():
            process.terminate()
        process.join()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
