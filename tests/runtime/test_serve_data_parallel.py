"""`lmc serve --data-parallel 2` on the CPU: two tiny engine processes behind one router."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import openai
import pytest

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.request import SamplingParams
from tests.runtime.conftest import start_server

GROUPS = {
    "a": "You are a careful librarian. Every answer names a book, its author and the year it was written. Reader",
    "b": "Imagine a ship at sea under a red sky at dawn, with a crew of seven and a cat named Pepper. Sailor",
}


@pytest.fixture(scope="module")
def dp(small_model_dir):
    server = start_server(small_model_dir, "--data-parallel", "2", startup_s=600)  # three processes load torch
    yield server
    server.process.terminate()
    server.process.wait(timeout=30)


@pytest.fixture(scope="module")
def one_engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir), kv_cache_tokens=16384))


def per_worker(served, name: str) -> list[float]:
    text = httpx.get(served.root + "/metrics", timeout=10).text
    found = dict(re.findall(rf'^{name}{{worker="(\d)"}} (\S+)$', text, re.M))
    return [float(found[str(r)]) for r in range(len(found))]


def test_requests_sharing_a_prefix_land_on_one_worker(dp, one_engine):
    client = openai.OpenAI(base_url=dp.base_url, api_key="unused", max_retries=0, timeout=60)
    prompts = [f"{GROUPS[g]} {i}:" for i in range(6) for g in GROUPS]  # a0 b0 a1 b1 ...
    replies = [client.completions.create(model="small", prompt=p, max_tokens=6, temperature=0) for p in prompts]
    expected = one_engine.generate(prompts, SamplingParams(max_tokens=6))
    assert [r.choices[0].text for r in replies] == [o.text for o in expected]
    assert per_worker(dp, "lmc_worker_routed_requests") == [6, 6]
    prefix = min(len(one_engine.tokenizer.encode(g, add_bos=True)) for g in GROUPS.values())
    later = [r.choices[0].model_extra["cached_tokens"] for r in replies[2:]]
    assert min(later) >= prefix - 1  # every later request found its group's prefix on its worker
    cached = per_worker(dp, "lmc_worker_cached_tokens")
    assert all(c >= 5 * (prefix - 1) for c in cached)


def test_concurrent_and_streamed_greedy_outputs_equal_one_engines(dp, one_engine):
    prompts = [f"{GROUPS['a' if i % 3 else 'b']} again {i}:" for i in range(16)]
    expected = [o.text for o in one_engine.generate(prompts, SamplingParams(max_tokens=8))]

    async def ask(client: openai.AsyncOpenAI, prompt: str, stream: bool) -> str:
        if not stream:
            reply = await client.completions.create(model="small", prompt=prompt, max_tokens=8, temperature=0)
            return reply.choices[0].text
        chunks = await client.completions.create(model="small", prompt=prompt, max_tokens=8, temperature=0, stream=True)
        return "".join([c.choices[0].text async for c in chunks])

    async def main() -> list[str]:
        client = openai.AsyncOpenAI(base_url=dp.base_url, api_key="unused", max_retries=0, timeout=120)
        return await asyncio.gather(*(ask(client, p, i % 2 == 1) for i, p in enumerate(prompts)))

    assert asyncio.run(main()) == expected
    client = openai.OpenAI(base_url=dp.base_url, api_key="unused", max_retries=0, timeout=60)
    text = client.completions.create(model="small", prompt="Code:", max_tokens=8, temperature=0,
                                     extra_body={"regex": r"[a-c]{3}\d"}).choices[0].text
    assert re.fullmatch(r"[a-c]{3}\d", text)  # the constraint is compiled again in the worker
    with pytest.raises(openai.BadRequestError, match="context length"):
        client.completions.create(model="small", prompt="x", max_tokens=10**7)


def test_a_client_that_leaves_frees_its_kv_on_its_worker(dp):
    body = {"model": "small", "prompt": "A long story:", "max_tokens": 3000, "temperature": 0, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", dp.base_url + "/completions", json=body, timeout=60) as reply:
        lines = reply.iter_lines()
        assert all(next(lines) is not None for _ in range(4))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = dp.metrics()
        if m["lmc_inflight_requests"] == 0:
            break
        time.sleep(0.2)
    assert m["lmc_inflight_requests"] == 0 and m["lmc_kv_tokens_in_use"] == 0
    assert m["lmc_decode_tokens"] < 2900
    assert m["lmc_kv_tokens_capacity"] == 2 * 16384  # both workers' pools
