"""`lmc run` processes killed and signalled for real: nothing finished is lost or computed twice.

The runs are forked from run_zygote.py, which loads torch, lmc and the model once; each child is
the `lmc` command line in its own process, stopped by a real signal at a point chosen by how many
rows its journal holds (the order pass is on, so rows finish far ahead of out.jsonl).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.main import app

ROWS = 300
PROGRAM = '''
import lmc

@lmc.program
def quiz(s, question: str):
    s += "Q: " + question + "\\nA:" + lmc.gen("answer", max_tokens=1)
'''
OTHER_PROGRAM = PROGRAM.replace('"Q: "', '"Question: "')
SPIN = '''
import lmc

@lmc.program
def spin(s, question: str):
    s += question + lmc.gen("x", max_tokens=1)
    while s["x"] != "never":
        s += lmc.gen("x", max_tokens=1)
'''
runner = CliRunner()


class Zygote:
    """The test's handle on run_zygote.py."""

    def __init__(self, model: Path) -> None:
        script = Path(__file__).with_name("run_zygote.py")
        self.model = model
        self.proc = subprocess.Popen([sys.executable, str(script), str(model)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert self._read() == {"ready": True}

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "run_zygote.py ended"
        return json.loads(line)

    def send(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def run(self, plan: Path, data: Path, out: Path, *extra: str, **command) -> dict:
        args = ["run", str(plan), "--inputs", str(data), "-o", str(out), "--model", str(self.model),
                "--no-progress", *extra]
        return self.send(args=args, log=str(out.parent / "log.txt"), **command)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _compile(folder: Path, name: str, source: str) -> Path:
    (folder / f"{name}.py").write_text(source)
    result = runner.invoke(app, ["compile", str(folder / f"{name}.py"), "-o", str(folder / f"{name}.json")])
    assert result.exit_code == 0, result.output
    return folder / f"{name}.json"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, small_model_dir):
    folder = tmp_path_factory.mktemp("durable")
    data = folder / "data.jsonl"
    rng = random.Random(7)
    topics = ["the sea", "a cat", "rain", "Paris", "numbers", "music"]
    data.write_text("".join(json.dumps({"id": f"r{i}", "question": f"Tell me about {rng.choice(topics)} {i}."}) + "\n"
                            for i in range(ROWS)))
    zygote = Zygote(small_model_dir)
    plan = _compile(folder, "quiz", PROGRAM)
    ref = folder / "ref"
    ref.mkdir()
    assert zygote.run(plan, data, ref / "out.jsonl")["exit"] == 0
    yield zygote, plan, data, (ref / "out.jsonl").read_bytes(), folder
    zygote.close()


def _journal_rows(out: Path) -> list[int]:
    journal = out.parent / (out.name + ".lmc-journal")
    lines = journal.read_bytes().splitlines(keepends=True) if journal.exists() else []
    return [json.loads(line)["row"] for line in lines if line.endswith(b"\n") and line.startswith(b'{"row": ')]


def _resume_and_check(zygote: Zygote, plan: Path, data: Path, out: Path, reference: bytes) -> None:
    """--resume gives the uninterrupted file and recomputes exactly the rows not journaled."""
    finished = set(_journal_rows(out))
    metrics = out.parent / "metrics.json"
    result = zygote.run(plan, data, out, "--resume", "--metrics", str(metrics))
    assert result["exit"] == 0, (out.parent / "log.txt").read_text()
    assert out.read_bytes() == reference
    rows = json.loads(metrics.read_text())["rows"]
    assert (rows["ran"], rows["resumed"]) == (ROWS - len(finished), len(finished))
    assert Counter(_journal_rows(out)) == Counter(range(ROWS))  # every row computed once over both runs


def test_the_uninterrupted_run_is_in_input_order(setup):
    _, _, _, reference, _ = setup
    assert [json.loads(line)["id"] for line in reference.splitlines()] == [f"r{i}" for i in range(ROWS)]


def test_sigkill_at_20_points_then_resume_loses_nothing_and_recomputes_only_unfinished_rows(setup, tmp_path):
    """20 separate runs, each killed at its own seeded point and then resumed to the end."""
    zygote, plan, data, reference, _ = setup
    for k in sorted(random.Random(12).sample(range(ROWS), 20)):
        out = tmp_path / f"kill-{k}" / "out.jsonl"
        out.parent.mkdir()
        result = zygote.run(plan, data, out, signal=signal.SIGKILL, at_rows=k)
        assert result["exit"] == -signal.SIGKILL, (k, result)
        written = out.read_bytes() if out.exists() else b""  # an early kill may come before out.jsonl exists
        assert reference.startswith(written)  # the in-order file is a prefix of the final one
        assert len(_journal_rows(out)) >= k
        _resume_and_check(zygote, plan, data, out, reference)


def test_a_chain_of_killed_resumes_keeps_every_journaled_row(setup, tmp_path):
    """Five kills in one chain: each run resumes the one killed before it and is killed in turn."""
    zygote, plan, data, reference, _ = setup
    out = tmp_path / "out.jsonl"
    before: list[int] = []
    for k in sorted(random.Random(5).sample(range(ROWS), 5)):
        result = zygote.run(plan, data, out, "--resume", signal=signal.SIGKILL, at_rows=k)
        assert result["exit"] == -signal.SIGKILL, (k, result)
        written = out.read_bytes() if out.exists() else b""
        assert reference.startswith(written)
        journaled = _journal_rows(out)
        assert journaled[: len(before)] == before and not set(journaled[len(before):]) & set(before)
        before = journaled
    _resume_and_check(zygote, plan, data, out, reference)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_sigterm_sigint_sighup_write_the_summary_and_exit_with_128_plus_the_signal(setup, tmp_path, sig):
    zygote, plan, data, reference, _ = setup
    out = tmp_path / "out.jsonl"
    result = zygote.run(plan, data, out, signal=sig, at_rows=ROWS // 3)
    assert result["exit"] == 128 + sig
    log = (tmp_path / "log.txt").read_text()
    assert f"interrupted by {signal.Signals(sig).name}" in log and "--resume" in log and "lmc run: quiz" in log
    finished = set(_journal_rows(out))
    contiguous = next(i for i in range(ROWS + 1) if i not in finished)
    assert out.read_bytes() == b"".join(reference.splitlines(keepends=True)[:contiguous])  # completed from the journal
    assert not (tmp_path / "out.jsonl.lmc-lock").exists()
    _resume_and_check(zygote, plan, data, out, reference)


def test_a_second_run_on_the_same_output_exits_at_once_naming_the_first(setup, tmp_path):
    zygote, plan, data, reference, _ = setup
    out = tmp_path / "out.jsonl"
    first = zygote.run(plan, data, out, detach=True, at_rows=5)
    assert first["exit"] is None, "the first run ended before the second could start"
    os.kill(first["pid"], signal.SIGSTOP)  # keep it mid-run (holding its lock) while the second starts
    try:
        second = runner.invoke(app, ["run", str(plan), "-i", str(data), "-o", str(out), "--model", "no-such-model"])
    finally:
        os.kill(first["pid"], signal.SIGCONT)
    assert second.exit_code == 2
    assert f"is being written by another lmc run (pid {first['pid']})" in second.output
    assert zygote.send(wait=first["pid"])["exit"] == 0
    assert out.read_bytes() == reference  # the first run's output is whole


def _copy_of_reference(folder: Path, into: Path) -> Path:
    for name in ("out.jsonl", "out.jsonl.lmc-journal"):
        (into / name).write_bytes((folder / "ref" / name).read_bytes())
    return into / "out.jsonl"


def test_resume_onto_a_foreign_file_or_another_plans_output_is_refused(setup, tmp_path):
    _, plan, data, reference, folder = setup
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"id": "x1", "outputs": {"a": 1}}\n')
    result = runner.invoke(app, ["run", str(plan), "-i", str(data), "-o", str(foreign), "--resume"])
    assert result.exit_code == 2 and "has no lmc journal" in result.output and "--force" in result.output
    assert foreign.read_text() == '{"id": "x1", "outputs": {"a": 1}}\n'

    out = _copy_of_reference(folder, tmp_path)
    other = _compile(tmp_path, "other", OTHER_PROGRAM)
    result = runner.invoke(app, ["run", str(other), "-i", str(data), "-o", str(out), "--resume", "--model",
                                 str(setup[0].model)])
    assert result.exit_code == 2
    assert "was written with plan 'quiz' (sha256 " in result.output and "this run has plan 'quiz' (sha256 " in result.output
    assert out.read_bytes() == reference


def test_resume_of_a_finished_run_runs_nothing(setup, tmp_path):
    zygote, plan, data, reference, folder = setup
    out = _copy_of_reference(folder, tmp_path)
    _resume_and_check(zygote, plan, data, out, reference)


def test_bad_rows_become_error_rows_and_the_others_run(setup, tmp_path):
    zygote, plan, _, _, _ = setup
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "question": "Hi?"}\n{"id": "s", "question": "\\ud800"}\n{"question": "No id?"}\n'
                    '{"id": "a", "question": "Again?"}\n')
    out = tmp_path / "out.jsonl"
    assert zygote.run(plan, data, out)["exit"] == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "s", "line-3", "a"]
    assert "outputs" in rows[0] and "outputs" in rows[2]
    assert "lone surrogate" in rows[1]["error"]["message"]
    assert "duplicate id 'a'" in rows[3]["error"]["message"]
    assert '2 of 4 rows failed ("s", "a")' in (tmp_path / "log.txt").read_text()


def test_an_unwritable_output_is_refused_before_the_model_loads(setup, tmp_path):
    _, plan, data, _, _ = setup
    (tmp_path / "file").write_text("")
    for out in (tmp_path, tmp_path / "file" / "out.jsonl"):
        result = runner.invoke(app, ["run", str(plan), "-i", str(data), "-o", str(out), "--model", "no-such-model"])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1
        assert "--output" in result.output and "Traceback" not in result.output


def test_max_loop_iterations_stops_a_loop_that_never_ends(setup, tmp_path):
    zygote, _, data, _, _ = setup
    spin = _compile(tmp_path, "spin", SPIN)
    out = tmp_path / "out.jsonl"
    assert zygote.run(spin, data, out, "--max-rows", "2", "--max-loop-iterations", "3")["exit"] == 1
    for row in (json.loads(line) for line in out.read_text().splitlines()):
        assert "the while loop ran more than 3 times (lmc run --max-loop-iterations" in row["error"]["message"]
