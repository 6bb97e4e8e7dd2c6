"""The wall-time cost of durable output: `lmc` against `lmc to a file` (every row journaled with
fsync and written in input order, as `lmc run` does), alternated on fresh engines so drift on
the machine falls on both alike; medians and the overhead in percent.

    python3 -m lmc.benchmarks.journal_overhead --rows 512 --repeats 5 --out-dir DIR
"""

from __future__ import annotations

import argparse
import statistics

from lmc.benchmarks.report import write_report
from lmc.benchmarks.run import _measure_once, _plans, workload_jobs
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RunOptions, execute
from lmc.runtime.model_loader import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--workload", default="few_shot_mmlu")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out-dir", default="lmc-bench")
    args = parser.parse_args()
    loaded = load_model(args.model)
    plan, _ = _plans(args.workload)
    jobs = workload_jobs(args.workload, args.rows)
    config = EngineConfig(model=args.model, device=str(loaded.device))
    execute(Engine(config, loaded=loaded), plan, jobs[:1], lambda r: None, RunOptions())  # warm-up
    walls: dict[str, list[float]] = {"lmc": [], "lmc to a file": []}
    outputs = {}
    for _ in range(args.repeats):
        for system, to_file in (("lmc", False), ("lmc to a file", True)):
            run = _measure_once(Engine(config, loaded=loaded), plan, jobs, to_file)
            walls[system].append(run["wall_s"])
            outputs[system] = run["_outputs"]
    plain, durable = (statistics.median(walls[s]) for s in walls)
    rows = [{"workload": args.workload, "rows": args.rows, "system": s, "median_wall_s": statistics.median(w),
             "min_wall_s": min(w), "max_wall_s": max(w), "runs": len(w)} for s, w in walls.items()]
    write_report("journal_overhead", rows, args.out_dir, extra={
        "model": args.model, "overhead_percent": 100 * (durable / plain - 1), "target_percent": 2.0,
        "same_outputs": outputs["lmc"] == outputs["lmc to a file"]})
    print(f"journal overhead: {100 * (durable / plain - 1):+.2f} % (median of {args.repeats} alternated runs)")


if __name__ == "__main__":
    main()
