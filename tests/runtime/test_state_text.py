"""s.text(), var_scope and sub-programs called without a state, run end to end on the small
model. The references are the executor's own decoded prompt (`result.text`), the same
sub-program run as a program of its own, and the tokenizer the cache model is handed."""

from __future__ import annotations

import os

import pytest

from lmc.plan.cache_model import predict
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob

PROGRAMS = '''
import lmc


@lmc.function
def echo(s, question):
    s += "Q: " + question + "\\nA:" + lmc.gen("a", max_tokens=4)
    forks = s.fork(2)
    forks += " Why?" + lmc.gen("why", max_tokens=3)
    with s.var_scope("closing"):
        s += " So:" + lmc.gen("so", max_tokens=3) + "."
    return {"own": s.text(), "forks": [f.text() for f in forks], "closing": s["closing"], "so": s["so"]}


@lmc.function
def expand(s, tip):
    s += "Please expand the following tip into a detailed paragraph:" + tip + "\\n"
    s += lmc.gen("detailed_tip", max_tokens=4)


@lmc.function
def tips(s, topic, other):
    s += "Here are 2 tips for " + topic + ".\\n1." + lmc.gen("tip_1", max_tokens=3)
    branch1 = expand(tip=s["tip_1"])
    branch2 = expand(tip=other)
    s += "\\nTip 1: " + branch1["detailed_tip"] + "\\nTip 2: " + branch2["detailed_tip"]
    s += "\\nIn summary" + lmc.gen("summary", max_tokens=3)
    return {"tip_1": s["tip_1"], "one": branch1["detailed_tip"], "two": branch2["detailed_tip"]}
'''


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    from lmc.compiler.loader import load_programs

    path = tmp_path_factory.mktemp("state_text") / "state_text_prog.py"
    path.write_text(PROGRAMS)
    return load_programs(path)


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir), max_model_len=512))


def run(engine: Engine, program, rows: list[dict]) -> list[RowResult]:
    results: list[RowResult] = []
    execute(engine, program.compile(), [RowJob(i, str(i), r) for i, r in enumerate(rows)], results.append,
            RunOptions(keep_text=True))
    results.sort(key=lambda r: r.index)
    assert all(r.error is None for r in results), results
    return results


def test_texts_of_the_state_and_its_forks_are_what_the_prompts_hold(engine, programs):
    (result,) = run(engine, programs["echo"], [{"question": "Is the sky blue?"}])
    out = result.outputs
    assert out["own"] == result.text  # the executor's decoded prompt of s, after its last gen
    head = "Q: Is the sky blue?\nA:" + result.outputs["own"].split("\nA:", 1)[1].split(" So:")[0]
    assert [f.startswith(head + " Why?") for f in out["forks"]] == [True, True]
    assert out["closing"] == " So:" + out["so"] + "." and result.text.endswith(out["closing"])


def test_a_program_called_without_a_state_runs_as_it_would_alone(engine, programs):
    rows = [{"topic": "health", "other": " sleep"}, {"topic": "money", "other": " save"}]
    results = run(engine, programs["tips"], rows)
    for row, result in zip(rows, results):
        out = result.outputs
        alone = run(engine, programs["expand"], [{"tip": out["tip_1"]}, {"tip": row["other"]}])
        assert [out["one"], out["two"]] == [r.outputs["detailed_tip"] for r in alone]  # no shared prefix with s
        assert f"\nTip 1: {out['one']}\nTip 2: {out['two']}\nIn summary" in result.text
        assert not result.text.startswith("Please expand")


def test_the_cache_model_starts_a_new_state_at_the_prompt_start(engine, programs):
    """Requests known before the run: tip_1 and the second expand (its tip is an input). The
    expand request is tokenized from the start (BOS included), so within a row it shares with s
    only the common start of the two texts (another state of the row), across rows the rest."""
    rows = [{"topic": "health", "other": " sleep"}, {"topic": "money", "other": " save"}]
    tok = engine.tokenizer
    graph = programs["tips"].compile().graph
    tips = [tok.encode_run(f"Here are 2 tips for {r['topic']}.\n1.", True) for r in rows]
    expands = [tok.encode_run(f"Please expand the following tip into a detailed paragraph:{r['other']}\n", True)
               for r in rows]
    common = lambda *seqs: len(os.path.commonprefix(list(seqs)))  # noqa: E731
    one = predict(graph, rows[:1], tok.encode_run)
    assert one.requests == 2 and one.prompt_tokens == len(tips[0]) + len(expands[0])
    assert one.cached_tokens == one.saved_by["state"] == common(tips[0], expands[0]) >= 1  # BOS at least
    both = predict(graph, rows, tok.encode_run)
    assert both.prompt_tokens == sum(map(len, tips + expands))
    assert both.cached_tokens == (common(tips[0], expands[0]) + max(common(tips[1], t) for t in (tips[0], expands[0]))
                                  + max(common(expands[1], t) for t in (tips[0], expands[0], tips[1])))
    assert both.saved_by["fork"] == both.saved_by["turn"] == 0
