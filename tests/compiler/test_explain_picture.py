"""The explain picture and the attribution of saved tokens, on the examples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lmc.compiler.api import compile as compile_program
from lmc.compiler.explain.dot import to_dot
from lmc.compiler.explain.picture import Lanes, Picture, Step
from lmc.compiler.loader import load_programs
from lmc.plan.cache_model import SAVED_BY, WordPieces, predict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROLES = {"system": ("<<SYS>>", "<</SYS>>"), "user": ("[INST] ", " [/INST]"), "assistant": ("", "</s>")}


def _plan(name: str):
    return compile_program(next(iter(load_programs(EXAMPLES / f"{name}.py").values())))


def _rows(name: str, n: int = 12) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / "data" / f"{name}.jsonl").read_text().splitlines()[:n]]


@pytest.mark.parametrize("name", ["llm_judge", "tree_of_thought", "multi_turn_chat", "few_shot_mmlu"])
def test_saved_tokens_are_attributed_and_sum_to_the_total(name):
    p = predict(_plan(name).graph, _rows(name), WordPieces(), ROLES)
    assert set(p.saved_by) == set(SAVED_BY)
    assert sum(p.saved_by.values()) == p.cached_tokens > 0
    assert sum(r.cached_tokens for r in p.nodes.values()) == p.cached_tokens
    assert sum(r.prompt_tokens for r in p.nodes.values()) == p.prompt_tokens
    assert p.saved_by["row"] > 0  # every example shares text across rows
    forks = name in ("llm_judge", "tree_of_thought")
    assert (p.saved_by["fork"] > 0) == forks  # only programs that fork share a fork prefix


def test_one_row_saves_nothing_from_other_rows():
    p = predict(_plan("llm_judge").graph, _rows("llm_judge", 1), WordPieces(), ROLES)
    assert p.saved_by["row"] == 0 and p.saved_by["fork"] > 0 and p.saved_by["turn"] > 0


def test_judge_picture_numbers_merges_and_joins():
    graph = _plan("llm_judge").graph
    picture = Picture(graph, ROLES)
    steps = list(picture.steps())
    numbers = [int(re.match(r"\d+", s.key).group()) for s in steps if not s.key[-1].isalpha() or s.key.endswith("a")]
    assert numbers == list(range(1, len(numbers) + 1))  # 1, 2, 3 ... in program order
    assert all("<system>" not in s.text and "</user>" not in s.text for s in steps)
    assert "<<SYS>>You are a strict grader.<</SYS>>[INST] Question:" in steps[0].text
    lanes = next(item for item in picture.items if isinstance(item, Lanes))
    assert [lane.title for lane in lanes.lanes] == ["branch 1", "branches 2 to len(dims), alike"]
    after = picture.items[picture.items.index(lanes) + 1]
    assert isinstance(after, Step)
    dot = to_dot(graph, ROLES)
    last = [lane.items[-1].key for lane in lanes.lanes]
    for key in last:  # the branches join: the step after the fork follows the last step of each lane
        assert f"s{key} -> s{after.key} [" in dot
    assert "cluster_legend" in dot and "[group" not in dot


@pytest.mark.parametrize("name, lanes", [("tree_of_thought", [3, 2, 2, 2]), ("skeleton_of_thought", [3])])
def test_forks_of_a_known_size_draw_every_branch_and_each_lane_joins(name, lanes):
    graph = _plan(name).graph
    picture = Picture(graph, ROLES)

    def forks(items):
        for item in items:
            if isinstance(item, Lanes):
                yield item
                for lane in item.lanes:
                    yield from forks(lane.items)
            elif hasattr(item, "items"):
                yield from forks(item.items)

    found = list(forks(picture.items))
    assert [len(f.lanes) for f in found] == lanes
    outer = found[0]
    assert [lane.title for lane in outer.lanes] == [f"branch {i}" for i in range(1, lanes[0] + 1)]
    assert len({len(list(_steps_of(lane))) for lane in outer.lanes}) == 1  # the branches run the same steps
    dot = to_dot(graph, ROLES)
    after = picture.items[picture.items.index(outer) + 1]
    assert isinstance(after, Step)
    for lane in outer.lanes:  # every branch joins: the next step follows each lane's last step
        assert f"s{list(_steps_of(lane))[-1].key} -> s{after.key} [" in dot


def _steps_of(region):
    from lmc.compiler.explain.picture import _steps

    return _steps(region.items)
