"""`program.run(stream=True)` and `state.text_iter(name)`: text arrives while the row runs, from
the local engine and from `lmc serve` through the API backend, and adds up to the final values."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import lmc
from lmc.runtime import api
from lmc.runtime.api import Runtime
from lmc.runtime.openai_backend import OpenAI


@lmc.program
def story(s, topic: str):
    s += f"A story about {topic}:" + lmc.gen("story", max_tokens=24, ignore_eos=True)
    s += "\nMoral:" + lmc.gen("moral", max_tokens=6, ignore_eos=True)


@pytest.fixture
def backend(request, served, small_model_dir) -> Iterator[object]:
    previous = api._default
    if request.param == "local":
        chosen = Runtime(model=str(small_model_dir), kv_cache_tokens=16384)
    else:
        chosen = OpenAI(served.model, served.base_url, tokenizer=str(small_model_dir))
    lmc.set_default_backend(chosen)
    yield chosen
    api._default = previous


@pytest.mark.parametrize("backend", ["local", "served"], indirect=True)
def test_text_iter_streams_each_gen_while_the_row_runs(backend):
    state = story.run(stream=True, topic="rain")
    chunks, done_at_first = [], None
    for chunk in state.text_iter("story"):
        if done_at_first is None:
            done_at_first = state.done
        chunks.append(chunk)
    assert done_at_first is False  # the first text came before the row finished
    assert len(chunks) > 1 and "".join(chunks) == state["story"]
    whole = list(state.text_iter())  # SGLang's text_iter(): the whole text of s, from the start
    assert "".join(whole) == state.text() == f"A story about rain:{state['story']}\nMoral:{state['moral']}"
    # the prompt text first (in the pieces the row appends it in), then the gens as they come
    assert "A story about rain:" in {"".join(whole[:k]) for k in range(1, len(whole))} and len(whole) > 3
    plain = story.run(topic="rain")
    assert plain["story"] == state["story"]  # streaming does not change the text
    assert list(plain.text_iter()) == [state.text()] and list(plain.text_iter(var_name="moral")) == [state["moral"]]


@lmc.program
def branches(s, topic: str):
    s += f"Two words on {topic}:"
    forks = s.fork(2)
    for f in forks:
        f += lmc.gen("word", max_tokens=4, ignore_eos=True)
    s += " and" + lmc.gen("end", max_tokens=5, ignore_eos=True)
    s += " (" + forks[0]["word"] + ")"


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_text_iter_without_a_name_streams_the_text_of_s_only(backend):
    """The forks' gens are not in the text of `s` (SGLang streams `s`'s own `text_`), except
    where `s` appends a value it read from one."""
    state = branches.run(stream=True, topic="snow")
    chunks = list(state.text_iter())
    assert "".join(chunks) == state.text()
    word, end = state["word"][0], state["end"]
    assert state.text() == f"Two words on snow: and{end} ({word})"
    assert "Two words on snow: and" in {"".join(chunks[:k]) for k in range(1, len(chunks))}
    assert len(chunks) > 3  # s's gen arrived token by token


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_sglang_spellings_var_name_and_async_iteration(backend):
    state = story.run(stream=True, topic="rain")

    async def collect() -> list[str]:
        return [chunk async for chunk in state.text_async_iter(var_name="moral")]

    assert "".join(asyncio.run(collect())) == state["moral"]
    assert "".join(state.text_iter(var_name="story")) == state["story"]
