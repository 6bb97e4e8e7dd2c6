"""`lmc bench run`: every example workload, end to end through the executor, five ways.

- lmc: the optimized plan on the engine with its radix cache;
- lmc to a file: the same, each row journaled and written as `lmc run` does (run_output.py), so
  the cost of durable output shows beside `lmc`;
- passes off: the unoptimized plan (no hoisting, pinning, prefetch, row order), cache on;
- cache off: the optimized plan, every request computed from scratch;
- both off: the reference point of the speed-up targets;
- engine alone: lmc's request stream, recorded as the executor sent it, replayed straight into a
  fresh engine (replay.py): `overhead` on the lmc row is lmc's wall time over this one, what the
  executor costs on top of the engine (its `same` says the replay reproduced every request's
  output);
- transformers: the unoptimized plan on `generate` (one padded call per gen of a batch of rows,
  no reuse at all), see naive_hf.py.

A default run takes every workload but those in `ON_REQUEST` (slow ones, run when named with -w,
by their name or file stem). Every system runs the same rows of examples/data/<workload>.jsonl (the first `rows`; asked for more
rows than the file has, its lines repeat under new ids, so a GPU run reaches sizes where warm-up
is noise), after a warm-up row that compiles constraints and touches every code path; a run on a CPU that other
processes were using is repeated (see `_measure`). Greedy outputs of every lmc
variant must equal the both-off run (`same`); the hit rate the engine
measures is set beside the compiler's prediction for the same rows and tokenizer.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lmc.benchmarks.naive_hf import NaiveHFEngine
from lmc.benchmarks.replay import Recorder, Recording, replay
from lmc.benchmarks.report import write_report
from lmc.compiler.loader import load_programs
from lmc.plan.file import Plan
from lmc.plan.options import PASS_NAMES
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.execute import predicted_reuse
from lmc.runtime.executor.file_run import plan_sha256
from lmc.runtime.executor.inputs import RowJob, read_jsonl
from lmc.runtime.executor.journal import RunStamp
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.run_output import RunOutput
from lmc.runtime.executor.stats import since, snapshot
from lmc.runtime.model_loader import LoadedModel, load_model

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BASELINE = "both off"
SYSTEMS = (  # name, passes on, radix cache on
    ("lmc", True, True),
    ("passes off", False, True),
    ("cache off", True, False),
    (BASELINE, False, False),
)
TO_FILE = "lmc to a file"
ALONE = "engine alone"
TARGETS = {"few_shot_mmlu": 3.0, "tree_of_thought": 3.0}
OVERHEAD_TARGET = 1.25  # lmc's wall over the engine alone's on the same request stream
MAX_TRIES = 3
BUSY_RATIO = 0.75


ON_REQUEST = {  # workloads a default run leaves out (name them with -w), and why
    "sglang/bench_tree_of_thought_deep": "30 gens of up to 256 tokens a row, four deep: minutes per system on a CPU",
}


def workloads() -> list[str]:
    """Examples that come with a data file: `examples/*.py`, then SGLang's ported benchmarks as
    `sglang/bench_*` (their data beside them, in examples/sglang/data/)."""
    sources = [*sorted(EXAMPLES.glob("*.py")), *sorted(EXAMPLES.glob("sglang/bench_*.py"))]
    names = [p.relative_to(EXAMPLES).with_suffix("").as_posix() for p in sources]
    return [n for n in names if _data(n).is_file()]


def workload_name(name: str) -> str:
    """A workload by its name or, when that is unambiguous, by its file's stem
    (`bench_tree_of_thought_deep` for `sglang/bench_tree_of_thought_deep`)."""
    known = workloads()
    if name in known:
        return name
    matches = [w for w in known if w.rsplit("/", 1)[-1] == name]
    if len(matches) != 1:
        raise ValueError(f"unknown workload {name!r}; the workloads are {', '.join(known)}")
    return matches[0]


def _data(name: str) -> Path:
    """The rows of a workload: data/<stem>.jsonl beside its program."""
    source = EXAMPLES / f"{name}.py"
    return source.parent / "data" / f"{source.stem}.jsonl"


def _plans(name: str) -> tuple[Plan, Plan]:
    program = next(iter(load_programs(EXAMPLES / f"{name}.py").values()))
    return program.compile(), program.compile(_off())


def _off() -> Any:
    from lmc.plan.options import CompileOptions

    return CompileOptions(disabled_passes=PASS_NAMES)


def _measure_once(engine: Any, plan: Plan, jobs: list[RowJob], to_file: bool = False) -> dict[str, Any]:
    """One timed run; an lmc Engine's request stream is recorded (`_recording`) for the
    engine-alone replay."""
    if isinstance(engine, Engine):
        engine = Recorder(engine)
    results: list[RowResult] = []
    metrics = RunMetrics()
    start_stats = snapshot(engine)
    with tempfile.TemporaryDirectory() as folder:
        started, cpu = time.perf_counter(), time.process_time()
        if to_file:
            stamp = RunStamp(plan_sha256(plan), plan.name, "bench", 0, len(jobs))
            out = RunOutput.open(Path(folder) / "out.jsonl", stamp, jobs)

            def on_result(result: RowResult) -> None:
                results.append(result)
                out.add(result)

            try:
                execute(engine, plan, jobs, on_result, RunOptions(), metrics=metrics)
            finally:
                out.close()
        else:
            execute(engine, plan, jobs, results.append, RunOptions(), metrics=metrics)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    stats = since(engine, start_stats)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "hit": stats.hit_rate,
        "modeled": metrics.modeled_hit_rate,
        "forward_s": stats.forward_seconds,
        "device_s": stats.device_seconds,
        "prefill": stats.prefill_tokens,
        "decode": stats.decode_tokens,
        "failed": sum(not r.ok for r in results),
        "_outputs": [r.record() for r in sorted(results, key=lambda r: r.index)],
        "_recording": engine.recording() if isinstance(engine, Recorder) else None,
    }


def _measure_alone(make_engine: Callable[[], Engine], recording: Recording, on_cpu: bool,
                   tries: int = MAX_TRIES) -> dict[str, Any]:
    """The recorded stream replayed into fresh engines, the fastest of the tries (as `_measure`)."""
    runs: list[dict[str, Any]] = []
    while len(runs) < tries:
        if not on_cpu:
            gc.collect()
            torch.cuda.empty_cache()
        engine = make_engine()
        start_stats = snapshot(engine)
        timed = replay(engine, recording)
        stats = since(engine, start_stats)
        runs.append({"wall_s": timed.wall_s, "cpu_s": timed.cpu_s, "hit": stats.hit_rate, "modeled": None,
                     "forward_s": stats.forward_seconds, "device_s": stats.device_seconds,
                     "prefill": stats.prefill_tokens,
                     "decode": stats.decode_tokens, "failed": None, "same_as_lmc": timed.same})
        if not on_cpu or timed.cpu_s >= BUSY_RATIO * torch.get_num_threads() * timed.wall_s:
            break
    return {**min(runs, key=lambda r: r["wall_s"]), "tries": len(runs)}


def _measure(make_engine: Callable[[], Any], plan: Plan, jobs: list[RowJob], on_cpu: bool,
             to_file: bool = False, tries: int = MAX_TRIES) -> dict[str, Any]:
    """The fastest of up to `tries` runs, each on a fresh engine; on a CPU a run is tried again
    only when the machine was busy: torch's threads then wait for each other at every barrier and
    a run can take ten times its time, which shows as CPU time well under threads x wall time
    (`tries` 1 measures once: a 30-layer model's both-off run takes many minutes on 2 cores)."""
    runs: list[dict[str, Any]] = []
    while len(runs) < tries:
        if not on_cpu:  # the last engine's KV memory goes back before the next one sizes its own
            gc.collect()
            torch.cuda.empty_cache()
        run = _measure_once(make_engine(), plan, jobs, to_file)
        runs.append(run)
        if not on_cpu or run["cpu_s"] >= BUSY_RATIO * torch.get_num_threads() * run["wall_s"]:
            break
    return {**min(runs, key=lambda r: r["wall_s"]), "tries": len(runs)}


def workload_jobs(name: str, rows: int) -> list[RowJob]:
    """The first `rows` rows of the workload's data; past the file's end its rows repeat, each
    copy under a new id (`<id>#<copy>`)."""
    lines = read_jsonl(_data(name), limit=rows)
    jobs = []
    for index in range(rows):
        job = lines[index % len(lines)]
        copy = index // len(lines)
        jobs.append(RowJob(index, job.id if copy == 0 else f"{job.id}#{copy}", job.fields, job.error))
    return jobs


def bench_workload(name: str, loaded: LoadedModel, rows: int, transformers: bool = True,
                   systems: list[str] | None = None, tries: int = MAX_TRIES) -> list[dict[str, Any]]:
    """One workload through every system (or the named ones; both off always, as the baseline);
    rows of the report table."""
    optimized, bare = _plans(name)
    jobs = workload_jobs(name, rows)
    warm = Engine(EngineConfig(device=str(loaded.device)), loaded=loaded)
    execute(warm, optimized, jobs[:1], lambda r: None, RunOptions())
    predicted = predicted_reuse(optimized, jobs, loaded.tokenizer).hit_rate
    measured: dict[str, dict[str, Any]] = {}
    on_cpu = loaded.device.type == "cpu"
    for system, passes, cache in SYSTEMS:
        if systems and system not in systems and system != BASELINE:
            continue
        config = EngineConfig(device=str(loaded.device), enable_radix_cache=cache)
        measured[system] = _measure(lambda c=config: Engine(c, loaded=loaded), optimized if passes else bare, jobs, on_cpu,
                                    tries=tries)
        if system == "lmc":
            measured[system]["predicted"] = predicted
            alone = _measure_alone(lambda c=config: Engine(c, loaded=loaded), measured[system]["_recording"], on_cpu,
                                   tries)
            measured[system]["overhead"] = measured[system]["wall_s"] / alone["wall_s"]
            measured[TO_FILE] = {**_measure(lambda c=config: Engine(c, loaded=loaded), optimized, jobs, on_cpu, True,
                                          tries),
                                 "modeled": None}
        else:  # the cache model describes the optimized plan on a cache: only lmc is comparable
            measured[system]["modeled"] = None
    if transformers and loaded.model_dir is not None and (not systems or "transformers" in systems):
        model_dir = loaded.model_dir

        def hf() -> NaiveHFEngine:
            return NaiveHFEngine(model_dir, loaded.tokenizer, warm.eos_ids, loaded.device, loaded.dtype)

        measured["transformers"] = {**_measure(hf, bare, jobs, on_cpu, tries=tries), "modeled": None}
    outputs = {system: row.pop("_outputs") for system, row in measured.items()}
    for row in measured.values():
        row.pop("_recording", None)
    reference = measured[BASELINE]
    table = []
    for system, row in measured.items():
        table.append({
            "workload": name,
            "system": system,
            "rows": len(jobs),
            **row,
            "speedup": reference["wall_s"] / row["wall_s"],
            "same": outputs[system] == outputs[BASELINE] if system != "transformers" else None,
            "accuracy": accuracy(outputs[system], jobs),
        })
    if "lmc" in measured:
        same = alone.pop("same_as_lmc")
        table.insert(1, {"workload": name, "system": ALONE, "rows": len(jobs), **alone,
                         "speedup": reference["wall_s"] / alone["wall_s"], "same": same})
    return table


def accuracy(records: list[dict[str, Any]], jobs: list[RowJob]) -> float | None:
    """The share of rows whose output `answer` is the data's `answer` key (both stripped: a
    select's choice " B" is the key "B"); None unless the data has the key and the program
    outputs an answer (llm_judge's data names the answer being judged). A failed row is wrong."""
    keys = {j.id: j.fields["answer"] for j in jobs if j.fields and isinstance(j.fields.get("answer"), str)}
    answers = {r["id"]: r["outputs"]["answer"] for r in records if "answer" in (r.get("outputs") or {})}
    if not keys or not answers:
        return None
    return sum(str(answers.get(i, "")).strip() == key.strip() for i, key in keys.items()) / len(keys)


def bench_run(model: str = "tiny", rows: int = 8, names: list[str] | None = None, transformers: bool = True,
              out_dir: Path | str = "lmc-bench", name: str | None = None, device: str = "cpu",
              load_format: str = "auto", systems: list[str] | None = None,
              rows_for: dict[str, int] | None = None, tries: int = MAX_TRIES) -> Path:
    """`rows_for` overrides `rows` per workload; `tries` bounds the runs of each system on a busy CPU."""
    unknown = set(systems or ()) - {s for s, _, _ in SYSTEMS} - {"transformers"}
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {[s for s, _, _ in SYSTEMS]} or transformers")
    loaded = load_model(model, load_format, device=device)
    name = name or f"run_{loaded.device.type}"
    table: list[dict[str, Any]] = []
    path = Path(out_dir)
    names = [workload_name(n) for n in names] if names else [w for w in workloads() if w not in ON_REQUEST]
    rows_for = {workload_name(w): n for w, n in (rows_for or {}).items()}
    for workload in names:
        table += bench_workload(workload, loaded, rows_for.get(workload, rows), transformers, systems,
                                tries)
        path = _report(name, table, out_dir, model, loaded, rows, rows_for, load_format, names)
    return path


def _report(name: str, table: list[dict[str, Any]], out_dir: Path | str, model: str, loaded: LoadedModel, rows: int,
            rows_for: dict[str, int] | None, load_format: str, names: list[str] | None) -> Path:
    """Written after every workload, so an interrupted run keeps what it measured."""
    targets = {
        w: {"speedup": next(r["speedup"] for r in table if r["workload"] == w and r["system"] == "lmc"), "target": t}
        for w, t in TARGETS.items() if any(r["workload"] == w and r["system"] == "lmc" for r in table)
    }
    lmc_rows = [r for r in table if r["system"] == "lmc"]
    extra = {
        "model": model,
        "device": str(loaded.device),
        "load_format": load_format,
        "rows_per_workload": {w: (rows_for or {}).get(w, rows) for w in names or workloads()},
        "baseline": BASELINE,
        "speedup_targets": targets,
        "executor_overhead": {r["workload"]: {"overhead": r["overhead"], "target": OVERHEAD_TARGET} for r in lmc_rows},
        # wall over the device's time on the steps: what the host adds while the device waits
        "wall_over_device": {r["workload"]: r["wall_s"] / r["device_s"] for r in lmc_rows if r["device_s"]},
        "modeled_hit_rate_minus_predicted": {r["workload"]: r["modeled"] - r["predicted"] for r in lmc_rows},
    }
    return write_report(name, table, out_dir, extra=extra)
