"""The Python API: `program.run` / `run_batch` on a Runtime, states in input order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lmc
from lmc.runtime import api
from lmc.runtime.api import Runtime, default_backend, set_default_backend
from lmc.runtime.executor import ProgramState, RowFailed


@lmc.program
def greet(s, name: str):
    s += f"Hello {name}," + lmc.gen("reply", max_tokens=4, ignore_eos=True)
    s += " Mood:" + lmc.select("mood", choices=[" good", " bad"])


@pytest.fixture(scope="module")
def runtime(small_model_dir) -> Iterator[Runtime]:
    previous = api._default
    runtime = Runtime(model=str(small_model_dir))
    set_default_backend(runtime)
    yield runtime
    api._default = previous


def test_run_returns_a_state_with_values_and_text(runtime):
    state = greet.run(name="Ada")
    assert isinstance(state, ProgramState) and state.ok
    assert state["mood"] in (" good", " bad")
    assert state.text() == "Hello Ada," + state["reply"] + " Mood:" + state["mood"]
    with pytest.raises(KeyError, match="reply"):
        state["missing"]


@lmc.program
def two_turns(s, question_1: str, question_2: str):
    s += lmc.system("You are a helpful assistant.")
    s += lmc.user(question_1)
    s += lmc.assistant(lmc.gen("answer_1", max_tokens=4, ignore_eos=True))
    s += "not in any message"
    s += lmc.user(question_2)
    s += lmc.assistant(lmc.gen("answer_2", max_tokens=4, ignore_eos=True))


def test_messages_are_the_role_blocks_as_sglang_gives_them(runtime):
    state = two_turns.run(question_1="What is 1+1?", question_2="And 2+2?")
    messages = state.messages()
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages] == [
        "You are a helpful assistant.", "What is 1+1?", state["answer_1"].lstrip(), "And 2+2?",
        state["answer_2"].lstrip()]  # SGLang strips a block's leading whitespace
    text, at = state.text(), 0
    for m in messages:  # each in the final prompt, in order, between the template's texts
        at = text.index(m["content"], at) + len(m["content"])
    assert greet.run(name="Ada").messages() == []


@lmc.program
def listed(s, name: str):
    s += name + lmc.gen("a", max_tokens=2, ignore_eos=True)
    return [s["a"], name]


def test_ret_value_is_what_the_program_returned(runtime):
    state = listed.run(name="Ada")
    assert state.ret_value == [state["a"], "Ada"]
    assert greet.run(name="Ada").ret_value is None


def test_run_batch_keeps_input_order_and_isolates_failures(runtime):
    states = greet.run_batch([{"name": "Ada"}, {"name": 7}, {"name": "Bob"}], progress=False)
    assert [s.ok for s in states] == [True, False, True]
    assert states[0]["reply"] == greet.run(name="Ada")["reply"]  # batching does not change greedy text
    with pytest.raises(RowFailed, match="'name' should be str"):
        states[1]["reply"]


def test_the_default_backend_is_the_one_set(runtime):
    assert default_backend() is runtime
    with pytest.raises(TypeError, match="lmc.Runtime"):
        set_default_backend("tiny")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown engine option 'kv_tokens'"):
        Runtime(model="tiny", kv_tokens=5)
