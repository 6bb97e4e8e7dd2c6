"""`lmc explain` in every format, with and without data; `lmc bench compile` writes its report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.explain_cmd import predict_reuse
from lmc.cli.main import app
from lmc.compiler import explain
from lmc.compiler.api import compile as compile_program
from lmc.compiler.loader import load_programs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def judge_plan(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "judge.json"
    compile_program(load_programs(EXAMPLES / "llm_judge.py")["judge"]).save(path)
    return path


@pytest.fixture(scope="module")
def react_plan(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plans") / "react.json"
    compile_program(load_programs(EXAMPLES / "react_agent.py")["react_agent"]).save(path)
    return path


def test_text_shows_prefixes_forks_gens_constraints(judge_plan):
    result = runner.invoke(app, ["explain", str(judge_plan)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1. shared prefix (every row)" in out and "5a. shared prefix (the branches)" in out
    assert "gen score" in out and "regex '[1-5]'" in out and "[prefetch: prefilled" in out
    assert "branch 1" in out and "branches 2 to len(dims), alike" in out and "<system>" not in out
    assert "constraints (compiled ahead of time)" in out


def test_text_marks_dynamic_regions(react_plan):
    result = runner.invoke(app, ["explain", str(react_plan)])
    assert result.exit_code == 0
    assert "dynamic region: if s[f'action_{step}'] == ' finish'" in result.output
    assert "waits on action_{step}" in result.output


def test_cache_plan_with_inputs_and_a_real_tokenizer(judge_plan, small_model_dir):
    data = EXAMPLES / "data" / "llm_judge.jsonl"
    result = runner.invoke(app, ["explain", str(judge_plan), "--inputs", str(data), "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    assert "cache plan: 32 rows" in result.output and "predicted hit rate" in result.output
    assert "96 branches" in result.output


def test_prediction_counts_the_shared_prefix_once(judge_plan, small_model_dir):
    from lmc.plan.file import Plan
    from lmc.runtime.tokenizer import load_tokenizer

    rows = [json.loads(line) for line in (EXAMPLES / "data" / "llm_judge.jsonl").read_text().splitlines()]
    plan = Plan.load(judge_plan)
    prediction, note = predict_reuse(plan.graph, rows, str(small_model_dir))
    assert note == ""
    prefix = next(g for g in prediction.groups if g.node == "p1")
    tok = load_tokenizer(str(small_model_dir))
    roles = tok.roles
    text = f"{roles.open('system', None)}You are a strict grader.{roles.close('system')}{roles.open('user', 'system')}Question:"
    assert text.startswith("<s>")  # the template's own BOS text opens the conversation
    assert prefix.tokens == len(tok.encode_run(text, at_start=True))
    assert (prefix.sharers, prefix.instances) == (32, 1)
    # every gen request's prompt starts with the row's shared part; hits can only come from sharing
    assert 0 < prediction.cached_tokens < prediction.prompt_tokens
    assert prediction.requests == 32 * 3 * 2


def test_dot_svg_html(judge_plan, tmp_path):
    result = runner.invoke(app, ["explain", str(judge_plan), "-f", "dot"])
    assert result.exit_code == 0
    assert result.output.startswith("digraph plan {") and "cluster_5a" in result.output and "cluster_legend" in result.output
    assert "style=dashed, color=\"#cc3333\"" in result.output  # the data edge score -> verdict prompt
    html_path = tmp_path / "judge.html"
    result = runner.invoke(app, ["explain", str(judge_plan), "-f", "html", "-o", str(html_path),
                                 "--inputs", str(EXAMPLES / "data" / "llm_judge.jsonl"), "--model", "none"])
    assert result.exit_code == 0, result.output
    page = html_path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Cache plan" in page and 'class="prefix"' in page
    assert "<script" not in page and "href=" not in page.replace('href="#', "")  # self-contained
    if shutil.which("dot"):
        svg_path = tmp_path / "judge.svg"
        result = runner.invoke(app, ["explain", str(judge_plan), "-f", "svg", "-o", str(svg_path)])
        assert result.exit_code == 0 and "<svg" in svg_path.read_text()
        assert "<svg" in page


def test_missing_graphviz_is_a_clear_message(judge_plan, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = runner.invoke(app, ["explain", str(judge_plan), "-f", "svg", "-o", "/dev/null"])
    assert result.exit_code == 1 and "apt-get install graphviz" in result.output
    page = explain.to_html(__import__("lmc").Plan.load(judge_plan))
    assert "Graphviz" in page and "the steps below show the same graph" in page


def test_bad_plan_and_format(tmp_path, judge_plan):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = runner.invoke(app, ["explain", str(bad)])
    assert result.exit_code == 1 and "not an lmc plan" in result.output
    result = runner.invoke(app, ["explain", str(judge_plan), "-f", "pdf"])
    assert result.exit_code == 1 and "choose one of" in result.output


def test_bench_compile_writes_a_row_per_program(tmp_path):
    result = runner.invoke(app, ["bench", "compile", "--repeats", "1", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "compile.json").read_text())
    programs = {row["program"] for row in report["rows"]}
    assert {"judge", "few_shot_mmlu", "react_agent", "summarize"} <= programs
    assert report["target_seconds"] == 0.5 and "grammars_import_seconds" in report
