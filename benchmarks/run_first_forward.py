"""How long `lmc run` itself takes from process start to its first forward (issue 13's start-up
target): the CLI runs in this process, unchanged, with the model runner's `forward` wrapped to
print the seconds since the kernel started the process (read from /proc, so interpreter start-up
and every import count). `python -m lmc.benchmarks.run_first_forward run plan.json --inputs ...`.
`lmc.benchmarks.startup` splits the same path into phases but skips the CLI and the executor."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def process_start() -> float:
    """The Unix time at which the kernel started this process (Linux)."""
    fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    boot = float(Path("/proc/stat").read_text().split("btime ")[1].split()[0])
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    start = process_start()
    from lmc.runtime import model_runner

    forward = model_runner.ModelRunner.forward
    seen = []

    def timed(self, *args, **kwargs):
        if not seen:
            seen.append(time.time() - start)
            print(f"first forward starts {seen[0]:.2f} s after process start", file=sys.stderr, flush=True)
        return forward(self, *args, **kwargs)

    model_runner.ModelRunner.forward = timed
    from lmc.cli.main import app

    sys.argv = ["lmc", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
