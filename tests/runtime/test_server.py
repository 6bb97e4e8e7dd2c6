"""`lmc serve` driven by the official `openai` client: outputs equal the in-process engine's."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import jsonschema
import openai
import pytest

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.request import Request, SamplingParams
from lmc.runtime.server.worker import EngineWorker, Overloaded

SHARED = "You are a helpful assistant. Answer every question briefly and well. Question number"


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir), kv_cache_tokens=16384))


@pytest.fixture(scope="module")
def client(served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0, timeout=60)


def greedy(engine: Engine, prompts: list[str], max_tokens: int, **params) -> list[str]:
    outs = engine.generate(prompts, SamplingParams(max_tokens=max_tokens, **params))
    return [o.text for o in outs]


def test_models_and_health(served, client):
    assert [m.id for m in client.models.list().data] == ["small"]
    assert httpx.get(served.root + "/health").json()["status"] == "ok"


def test_completion_equals_the_engine_sync(client, engine):
    reply = client.completions.create(model="small", prompt="Once upon a time", max_tokens=12, temperature=0)
    assert reply.choices[0].text == greedy(engine, ["Once upon a time"], 12)[0]
    assert reply.usage.completion_tokens == 12 and reply.choices[0].finish_reason == "length"


def test_stop_strings_and_n(client, engine):
    full = greedy(engine, ["The list:"], 16)[0]
    stop = full[5:7]
    reply = client.completions.create(model="small", prompt="The list:", max_tokens=16, temperature=0, stop=[stop], n=2)
    assert [c.text for c in reply.choices] == [full[: full.find(stop)]] * 2
    assert {c.finish_reason for c in reply.choices} == {"stop"}


def test_seeded_sampling_is_reproducible(client):
    args = dict(model="small", prompt="Seeded", max_tokens=8, temperature=1.0, top_p=0.9, seed=7)
    assert client.completions.create(**args).choices[0].text == client.completions.create(**args).choices[0].text


def test_chat_uses_the_chat_template_and_streams_the_same_text(client, engine):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    ids = engine.tokenizer.hf.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    reply = client.chat.completions.create(model="small", messages=messages, max_tokens=10, temperature=0)
    assert reply.usage.prompt_tokens == len(ids)
    expected = engine.generate([list(ids)], SamplingParams(max_tokens=10))[0].text
    assert reply.choices[0].message.content == expected
    chunks = client.chat.completions.create(model="small", messages=messages, max_tokens=10, temperature=0, stream=True)
    deltas = [c.choices[0].delta.content or "" for c in chunks]
    assert "".join(deltas) == expected and len([d for d in deltas if d]) > 1


def test_32_concurrent_async_clients_get_the_engines_greedy_outputs(served, engine):
    prompts = [f"{SHARED} {i}:" for i in range(32)]
    expected = greedy(engine, prompts, 8)

    async def ask(client: openai.AsyncOpenAI, prompt: str, stream: bool) -> str:
        if not stream:
            reply = await client.completions.create(model="small", prompt=prompt, max_tokens=8, temperature=0)
            return reply.choices[0].text
        parts = []
        async for chunk in await client.completions.create(model="small", prompt=prompt, max_tokens=8,
                                                           temperature=0, stream=True):
            parts.append(chunk.choices[0].text)
        return "".join(parts)

    async def main() -> list[str]:
        async with openai.AsyncOpenAI(base_url=served.base_url, api_key="unused", max_retries=0, timeout=120) as client:
            return await asyncio.gather(*(ask(client, p, i % 2 == 1) for i, p in enumerate(prompts)))

    assert asyncio.run(main()) == expected
    assert served.metrics()["lmc_cache_hit_rate"] > 0.3  # the shared prefix was computed once


def test_json_schema_and_regex_constraints(client):
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0, "maximum": 120}}, "required": ["age"],
              "additionalProperties": False}
    reply = client.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "Age?"}], max_tokens=32, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    jsonschema.validate(json.loads(reply.choices[0].message.content), schema)
    reply = client.completions.create(model="small", prompt="Phone:", max_tokens=16, temperature=0,
                                      extra_body={"regex": r"\d{3}-\d{4}"})
    assert re.fullmatch(r"\d{3}-\d{4}", reply.choices[0].text)


def test_logprobs_are_the_models(client, engine):
    reply = client.completions.create(model="small", prompt="Score me", max_tokens=4, temperature=0, logprobs=1)
    ids = engine.tokenizer.encode("Score me", add_bos=True)
    got = reply.choices[0].logprobs.token_logprobs
    ref = engine.submit(Request(ids + reply.choices[0].model_extra["token_ids"], SamplingParams(max_tokens=0),
                                logprob_start=len(ids)))
    engine.run_until_done()
    assert got == pytest.approx(ref.output.prompt_logprobs, abs=1e-4)


@pytest.fixture(scope="module")
def reference_logprobs(small_model_dir):
    """log_softmax of transformers' logits: what every top_logprobs list must equal."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(small_model_dir, torch_dtype=torch.float32).eval()

    def logprobs(ids: list[int], start: int) -> torch.Tensor:
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        return torch.log_softmax(logits.float(), dim=-1)[start - 1 : len(ids) - 1]

    return logprobs


def test_top_logprobs_are_transformers_log_softmax(client, engine, reference_logprobs):
    ids = engine.tokenizer.encode("Rank the next", add_bos=True)
    reply = client.completions.create(model="small", prompt="Rank the next", max_tokens=5, temperature=0, logprobs=5)
    choice = reply.choices[0]
    out = choice.model_extra["token_ids"]
    ref = reference_logprobs(ids + out, len(ids))
    table = engine.tokenizer.token_bytes()
    for position, (token, chosen, tops) in enumerate(zip(out, choice.logprobs.token_logprobs, choice.logprobs.top_logprobs)):
        assert chosen == pytest.approx(ref[position, token].item(), abs=1e-4)
        best = ref[position].topk(5)
        texts = [table[i].decode("utf-8", errors="replace") for i in best.indices.tolist()]
        assert list(tops) == list(dict.fromkeys(texts))  # likeliest first
        for text, value in zip(texts, best.values.tolist()):
            assert tops[text] >= value - 1e-4
        assert token == best.indices[0].item()  # greedy: the chosen token is the likeliest

    messages = [{"role": "user", "content": "Rank"}]
    chat = client.chat.completions.create(model="small", messages=messages, max_tokens=4, temperature=0,
                                          logprobs=True, top_logprobs=3)
    prompt = engine.tokenizer.encode(engine.tokenizer.hf.apply_chat_template(messages, tokenize=False,
                                                                             add_generation_prompt=True))
    out = chat.choices[0].model_extra["token_ids"]
    ref = reference_logprobs(prompt + out, len(prompt))
    for position, entry in enumerate(chat.choices[0].logprobs.content):
        best = ref[position].topk(3)
        assert [t.bytes for t in entry.top_logprobs] == [list(table[i]) for i in best.indices.tolist()]
        assert [t.logprob for t in entry.top_logprobs] == pytest.approx(best.values.tolist(), abs=1e-4)

    echo = client.completions.create(model="small", prompt="Rank the next", max_tokens=0, echo=True, logprobs=2)
    tops = echo.choices[0].logprobs.top_logprobs
    ref = reference_logprobs(ids, 1)
    assert tops[0] is None and len(tops) == len(ids)
    assert [list(t.values()) for t in tops[1:]] == [pytest.approx(r.topk(2).values.tolist(), abs=1e-4) for r in ref]


def test_grammar_choice_and_guided_constraints_over_http(client):
    def complete(prompt: str, **extra) -> str:
        return client.completions.create(model="small", prompt=prompt, max_tokens=24, temperature=0,
                                         extra_body=extra).choices[0].text

    import lark

    pairs = 'start: pair ("," pair)~0..1\npair: "(" WORD ":" NUM ")"\nWORD: /[a-z]{1,3}/\nNUM: /[0-9]{1,2}/'
    for key in ("ebnf", "guided_grammar"):  # at most 17 characters: it always ends within 24 tokens
        text = complete("Pairs:", **{key: pairs})
        lark.Lark(pairs, parser="lalr").parse(text)  # raises unless the grammar accepts it
    yes_no = 'start: "yes" | "no" | "maybe so"'
    assert complete("Answer:", ebnf=yes_no) in {"yes", "no", "maybe so"}
    assert complete("Pick:", guided_choice=["red apple", "green pear", "blue"]) in {"red apple", "green pear", "blue"}
    assert re.fullmatch(r"[a-c]{2}\d", complete("Code:", guided_regex=r"[a-c]{2}\d"))
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 99}}, "required": ["n"],
              "additionalProperties": False}
    reply = client.chat.completions.create(model="small", messages=[{"role": "user", "content": "n?"}], max_tokens=24,
                                           temperature=0, extra_body={"guided_json": schema})
    jsonschema.validate(json.loads(reply.choices[0].message.content), schema)
    stream = client.completions.create(model="small", prompt="Pick:", max_tokens=8, temperature=0, stream=True,
                                       extra_body={"guided_choice": ["left", "right"]})
    assert "".join(c.choices[0].text for c in stream) in {"left", "right"}


def test_bad_grammars_get_a_400_that_says_why(client):
    cases = [({"ebnf": 'root ::= "yes" | "no"'}, "lark's EBNF"),
             ({"guided_grammar": "start: undefined_rule"}, "invalid grammar"),
             ({"guided_choice": []}, "non-empty array"),
             ({"guided_choice": ["a"], "regex": "b"}, "give one constraint")]
    for extra, message in cases:
        with pytest.raises(openai.BadRequestError, match=message):
            client.completions.create(model="small", prompt="x", max_tokens=4, extra_body=extra)


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(served, client):
    bad = [
        (b"{not json", 400),
        (json.dumps({"model": "small", "prompt": "x", "max_tokens": 10**7}).encode(), 400),
        (json.dumps({"model": "nope", "prompt": "x"}).encode(), 404),
        (json.dumps({"model": "small", "prompt": 5}).encode(), 400),
        (json.dumps({"model": "small", "prompt": "x", "temperature": -1}).encode(), 400),
        (json.dumps({"model": "small", "prompt": "x", "regex": "(["}).encode(), 400),
        (json.dumps({"model": "small", "prompt": "x", "response_format": {
            "type": "json_schema", "json_schema": {"schema": {"type": "nonsense"}}}}).encode(), 400),
        (json.dumps([1, 2]).encode(), 400),
    ]
    for body, status in bad:
        reply = httpx.post(served.base_url + "/completions", content=body, timeout=30)
        assert reply.status_code == status, (body, reply.text)
        assert set(reply.json()["error"]) >= {"message", "type"}
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="gpt-4", prompt="x")
    with pytest.raises(openai.BadRequestError, match="context length"):
        client.completions.create(model="small", prompt="x", max_tokens=10**7)
    assert client.completions.create(model="small", prompt="still here", max_tokens=2).choices[0].text


def test_a_client_leaving_mid_stream_leaks_no_kv(served):
    before = served.metrics()["lmc_decode_tokens"]
    body = {"model": "small", "prompt": "A long story:", "max_tokens": 3000, "temperature": 0, "stream": True,
            "ignore_eos": True}
    with httpx.stream("POST", served.base_url + "/completions", json=body, timeout=60) as reply:
        lines = reply.iter_lines()
        got = [next(lines) for _ in range(6)]
    assert any(line.startswith("data: ") for line in got)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = served.metrics()
        if m["lmc_inflight_requests"] == 0:
            break
        time.sleep(0.2)
    assert m["lmc_inflight_requests"] == 0 and m["lmc_kv_tokens_in_use"] == 0
    assert m["lmc_decode_tokens"] - before < 2900  # aborted: it never wrote its 3000 tokens
    time.sleep(1)
    assert served.metrics()["lmc_decode_tokens"] == m["lmc_decode_tokens"]  # and nothing runs on


def test_a_non_streaming_client_that_leaves_is_aborted(served):
    before = served.metrics()["lmc_decode_tokens"]
    body = {"model": "small", "prompt": "Another long story:", "max_tokens": 3000, "temperature": 0, "ignore_eos": True}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
        httpx.post(served.base_url + "/completions", json=body, timeout=httpx.Timeout(30, read=1.5))
    m = _idle_metrics(served)
    assert m["lmc_inflight_requests"] == 0 and m["lmc_kv_tokens_in_use"] == 0
    assert m["lmc_decode_tokens"] - before < 2900


def _idle_metrics(served, wait_s: float = 30) -> dict[str, float]:
    deadline = time.monotonic() + wait_s
    while True:
        m = served.metrics()
        if m["lmc_inflight_requests"] == 0 or time.monotonic() > deadline:
            return m
        time.sleep(0.2)


@pytest.fixture(scope="module")
def small_queue(small_model_dir):
    from tests.runtime.conftest import start_server

    server = start_server(small_model_dir, "--max-queue", "2")
    yield server
    server.process.terminate()
    server.process.wait(timeout=20)


def test_overload_is_a_429_through_the_official_client(small_queue):
    body = {"model": "small", "prompt": "Hold the queue:", "max_tokens": 3000, "temperature": 0,
            "ignore_eos": True, "stream": True}
    client = openai.OpenAI(base_url=small_queue.base_url, api_key="unused", max_retries=0, timeout=30)
    with httpx.stream("POST", small_queue.base_url + "/completions", json=body, timeout=60) as first, \
            httpx.stream("POST", small_queue.base_url + "/completions", json=body, timeout=60) as second:
        lines = first.iter_lines(), second.iter_lines()  # kept: a dropped iterator closes its stream
        assert all(next(each).startswith("data: ") for each in lines)  # both admitted: the queue is full
        with pytest.raises(openai.RateLimitError, match="busy") as caught:
            client.completions.create(model="small", prompt="one more", max_tokens=2)
        assert caught.value.status_code == 429 and caught.value.body["code"] == "rate_limit_exceeded"
    m = _idle_metrics(small_queue)  # the two streams left: their KV is free and the next call is served
    assert m["lmc_inflight_requests"] == 0 and m["lmc_kv_tokens_in_use"] == 0
    assert client.completions.create(model="small", prompt="one more", max_tokens=2).choices[0].text is not None
    statuses = httpx.get(small_queue.root + "/metrics").text
    assert 'lmc_requests_total{endpoint="completions",status="429"} 1.0' in statuses


def test_a_stopped_worker_is_unavailable(engine):
    from lmc.runtime.server.worker import Unavailable

    worker = EngineWorker(engine).start()
    worker.stop()
    with pytest.raises(Unavailable):
        worker.submit(Request([1, 2, 3], SamplingParams(max_tokens=1)))


def test_the_queue_limit_refuses_with_overloaded(engine, monkeypatch):
    monkeypatch.setattr(EngineWorker, "alive", property(lambda _: True))
    worker = EngineWorker(engine, max_queue=1)  # not started: nothing leaves the queue
    worker.submit(Request([1, 2, 3], SamplingParams(max_tokens=1)))
    with pytest.raises(Overloaded, match="limit is 1"):
        worker.submit(Request([1, 2, 3], SamplingParams(max_tokens=1)))


def test_plans_run_streams_the_rows_of_an_in_process_run(served, small_model_dir):
    from pathlib import Path

    from lmc.api import run_batch
    from lmc.compiler.loader import load_programs
    from lmc.runtime.api import Runtime

    examples = Path(__file__).resolve().parents[2] / "examples"
    plan = load_programs(examples / "llm_judge.py")["judge"].compile()
    rows = [json.loads(line) for line in (examples / "data" / "llm_judge.jsonl").read_text().splitlines()[:3]]
    rows.append({"question": 5})  # a bad row fails alone
    with httpx.stream("POST", served.base_url + "/plans/run", json={"plan": plan.to_json(), "rows": rows},
                      timeout=120) as reply:
        assert reply.status_code == 200
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    by_index = {line["index"]: line for line in lines}
    expected = run_batch(plan, rows[:3], progress=False,
                           runtime=Runtime(model=str(small_model_dir), kv_cache_tokens=16384))
    assert [by_index[i]["outputs"] for i in range(3)] == [s.outputs for s in expected]
    assert "error" in by_index[3]
    bad = httpx.post(served.base_url + "/plans/run", json={"plan": {"format": "nope"}, "rows": []}, timeout=30)
    assert bad.status_code == 400 and "not a valid plan" in bad.json()["error"]["message"]
    calling = plan.to_json()  # a host call would run Python the client names on the server
    calling["nodes"].append({"id": "n99", "kind": "call", "target": None, "function": "os:system", "source": None,
                             "positional": [{"k": "const", "value": "true"}], "keywords": [], "span": None})
    refused = httpx.post(served.base_url + "/plans/run", json={"plan": calling, "rows": rows[:1]}, timeout=30)
    assert refused.status_code == 400 and "host calls" in refused.json()["error"]["message"]


def test_engine_abort_releases_every_slot(engine):
    finished = []
    handle = engine.submit(Request([1, 5, 9, 14], SamplingParams(max_tokens=50, ignore_eos=True),
                                   on_finish=finished.append))
    engine.step()
    engine.step()
    output = engine.abort(handle.rid)
    assert output.finish_reason.value == "abort" and finished == [output] and not engine.has_work()
    assert engine.pool.num_free + engine.cache.evictable_size == engine.pool.capacity
    assert engine.abort(handle.rid) is None  # no longer in flight
