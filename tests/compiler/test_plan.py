"""plan.json: versioned, schema-valid, byte-deterministic (across processes), refused when stale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lmc
from lmc.compiler.loader import load_programs
from lmc.plan.errors import PlanError
from lmc.plan.file import PLAN_VERSION, Plan
from lmc.plan.instantiate import Instantiator
from lmc.plan.options import CompileOptions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def react_copy(tmp_path: Path) -> Path:
    path = tmp_path / "react_agent.py"
    shutil.copy(EXAMPLES / "react_agent.py", path)
    return path


def test_save_load_save_is_byte_identical(tmp_path):
    plan = lmc.compile(load_programs(EXAMPLES / "llm_judge.py")["judge"])
    first = plan.save(tmp_path / "a.json")
    second = Plan.load(first).save(tmp_path / "b.json")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().endswith(b"\n")


def test_other_version_is_refused_naming_both(tmp_path):
    data = lmc.compile(load_programs(EXAMPLES / "hellaswag.py")["hellaswag"]).to_json()
    data["version"] = PLAN_VERSION + 1
    data["lmc_version"] = "9.9.9"
    with pytest.raises(PlanError) as info:
        Plan.from_json(data)
    message = str(info.value)
    assert f"version {PLAN_VERSION + 1}" in message and "lmc 9.9.9" in message
    assert "reads versions 1 (int), 2 (int), 3 (int)" in message and lmc.__version__ in message


def test_a_version_1_plan_still_loads():
    """Written by lmc before the row order moved to the runtime (compiled with --inputs, so it
    holds an order); its order and memory budget are dropped, the rest is read as it was."""
    path = Path(__file__).resolve().parents[1] / "plan" / "fixtures" / "few_shot_mmlu.v1.plan.json"
    old = json.loads(path.read_text())
    assert old["version"] == 1 and old["order"] is not None
    old["options"]["memory_budget_tokens"] = 4096
    plan = Plan.from_json(old)
    new = plan.to_json()
    assert new["version"] == PLAN_VERSION and "order" not in new and "memory_budget_tokens" not in new["options"]
    assert {k: new[k] for k in ("nodes", "edges", "constraints", "passes", "program", "sources")} == {
        k: old[k] for k in ("nodes", "edges", "constraints", "passes", "program", "sources")}
    assert Plan.loads(plan.dumps()).dumps() == plan.dumps()


def test_a_version_of_another_type_is_named_with_both_types():
    data = lmc.compile(load_programs(EXAMPLES / "hellaswag.py")["hellaswag"]).to_json()
    data["version"] = str(PLAN_VERSION)
    with pytest.raises(PlanError) as info:
        Plan.from_json(data)
    message = str(info.value)
    assert f"format version '{PLAN_VERSION}' (str," in message
    assert "reads versions 1 (int), 2 (int), 3 (int)" in message


def test_schema_violations_are_refused_with_their_place():
    data = lmc.compile(load_programs(EXAMPLES / "hellaswag.py")["hellaswag"]).to_json()
    data["nodes"][1]["kind"] = "teleport"
    with pytest.raises(PlanError, match=r"at nodes/1/kind"):
        Plan.from_json(data)
    with pytest.raises(PlanError, match="not an lmc plan"):
        Plan.from_json({"nodes": []})
    with pytest.raises(PlanError, match="not valid JSON"):
        Plan.loads("{")


def test_plan_records_sources_and_options():
    prog = load_programs(EXAMPLES / "rag_pipeline.py")["rag_pipeline"]
    options = CompileOptions(disabled_passes=("merge_forks",), max_loop_iterations=9)
    plan = Plan.loads(lmc.compile(prog, options).dumps())
    assert plan.options == options
    assert [Path(s.path).name for s in plan.graph.sources] == ["rag_pipeline.py"]
    assert "merge_forks" not in plan.graph.meta["passes"]


def test_changed_source_is_refused_for_dynamic_regions(react_copy, program):
    plan = lmc.compile(load_programs(react_copy)["react_agent"])
    assert plan.has_dynamic_regions
    Instantiator(plan)  # fine while the source is unchanged
    old = plan.graph.sources[0].sha256
    react_copy.write_text(react_copy.read_text() + "\n# edited\n")
    with pytest.raises(PlanError) as info:
        Instantiator(Plan.loads(plan.dumps()))
    message = str(info.value)
    assert old[:12] in message and "changed since this plan was compiled" in message
    assert f"lmc compile {react_copy}" in message
    react_copy.unlink()
    with pytest.raises(PlanError, match="no longer exists"):
        plan.check_sources()


def test_static_plans_do_not_need_their_source(tmp_path):
    path = tmp_path / "hellaswag.py"
    shutil.copy(EXAMPLES / "hellaswag.py", path)
    plan = Plan.loads(lmc.compile(load_programs(path)["hellaswag"]).dumps())
    path.unlink()
    row = Instantiator(plan).row({"context": "c", "endings": ["a", "b"]})
    assert row.start()


def test_plans_are_identical_across_processes_and_hash_seeds(tmp_path):
    script = (
        "import sys, lmc; from lmc.compiler.loader import load_programs;"
        f"p = load_programs({str(EXAMPLES / 'rag_pipeline.py')!r})['rag_pipeline'];"
        "sys.stdout.write(lmc.compile(p).dumps())"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["program"]["name"] == "rag_pipeline"
