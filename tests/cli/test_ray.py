"""`lmc run --ray`: the planned shards as two Ray actors on a local Ray cluster (started here with
`ray.init()`) give the one-worker output file byte for byte, also when they finish a run that
one worker began (--resume: the journal and the in-order writer are the driver's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.main import app

ray = pytest.importorskip("ray", reason="Ray is the optional extra lmc[ray]; pip install 'lmc[ray]' to run this test")

runner = CliRunner()
PROGRAM = '''
import lmc

@lmc.program
def doc_qa(s, doc: str, question: str):
    s += "Read the document, then answer.\\n" + doc + "\\nQ: " + question + "\\nA:" + lmc.gen("answer", max_tokens=4)
    if s["answer"].startswith(" "):
        s += "\\nSure?" + lmc.select("sure", choices=[" yes", " no"])
'''
DOCS = ["Fact one: the sky is green in this story.", "Fact two: rivers run uphill on Tuesdays."]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ray")
    (folder / "doc_qa.py").write_text(PROGRAM)
    assert runner.invoke(app, ["compile", str(folder / "doc_qa.py"), "-o", str(folder / "plan.json")]).exit_code == 0
    rows = [{"id": f"r{i}", "doc": DOCS[i % 2], "question": f"What is thing {i}?"} for i in range(8)]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "plan.json", folder / "data.jsonl"


def _run(files, out: Path, model: Path, *extra: str):
    plan, data = files
    return runner.invoke(app, ["run", str(plan), "--inputs", str(data), "-o", str(out), "--model", str(model),
                               "--no-progress", *extra])


@pytest.mark.slow  # Ray starts two actor processes
def test_two_ray_actors_give_the_one_worker_file(local_ray, files, small_model_dir, tmp_path):
    reference = tmp_path / "one.jsonl"
    assert _run(files, reference, small_model_dir).exit_code == 0
    out = tmp_path / "ray.jsonl"
    assert _run(files, out, small_model_dir, "--max-rows", "3").exit_code == 0
    result = _run(files, out, small_model_dir, "--resume", "--ray", "--data-parallel", "2",
                  "--metrics", str(tmp_path / "m.json"))
    assert result.exit_code == 0, result.output
    assert "3 from an earlier run" in result.output
    assert out.read_bytes() == reference.read_bytes()
    workers = json.loads((tmp_path / "m.json").read_text())["data_parallel"]["per_worker"]
    assert [w["rows"] for w in workers] != [5, 0] and sum(w["rows"] for w in workers) == 5
    assert all(w["measured_prefill_tokens"] > 0 for w in workers)


def test_ray_address_needs_ray(files, small_model_dir, tmp_path):
    result = _run(files, tmp_path / "o.jsonl", small_model_dir, "--ray-address", "127.0.0.1:6379")
    assert result.exit_code == 2 and "--ray-address needs --ray" in result.output
