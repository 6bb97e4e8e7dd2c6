"""`lmc compile` through typer's CliRunner: plans written, errors taught, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lmc.cli.main import app
from lmc.plan.file import Plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def test_compile_one_program_to_a_file(tmp_path):
    out = tmp_path / "judge.json"
    result = runner.invoke(app, ["compile", str(EXAMPLES / "llm_judge.py"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "judge" in result.output and f"wrote {out}" in result.output
    plan = Plan.load(out)
    assert plan.name == "judge" and plan.stats()["shared_prefixes"] == 2


def test_several_programs_need_a_directory(tmp_path):
    path = EXAMPLES / "rag_pipeline.py"
    result = runner.invoke(app, ["compile", str(path), "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert "give -o a directory" in result.output and "rag_pipeline" in result.output
    result = runner.invoke(app, ["compile", str(path), "-o", str(tmp_path / "plans")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["rag_pipeline.plan.json", "summarize.plan.json"]
    result = runner.invoke(app, ["compile", str(path), "--program", "rag_pipeline", "-o", str(tmp_path / "one.json")])
    assert result.exit_code == 0 and (tmp_path / "one.json").exists()


def test_disable_pass(tmp_path):
    out = tmp_path / "mmlu.json"
    args = ["compile", str(EXAMPLES / "few_shot_mmlu.py"), "-o", str(out), "--disable-pass", "merge_forks"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = Plan.load(out)
    assert "merge_forks" not in plan.graph.meta["passes"] and "order" in plan.graph.meta["passes"]


def test_compile_errors_are_taught_without_traceback(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import lmc\n\n\n@lmc.program\ndef p(s, q):\n    print(q)\n")
    result = runner.invoke(app, ["compile", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:6:5: error: `print(...)` cannot run" in result.output
    assert "    ^^^^^^^^" in result.output and "help:" in result.output
    assert "Traceback" not in result.output


def test_unknown_program_or_pass_exit_1(tmp_path):
    path = str(EXAMPLES / "hellaswag.py")
    result = runner.invoke(app, ["compile", path, "--program", "nope"])
    assert result.exit_code == 1 and "its programs: hellaswag" in result.output
    result = runner.invoke(app, ["compile", path, "--disable-pass", "nope"])
    assert result.exit_code == 1 and "unknown pass 'nope'" in result.output


def test_compile_never_imports_torch(tmp_path):
    """Compiling (constraints included: llm_judge has a regex) needs no tensors, so a fresh
    process that compiles has no torch, nor transformers, in sys.modules afterwards."""
    script = (
        "import sys\n"
        "from lmc.cli.main import app\n"
        "try:\n"
        f"    app(['compile', {str(EXAMPLES / 'llm_judge.py')!r}, '-o', {str(tmp_path / 'p.json')!r}])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "p.json").is_file()
