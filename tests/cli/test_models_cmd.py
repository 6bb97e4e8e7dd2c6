"""`lmc models list` and `lmc models pull` without a network (the test session keeps pip off every index)."""

from __future__ import annotations

from typer.testing import CliRunner

from lmc.cli.main import app

runner = CliRunner()


def test_list_names_the_default_presets_and_what_is_on_disk() -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "(default)" in lines["smollm2-135m"] and "not pulled (92.9 MB download)" in lines["smollm2-135m"]
    assert "random weights" in lines["tiny"]
    assert "8.03B parameters" in lines["llama-3-8b"]


def test_pull_offline_names_the_fallback_and_unknown_names_are_refused() -> None:
    offline = runner.invoke(app, ["models", "pull", "smollm2-135m"])
    assert offline.exit_code == 1
    assert "run with --model tiny" in offline.output
    unknown = runner.invoke(app, ["models", "pull", "gpt-5"])
    assert unknown.exit_code == 2 and "can pull smollm2-135m" in unknown.output
