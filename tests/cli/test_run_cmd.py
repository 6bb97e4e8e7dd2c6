"""`lmc run` through typer's CliRunner: ordered output, error rows, exit codes, resume, Ctrl-C."""

from __future__ import annotations

import json
import re
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
    assert '2 of 4 rows failed ("line-2", "nq")' in result.output
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["q0", "line-2", "nq", "q1"]
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
    assert "interrupted by SIGINT" in result.output and "--resume" in result.output
    assert reference.startswith(out.read_bytes())
    journaled = (out.parent / "out.jsonl.lmc-journal").read_text().count('"row":')
    assert 0 < journaled < len(QUESTIONS)
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


def test_a_plan_with_constraints_builds_them_in_a_phase_before_the_rows(data, small_model_dir, tmp_path):
    (tmp_path / "p.py").write_text(PROGRAM.replace('max_tokens=4, stop="\\n"', 'max_tokens=4, regex="[0-9]+"'))
    assert runner.invoke(app, ["compile", str(tmp_path / "p.py"), "-o", str(tmp_path / "p.json")]).exit_code == 0
    args = ["run", str(tmp_path / "p.json"), "--inputs", str(data), "-o", str(tmp_path / "out.jsonl"), "--model",
            str(small_model_dir), "--max-rows", "2"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    built = next(i for i, line in enumerate(lines) if "✓ building 1 constraint for the model's tokenizer" in line)
    assert built < next(i for i, line in enumerate(lines) if line.startswith("rows "))
    answers = [json.loads(line)["outputs"]["answer"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert all(re.fullmatch("[0-9]+", a) for a in answers), answers


def test_progress_phases_and_summary_labels(plan, data, small_model_dir, tmp_path):
    """With progress on: a phase line for each start-up step; the summary calls the cache model's
    figure predicted (never measured) and explains the rows flagged for hitting max_tokens."""
    args = ["run", str(plan), "--inputs", str(data), "-o", str(tmp_path / "out.jsonl"), "--model",
            str(small_model_dir), "--metrics", str(tmp_path / "m.json")]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"✓ loading {small_model_dir} on cpu" in result.output
    assert "✓ building kernels (attention backend, graphs) and the KV cache" in result.output
    assert "constraint" not in result.output  # this plan has none
    assert f"✓ predicting cache reuse of {len(QUESTIONS)} rows" in result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    measured = next(line for line in result.output.splitlines() if "cache hit rate" in line)
    predicted = next(line for line in result.output.splitlines() if "  predicted" in line)
    assert f"{metrics['cache']['measured_hit_rate']:.1%} of all prompt tokens (measured)" in measured
    assert (f"{metrics['cache']['predicted_hit_rate']:.1%} by the cache model (on its requests: "
            f"{metrics['cache']['modeled_hit_rate']:.1%})") in predicted
    flagged = metrics["rows"]["flags"].get("max_tokens", 0)
    assert flagged == sum(any(f["type"] == "max_tokens" for f in json.loads(line)["meta"]["flags"])
                          for line in (tmp_path / "out.jsonl").read_text().splitlines())
    assert flagged > 0  # 4-token answers on random weights rarely stop on "\n"
    assert (f"flagged: hit max_tokens: {flagged} rows (a gen stopped at its token limit, so its text may be "
            "cut; see meta.flags)") in result.output
    # the same metrics on the explain page: predicted beside measured for every gen and select
    page = tmp_path / "page.html"
    result = runner.invoke(app, ["explain", str(plan), "-f", "html", "-o", str(page), "--metrics", str(tmp_path / "m.json"),
                                 "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    table = text[text.index('<table id="per-node">'):]
    table = table[:table.index("</table>")]
    for node in metrics["nodes"]:
        if node["kind"] in ("gen", "select"):
            assert f"<td>{node['node']}</td><td>{node['kind']}</td><td class=n>{node['requests']:,}</td>" in table
            assert f"<td class=n>{node['hit_rate']:.1%}</td>" in table
    for reuse in metrics["cache"]["prediction"]["nodes"].values():
        assert f"<td class=n>{reuse['hit_rate']:.1%}</td>" in table
    result = runner.invoke(app, ["explain", str(plan), "--metrics", str(data)])
    assert result.exit_code == 1 and "cannot read --metrics" in result.output
