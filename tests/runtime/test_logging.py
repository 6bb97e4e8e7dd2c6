"""Logging: levels from --log-level / $LMC_LOG_LEVEL, plain or rich lines, engine events at
DEBUG that agree with the engine's own counters, and a warning for each attention fallback."""

from __future__ import annotations

import logging
import random
import re

import pytest

from lmc import log
from lmc.kernels import attention
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams


@pytest.fixture(autouse=True)
def restore_lmc_logger():
    logger = logging.getLogger("lmc")
    level, handlers = logger.level, list(logger.handlers)
    yield
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_level_comes_from_the_option_then_the_environment(monkeypatch):
    monkeypatch.delenv(log.ENV, raising=False)
    assert log.level_from(None) == logging.WARNING
    monkeypatch.setenv(log.ENV, "DEBUG")
    assert log.level_from(None) == logging.DEBUG
    assert log.level_from("error") == logging.ERROR
    with pytest.raises(ValueError, match="'loud' is not one of debug, info, warning, error"):
        log.level_from("loud")
    monkeypatch.setenv(log.ENV, "chatty")
    with pytest.raises(ValueError, match=r"\$LMC_LOG_LEVEL='chatty'"):
        log.level_from(None)


def test_plain_lines_when_not_a_terminal(capsys):
    log.setup("info", rich=False)
    logging.getLogger("lmc.runtime.engine").info("engine ready: %s", "tiny")
    logging.getLogger("lmc.runtime.engine").debug("not shown at info")
    err = capsys.readouterr().err
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO    lmc\.runtime\.engine: engine ready: tiny\n", err)


def test_rich_lines_on_a_terminal(capsys):
    log.setup("warning", rich=True)
    log.setup("warning", rich=True)  # a second setup replaces the handler: one line, not two
    logging.getLogger("lmc.x").warning("careful")
    err = capsys.readouterr().err
    assert err.count("careful") == 1 and "WARNING" in err and "lmc.x:" not in err


def test_engine_events_at_debug_match_its_counters(small_model_dir, caplog):
    loaded = load_model(str(small_model_dir))
    engine = Engine(EngineConfig(model=str(small_model_dir), kv_cache_tokens=160, max_running_requests=16,
                                 decode_reserve_tokens=0), loaded=loaded)
    rng = random.Random(7)
    shared = [rng.randrange(3, 1000) for _ in range(40)]
    with caplog.at_level(logging.DEBUG, logger="lmc"):
        for i in range(16):
            own = [rng.randrange(3, 1000) for _ in range(rng.randrange(3, 30))]
            engine.submit(Request([1, *(shared if i % 2 else []), *own], SamplingParams(max_tokens=8)))
        engine.run_until_done()
    stats = engine.stats()
    messages = [r.getMessage() for r in caplog.records]
    assert stats.preemptions > 0 and stats.evicted_tokens > 0
    assert sum(m.startswith("step ") for m in messages) == stats.steps
    assert sum(m.startswith("preempted ") for m in messages) == stats.preemptions
    evicted = [int(m.split()[1]) for m in messages if m.startswith("evicted ")]
    assert sum(evicted) == stats.evicted_tokens


def test_attention_fallbacks_are_warnings(monkeypatch, caplog):
    monkeypatch.setitem(attention._BACKENDS, "flashinfer", "lmc.no_such_module_fi:X")
    monkeypatch.setitem(attention._BACKENDS, "triton", "lmc.no_such_module_tr:X")
    with caplog.at_level(logging.WARNING, logger="lmc"):
        backend = attention.create_backend("auto", "cuda")
    assert type(backend).__name__ == "ReferenceAttention"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 3
    assert warned[0].startswith("attention backend flashinfer is unavailable")
    assert warned[1].startswith("attention backend triton is unavailable")
    assert "reference torch backend" in warned[2]


def test_every_command_takes_log_level_and_it_wins_over_the_global_one(tmp_path, monkeypatch):
    from typer.main import get_command
    from typer.testing import CliRunner

    from lmc.cli.main import app

    monkeypatch.delenv(log.ENV, raising=False)
    def paths(command, path=()):
        if not hasattr(command, "commands"):
            return [path]
        return [p for name, sub in command.commands.items() for p in paths(sub, (*path, name))]

    commands = paths(get_command(app))
    assert ("run",) in commands and ("models", "pull") in commands
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert "--log-level" in result.output, path
    (tmp_path / "p.py").write_text("import lmc\n\n@lmc.program\ndef p(s, q: str):\n    s += q + lmc.gen('a', max_tokens=2)\n")
    args = ["compile", str(tmp_path / "p.py"), "-o", str(tmp_path / "p.json")]
    result = runner.invoke(app, ["--log-level", "error", *args, "--log-level", "debug"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger("lmc").level == logging.DEBUG
    result = runner.invoke(app, [*args, "--log-level", "loud"])
    assert result.exit_code == 2 and "'loud' is not one of debug, info, warning, error" in result.output
