"""`lmc bench compile`: how long the compiler takes on every example (target: under 0.5 s each).

Each program is compiled `repeats` times from its source (frontend, all passes, plan); the first
compile of a process also pays for the constraint automata that later compiles rebuild from
scratch too (nothing is memoized between compiles). Importing lmc.grammars loads torch once per
process; that one-time cost is reported on its own, not charged to any program.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

from lmc.benchmarks.report import write_report
from lmc.compiler.api import compile as compile_program
from lmc.compiler.loader import load_programs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TARGET_SECONDS = 0.5


def bench_compile(out_dir: str | Path = "lmc-bench", repeats: int = 5,
                  examples: Path = EXAMPLES) -> Path:
    start = time.perf_counter()
    with contextlib.suppress(ImportError):
        import lmc.grammars  # noqa: F401
    import_seconds = time.perf_counter() - start
    rows: list[dict[str, Any]] = []
    for path in sorted(p for p in examples.glob("*.py") if p.stem != "make_data"):
        for program in load_programs(path).values():
            times = []
            for _ in range(repeats):
                plan = compile_program(program)
                times.append(plan.compile_seconds or 0.0)
            stats = plan.stats()
            rows.append({
                "example": path.stem,
                "program": program.name,
                "nodes": stats["nodes"],
                "prefixes": stats["shared_prefixes"],
                "constraints": stats["constraints"],
                "dynamic": stats["dynamic_regions"],
                "first_ms": round(times[0] * 1000, 2),
                "median_ms": round(statistics.median(times) * 1000, 2),
                "max_ms": round(max(times) * 1000, 2),
                "under_target": max(times) < TARGET_SECONDS,
            })
    extra = {"target_seconds": TARGET_SECONDS, "repeats": repeats,
             "grammars_import_seconds": round(import_seconds, 3)}
    return write_report("compile", rows, out_dir=out_dir, extra=extra)
