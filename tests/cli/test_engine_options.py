"""The shared engine option group: values reach EngineConfig, bad ones are refused, and the
help of every command reads at 80 columns (no option name cut, no type noise)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import typer
from typer.testing import CliRunner

from lmc.cli.engine_options import engine_options
from lmc.runtime.config import EngineConfig

runner = CliRunner()


def _probe_app(seen: list[EngineConfig]) -> typer.Typer:
    app = typer.Typer(rich_markup_mode=None)

    @app.command()
    @engine_options
    def probe(name: str = typer.Option("x", help="One option of the command's own."), *,
              engine: EngineConfig) -> None:
        seen.append(engine)
        typer.echo(name)

    return app


def test_values_reach_the_engine_config():
    seen: list[EngineConfig] = []
    args = ["--name", "y", "--attention-backend", "triton", "--kv-cache-fraction", "0.5", "--max-model-len", "512",
            "--max-running-requests", "7", "--schedule-policy", "fcfs", "--no-radix-cache", "--load-format", "dummy"]
    result = runner.invoke(_probe_app(seen), args)
    assert result.exit_code == 0, result.output
    assert result.output == "y\n"
    assert seen == [EngineConfig(attention_backend="triton", kv_cache_fraction=0.5, max_model_len=512,
                                 max_running_requests=7, schedule_policy="fcfs", enable_radix_cache=False,
                                 load_format="dummy")]


def test_defaults_are_the_engine_configs():
    seen: list[EngineConfig] = []
    assert runner.invoke(_probe_app(seen), []).exit_code == 0
    assert seen == [EngineConfig()]


def test_bad_values_are_refused():
    for args in (["--schedule-policy", "random"], ["--kv-cache-fraction", "1.5"], ["--max-running-requests", "0"]):
        result = runner.invoke(_probe_app([]), args)
        assert result.exit_code == 2, args
        assert "Invalid value" in result.output


def test_help_reads_at_80_columns():
    env = {**os.environ, "COLUMNS": "80"}
    for command in (["run"], ["explain"], ["compile"], ["bench", "run"], ["bench", "engine"]):
        out = subprocess.run([sys.executable, "-m", "lmc", *command, "--help"], capture_output=True, text=True,
                             env=env, check=True).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, command
        assert "…" not in out and "<bool>" not in out, command
        if command == ["run"]:
            names = set(re.findall(r"--[a-z][a-z-]+", out))
            assert {"--attention-backend", "--kv-cache-fraction", "--max-model-len", "--max-running-requests",
                    "--schedule-policy", "--max-active-rows", "--kv-cache-tokens"} <= names
