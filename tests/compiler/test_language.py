"""The primitives validate every argument of LANGUAGE.md, and programs delegate running."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields

import pytest

import lmc
from lmc.plan.errors import LanguageError
from lmc.plan.language import GenCall
from lmc.plan.program import Program
from lmc.plan.sampling import SamplingParams


def test_gen_defaults_match_the_language_table():
    call = lmc.gen("x")
    assert call == GenCall("x", SamplingParams(max_tokens=128, stop=(), stop_token_ids=(), temperature=0.0,
                                               top_p=1.0, top_k=-1, min_p=0.0, frequency_penalty=0.0,
                                               presence_penalty=0.0, seed=None, ignore_eos=False))
    assert call.constraint() is None


def test_one_sampling_record_for_the_language_and_the_engine():
    from lmc.runtime import request

    assert request.SamplingParams is SamplingParams
    knobs = {f.name for f in fields(SamplingParams)} - {"seed"}  # the executor seeds per row and op
    assert knobs <= set(inspect.signature(lmc.gen).parameters)
    call = lmc.gen("x", max_tokens=7, temperature=0.5, top_k=3, stop=["."], ignore_eos=True)
    assert call.sampling == SamplingParams(max_tokens=7, temperature=0.5, top_k=3, stop=(".",), ignore_eos=True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"regex": "a", "json_schema": {}}, "has 2 constraints (regex=, json_schema=)"),
    ({"choices": ["a"], "dtype": int}, "has 2 constraints"),
    ({"max_tokens": -1}, "max_tokens must be an int >= 0"),
    ({"max_tokens": 2.5}, "max_tokens must be an int >= 0"),
    ({"max_tokens": True}, "max_tokens must be an int >= 0"),
    ({"temperature": -1}, "temperature must be >= 0"),
    ({"temperature": float("nan")}, "temperature must be a finite number"),
    ({"top_p": 0}, "top_p must be in (0, 1]"),
    ({"top_k": 0}, "top_k must be -1 (off) or an int >= 1"),
    ({"min_p": 2}, "min_p must be in [0, 1]"),
    ({"frequency_penalty": 3}, "frequency_penalty must be in [-2, 2]"),
    ({"presence_penalty": "a"}, "presence_penalty must be a finite number"),
    ({"ignore_eos": 1}, "ignore_eos must be True or False"),
    ({"stop": 5}, "stop must be a list of str"),
    ({"stop": ["", "x"]}, "non-empty str values"),
    ({"stop_token_ids": [-1]}, "stop_token_ids must be a list of token ids"),
    ({"regex": "(a"}, "is not valid at position"),
    ({"json_schema": {"type": "nonsense"}}, "not a valid JSON Schema"),
    ({"json_schema": "{not json"}, "json_schema text is not JSON"),
    ({"json_schema": 5}, "json_schema must be a dict"),
    ({"grammar": "nope.lark"}, "is not in grammars/"),
    ({"grammar": "start: ??"}, "not a valid lark LALR grammar"),
    ({"choices": []}, "at least one choice"),
    ({"choices": ["a", "a"]}, "duplicates ['a']"),
    ({"choices": "ab"}, "choices must be a list of str"),
    ({"dtype": list}, "dtype must be int, float, bool or str"),
])
def test_gen_rejects_bad_arguments_with_a_message(kwargs, message):
    with pytest.raises(LanguageError) as info:
        lmc.gen("x", **kwargs)
    assert message in str(info.value)


def test_gen_normalizes_what_it_keeps():
    call = lmc.gen("x", stop="\n", json_schema='{"type": "object", "properties": {"b": {}, "a": {}}}')
    assert call.sampling.stop == ("\n",)
    assert call.json_schema == json.dumps({"properties": {"a": {}, "b": {}}, "type": "object"}, separators=(",", ":"))
    assert call.constraint() == ("json_schema", call.json_schema)
    assert lmc.gen("x", dtype=float).constraint() == ("dtype", "float")
    assert lmc.gen("x", choices=["a", "b"]).constraint() == ("choices", '["a", "b"]')
    assert lmc.gen("x", grammar="start: \"a\"+").constraint()[0] == "grammar"


def test_select_and_names():
    assert lmc.select("pick", choices=("a", "b")).choices == ("a", "b")
    with pytest.raises(LanguageError, match="needs a non-empty str name"):
        lmc.select("", choices=["a"])
    with pytest.raises(LanguageError, match="needs a non-empty str name"):
        lmc.gen(3)
    with pytest.raises(LanguageError, match="non-empty str values"):
        lmc.select("x", choices=["a", ""])


def test_program_keeps_its_function_and_delegates_running(monkeypatch):
    @lmc.function
    def ask(s, q: str):
        s += q + lmc.gen("a")

    assert isinstance(ask, Program) and ask.name == "ask" and ask.fn.__name__ == "ask"
    calls = []
    from lmc.runtime import executor

    def run_plan(plan, rows, progress, runtime, options):
        calls.append((plan.name, rows, progress))
        return ["r"]

    monkeypatch.setattr(executor, "run_plan", run_plan)
    assert ask.run(q="hi") == "r"
    assert ask.run_batch(iter([{"q": "a"}, {"q": "b"}])) == ["r"]
    assert calls == [("ask", [{"q": "hi"}], False), ("ask", [{"q": "a"}, {"q": "b"}], True)]
    assert ask.compile().name == "ask"
    with pytest.raises(TypeError, match="decorates a function"):
        lmc.program(42)
