"""`lmc run` through typer's CliRunner: ordered output, error rows, exit codes, resume, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.main import app
from lmc.runtime.engine import Engine

runner = CliRunner()
PROGRAM = '''
import lmc

@lmc.program
def quiz(s, question: str, hint: str = ""):
    s += "Answer briefly.\\n" + hint + "Q: " + question + "\\nA:" + lmc.gen("answer", max_tokens=4, stop="\\n")
    s += "\\nSure?" + lmc.select("sure", choices=[" yes", " no"])
'''
QUESTIONS = ["Why is the sky blue?", "What is 2+2?", "Name a colour.", "Who are you?", "Where is Paris?",
             "Is water wet?", "How old is the sun?", "What is a cat?", "Why?", "How?"]


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    (folder / "quiz.py").write_text(PROGRAM)
    result = runner.invoke(app, ["compile", str(folder / "quiz.py"), "-o", str(folder / "plan.json")])
    assert result.exit_code == 0, result.output
    return folder / "plan.json"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "data.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    return path


def _run(plan: Path, data: Path, out: Path, model: Path, *extra: str):
    args = ["run", str(plan), "--inputs", str(data), "-o", str(out), "--model", str(model), "--no-progress", *extra]
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def reference(plan, data, small_model_dir, tmp_path_factory) -> bytes:
    """An uninterrupted run's output, with metrics."""
    folder = tmp_path_factory.mktemp("ref")
    result = _run(plan, data, folder / "out.jsonl", small_model_dir, "--metrics", str(folder / "m.json"))
    assert result.exit_code == 0, result.output
    metrics = json.loads((folder / "m.json").read_text())
    assert metrics["rows"]["ok"] == len(QUESTIONS)
    assert 0 <= metrics["cache"]["predicted_hit_rate"] <= 1 and metrics["cache"]["measured_hit_rate"] > 0
    assert {n["kind"] for n in metrics["nodes"]} >= {"gen", "select", "prefix"}
    return (folder / "out.jsonl").read_bytes()


def test_rows_come_out_in_input_order_with_their_ids(reference):
    lines = [json.loads(line) for line in reference.decode().splitlines()]
    assert [r["id"] for r in lines] == [f"q{i}" for i in range(len(QUESTIONS))]
    assert all(set(r["outputs"]) == {"answer", "sure"} and r["outputs"]["sure"] in (" yes", " no") for r in lines)


def test_broken_lines_give_error_rows_and_a_failing_exit(plan, small_model_dir, tmp_path, reference):
    good = reference.decode().splitlines()
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps({"id": "q0", "question": QUESTIONS[0]}) + "\n"
        + "{this is not json\n"
        + json.dumps({"id": "nq", "hint": "x"}) + "\n"
        + json.dumps({"id": "q1", "question": QUESTIONS[1]}) + "\n"
    )
    result = _run(plan, data, tmp_path / "out.jsonl", small_model_dir)
    assert result.exit_code == 1
    assert '2 of 4 rows failed (2, "nq")' in result.output
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["q0", 2, "nq", "q1"]
    assert lines[0] == good[0] and lines[3] == good[1]
    assert json.loads(lines[1])["error"]["type"] == "InputError"
    assert "question" in json.loads(lines[2])["error"]["message"]


def test_resume_after_a_partial_run_gives_the_uninterrupted_file(plan, data, small_model_dir, tmp_path, reference):
    out = tmp_path / "out.jsonl"
    assert _run(plan, data, out, small_model_dir, "--max-rows", "4").exit_code == 0
    assert len(out.read_text().splitlines()) == 4
    result = _run(plan, data, out, small_model_dir, "--resume")
    assert result.exit_code == 0, result.output
    assert "4 from an earlier run" in result.output
    assert out.read_bytes() == reference


def test_ctrl_c_keeps_finished_rows_and_resume_finishes(plan, data, small_model_dir, tmp_path, reference,
                                                        monkeypatch):
    step = Engine.step
    calls = []

    def interrupted_step(self):
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt
        return step(self)

    out = tmp_path / "out.jsonl"
    with monkeypatch.context() as m:
        m.setattr(Engine, "step", interrupted_step)
        result = _run(plan, data, out, small_model_dir, "--max-active-rows", "3")
    assert result.exit_code == 130
    written = out.read_bytes().splitlines(keepends=True)
    assert 0 < len(written) < len(QUESTIONS)
    assert set(written) <= set(reference.splitlines(keepends=True))
    assert _run(plan, data, out, small_model_dir, "--resume").exit_code == 0
    assert out.read_bytes() == reference


def test_an_unreadable_plan_is_refused(tmp_path, data, small_model_dir):
    bad = tmp_path / "plan.json"
    bad.write_text("{}")
    result = _run(bad, data, tmp_path / "out.jsonl", small_model_dir)
    assert result.exit_code == 2
    assert "not an lmc plan" in result.output


def test_a_plan_whose_dynamic_program_changed_is_refused(tmp_path, data, small_model_dir):
    source = tmp_path / "loop.py"
    source.write_text(PROGRAM.replace('    s += "\\nSure?"', '    if s["answer"] == "x":\n        s += "!"\n    s += "\\nSure?"'))
    assert runner.invoke(app, ["compile", str(source), "-o", str(tmp_path / "plan.json")]).exit_code == 0
    source.write_text(source.read_text() + "\n# edited\n")
    result = _run(tmp_path / "plan.json", data, tmp_path / "out.jsonl", small_model_dir)
    assert result.exit_code == 2
    assert "changed since this plan was compiled" in result.output


def test_explain_and_run_predict_on_the_same_tokens(plan, data, small_model_dir, tmp_path):
    """`lmc explain --inputs` and `lmc run --metrics` hand the cache model one tokenize function,
    the runtime tokenizer's `encode_run` (BOS included), so they predict the same hit rate."""
    from lmc.cli.explain_cmd import predict_reuse
    from lmc.plan.cache_model import predict
    from lmc.plan.file import Plan
    from lmc.runtime.tokenizer import load_tokenizer, role_texts

    result = _run(plan, data, tmp_path / "out.jsonl", small_model_dir, "--metrics", str(tmp_path / "m.json"))
    assert result.exit_code == 0, result.output
    measured = json.loads((tmp_path / "m.json").read_text())["cache"]["predicted_hit_rate"]
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    graph = Plan.load(plan).graph
    explained, note = predict_reuse(graph, rows, str(small_model_dir))
    assert note == "" and explained.hit_rate == measured
    tok = load_tokenizer(str(small_model_dir))
    without_bos = predict(graph, rows, lambda text, start: tok.encode(text) if start else tok.encode_continuation(text),
                          role_texts(tok)[0])
    assert without_bos.prompt_tokens == explained.prompt_tokens - explained.requests  # one BOS per request
    assert without_bos.hit_rate != measured
