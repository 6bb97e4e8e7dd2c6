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
    assert "".join(state.text_iter()) == state["story"] + state["moral"]  # every gen, from the start
    assert state["story"] == story.run(topic="rain")["story"]  # streaming does not change the text


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_sglang_spellings_var_name_and_async_iteration(backend):
    state = story.run(stream=True, topic="rain")

    async def collect() -> list[str]:
        return [chunk async for chunk in state.text_async_iter(var_name="moral")]

    assert "".join(asyncio.run(collect())) == state["moral"]
    assert "".join(state.text_iter(var_name="story")) == state["story"]
