"""Forks real `lmc run` processes fast, for the tests that signal and kill them.

Started as `python run_zygote.py MODEL_DIR`, it imports torch and lmc and builds the engine for
MODEL_DIR once, on one thread (so no torch thread pool exists when it forks). Then, for each
JSON command read on stdin, it forks a child that runs the `lmc` command line (`app(args)`, the
model loader and the engine constructor handing it the model and engine built here) with stdout and stderr to `log`, and
answers on stdout with one JSON line:
- `{"args", "log", "signal": n, "at_rows": k}`: send signal n once the output's journal holds k
  rows, wait; answer `{"exit": status, "journaled": rows when signalled}` (status as
  `os.waitstatus_to_exitcode`: -9 for SIGKILL);
- the same with `"detach": true`: answer `{"pid"}` once k rows are journaled, signal nothing;
- `{"wait": pid}`: answer `{"exit": status}` when it ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

import lmc.runtime.engine as engine_module
import lmc.runtime.model_loader as loader_module
from lmc.cli.main import app
from lmc.runtime.config import EngineConfig
from lmc.runtime.model_loader import LoadedModel

POLL_S = 0.002
THREADS = torch.get_num_threads()


def journaled(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b'\n{"row": ')
    except FileNotFoundError:
        return 0


def fork_run(args: list[str], log: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    torch.set_num_threads(THREADS)  # the child starts its own thread pool
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 0
    try:
        app(args, prog_name="lmc")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait_rows(pid: int, journal: Path, rows: int) -> tuple[int, int | None]:
    """Poll until the journal holds `rows` rows: (rows seen, exit status if the child ended first)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return journaled(journal), os.waitstatus_to_exitcode(status)
        seen = journaled(journal)
        if seen >= rows:
            return seen, None
        time.sleep(POLL_S)


def main() -> None:
    model = sys.argv[1]
    torch.set_num_threads(1)  # no thread pool here: a forked child would inherit it dead
    built = engine_module.Engine(EngineConfig(model=model))

    def shared_model(name: str, *_: object) -> LoadedModel:
        assert name == model, name
        return built.loaded

    def shared_engine(config: EngineConfig, loaded: LoadedModel | None = None) -> engine_module.Engine:
        assert config.model == model and loaded in (None, built.loaded), config.model
        return built

    # `lmc run` looks both up in their modules when it runs
    loader_module.load_model = shared_model
    engine_module.Engine = shared_engine
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if "wait" in command:
            _, status = os.waitpid(command["wait"], 0)
            print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)
            continue
        args = command["args"]
        journal = Path(args[args.index("-o") + 1] + ".lmc-journal")
        pid = fork_run(args, command["log"])
        seen, status = wait_rows(pid, journal, command.get("at_rows", 0))
        if command.get("detach"):
            print(json.dumps({"pid": pid, "exit": status}), flush=True)
            continue
        if status is None:
            if "signal" in command:
                os.kill(pid, command["signal"])
            _, raw = os.waitpid(pid, 0)
            status = os.waitstatus_to_exitcode(raw)
        print(json.dumps({"exit": status, "journaled": seen}), flush=True)


if __name__ == "__main__":
    main()
