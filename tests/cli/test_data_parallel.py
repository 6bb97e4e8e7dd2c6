"""`lmc run --data-parallel 2`: two worker processes give the one-worker output file byte for byte
(a dynamic region, an unreadable line, --resume), and --metrics reports each worker's prefill."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.main import app
from lmc.plan.file import Plan

runner = CliRunner()
PROGRAM = '''
import lmc

@lmc.program
def doc_qa(s, doc: str, question: str):
    s += "Read the document, then answer.\\n" + doc + "\\nQ: " + question + "\\nA:" + lmc.gen("answer", max_tokens=4, stop="\\n")
    if s["answer"].startswith(" "):
        s += "\\nSure?" + lmc.select("sure", choices=[" yes", " no"])
'''
DOCS = [" ".join(f"Fact {d}.{k}: item {k} of set {d} is {w}." for k, w in enumerate(["red", "blue", "tall", "old"]))
        for d in range(3)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("dp")
    (folder / "doc_qa.py").write_text(PROGRAM)
    assert runner.invoke(app, ["compile", str(folder / "doc_qa.py"), "-o", str(folder / "plan.json")]).exit_code == 0
    rng = random.Random(0)
    lines = [json.dumps({"id": f"r{i}", "doc": DOCS[rng.randrange(3)], "question": f"What is thing {i}?"}) + "\n"
             for i in range(12)]
    lines.insert(7, "{not json\n")
    (folder / "data.jsonl").write_text("".join(lines))
    return folder / "plan.json", folder / "data.jsonl"


def _run(files, out: Path, model: Path, *extra: str):
    plan, data = files
    return runner.invoke(app, ["run", str(plan), "--inputs", str(data), "-o", str(out), "--model", str(model),
                               "--no-progress", *extra])


def test_two_workers_resuming_a_run_give_the_one_worker_file(files, small_model_dir, tmp_path):
    reference = tmp_path / "one.jsonl"
    assert _run(files, reference, small_model_dir).exit_code == 1  # the unreadable line fails
    out = tmp_path / "two.jsonl"
    assert _run(files, out, small_model_dir, "--max-rows", "3").exit_code == 0
    result = _run(files, out, small_model_dir, "--resume", "--data-parallel", "2", "--metrics",
                  str(tmp_path / "m.json"))
    assert result.exit_code == 1, result.output
    assert "3 from an earlier run" in result.output and "2 workers (planned)" in result.output
    assert out.read_bytes() == reference.read_bytes()
    assert Plan.load(files[0]).has_dynamic_regions  # each row's region ran on its row's worker
    parallel = json.loads((tmp_path / "m.json").read_text())["data_parallel"]
    workers = parallel["per_worker"]
    assert [w["rows"] > 0 for w in workers] == [True, True] and sum(w["rows"] for w in workers) == 10
    assert all(w["measured_prefill_tokens"] > 0 for w in workers)
    assert parallel["measured_prefill_tokens"] == sum(w["measured_prefill_tokens"] for w in workers)


def test_an_unknown_placement_is_refused(files, small_model_dir, tmp_path):
    result = _run(files, tmp_path / "out.jsonl", small_model_dir, "--data-parallel", "2", "--placement", "random")
    assert result.exit_code == 2
    assert "--placement must be one of planned, round-robin" in result.output
