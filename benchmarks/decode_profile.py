"""Where an engine step's time goes on a CUDA device (`python -m lmc.benchmarks.decode_profile`).

Developer tool behind `lmc bench gpu`'s decode numbers: per-phase times of a batch-64 decode step
(schedule, host-side inputs, forward, sampling, the rest) with CUDA graphs and eagerly, the GPU
kernels of one step by total time, graph-vs-eager logits at the real shape, and a host profile
of the few-shot shape. Phases are timed with a device synchronisation at each boundary, so their
sum exceeds an uninstrumented step by whatever host work normally overlaps the GPU; the engine
runs without overlap scheduling, so each phase is the host work of one step, in series.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import torch

from lmc.benchmarks.engine import FewShotShape
from lmc.benchmarks.gpu import _random_prompts, _run
from lmc.runtime import cuda_graph, model_runner
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams


class PhaseTimer:
    """Wraps callables so that each call adds its synchronised wall time to a named bucket."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            torch.cuda.synchronize()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            torch.cuda.synchronize()
            self.seconds[name].append(time.perf_counter() - start)
            return out

        return timed


def _decode_batch(engine: Engine, batch: int, context: int, vocab: int) -> None:
    """Submit `batch` prompts and step until every one of them is decoding."""
    params = SamplingParams(max_tokens=64, ignore_eos=True)
    for ids in _random_prompts(batch, context, vocab, 3):
        engine.submit(Request(ids, params))
    while engine.scheduler.waiting or any(s.num_pending > 1 for s in engine.scheduler.running):
        engine.step()
    engine.step()


def _step_times(engine: Engine, steps: int) -> list[float]:
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        engine.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def phases(engine: Engine, label: str, steps: int = 8) -> None:
    plain = statistics.median(_step_times(engine, steps))
    timer = PhaseTimer()
    saved = (engine.scheduler.schedule, engine._sample, model_runner.plan_rows, model_runner.fill,
             cuda_graph.fill, engine.runner.forward)
    engine.scheduler.schedule = timer.wrap("schedule", saved[0])
    engine._sample = timer.wrap("sample", saved[1])
    model_runner.plan_rows = timer.wrap("plan_rows", saved[2])
    model_runner.fill = cuda_graph.fill = timer.wrap("fill", saved[3])
    engine.runner.forward = timer.wrap("forward (all)", saved[5])
    total = statistics.median(_step_times(engine, steps))
    (engine.scheduler.schedule, engine._sample, model_runner.plan_rows, model_runner.fill,
     cuda_graph.fill, engine.runner.forward) = saved
    med = {k: statistics.median(v) for k, v in timer.seconds.items()}
    parts = {**med, "rest of step": total - med["schedule"] - med["forward (all)"] - med["sample"]}
    print(f"\n[{label}] step {1e3 * plain:.2f} ms uninstrumented, {1e3 * total:.2f} ms instrumented")
    for name, seconds in parts.items():
        print(f"  {name:<16} {1e3 * seconds:8.3f} ms")


def kernel_table(engine: Engine, label: str) -> None:
    from torch.profiler import ProfilerActivity, profile

    engine.step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        engine.step()
        torch.cuda.synchronize()
    events = prof.key_averages()
    gpu = sum(e.self_device_time_total for e in events) / 1e3
    print(f"\n[{label}] GPU kernel time of one step: {gpu:.2f} ms")
    print(events.table(sort_by="self_cuda_time_total", row_limit=14, max_name_column_width=60))


def graph_vs_eager_logits(engine: Engine) -> None:
    batch = engine.scheduler.schedule()
    runner, graphs = engine.runner, engine.runner.graphs
    runner.graphs = None
    eager = runner.forward(batch).logits.clone()
    runner.graphs = graphs
    replayed = runner.forward(batch).logits
    rel = ((replayed - eager).norm() / eager.norm()).item()
    same = (replayed.argmax(-1) == eager.argmax(-1)).float().mean().item()
    print(f"\ngraph vs eager logits (bf16, batch {len(batch.seqs)}): rel err {rel:.2e}, "
          f"argmax agreement {same:.3f}")


def few_shot_profile(engine: Engine, vocab: int) -> None:
    shape = FewShotShape(rows=256, prefix_tokens=1024, own_tokens=64, new_tokens=8)
    prompts = shape.prompts(vocab, 1)
    step, log = engine.step, []

    def logged():
        batch_tokens = sum(min(s.num_pending, 8192) for s in engine.scheduler.running)
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = step()
        torch.cuda.synchronize()
        log.append((len(engine.scheduler.running), batch_tokens, time.perf_counter() - start))
        return out

    engine.step = logged
    profiler = cProfile.Profile()
    profiler.enable()
    wall = _run(engine, prompts, shape.new_tokens)
    profiler.disable()
    engine.step = step
    print(f"\n[few-shot] {wall:.3f} s, {len(prompts) / wall:.1f} rows/s, {len(log)} steps")
    for running, tokens, seconds in log:
        print(f"  running {running:4d}  pending-before {tokens:6d}  {1e3 * seconds:8.2f} ms")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(22)
    print(text.getvalue()[-6000:])


def main(model: str = "llama-3-8b") -> None:
    loaded = load_model(model, "dummy", "auto", "cuda")
    vocab = min(loaded.model.vocab_size, 32000)
    config = EngineConfig(
        model=model, device="cuda", attention_backend="triton", max_batch_tokens=16384,
        chunk_size=8192, max_running_requests=256, kv_cache_fraction=0.7, overlap_schedule=False,
    )
    start = time.perf_counter()
    engine = Engine(config, loaded=loaded)
    graphs = engine.runner.graphs
    print(f"engine start incl. capture of {len(graphs.sizes)} graphs: "
          f"{time.perf_counter() - start:.2f} s")
    _run(engine, _random_prompts(4, 64, vocab, 99), 4)
    _decode_batch(engine, 64, 1024, vocab)
    phases(engine, "graphs, b64 ctx~1024")
    engine.runner.graphs = None
    phases(engine, "eager, b64 ctx~1024")
    kernel_table(engine, "eager")
    engine.runner.graphs = graphs
    graph_vs_eager_logits(engine)
    engine.run_until_done()
    engine.cache.reset()
    few_shot_profile(engine, vocab)


if __name__ == "__main__":
    main()
