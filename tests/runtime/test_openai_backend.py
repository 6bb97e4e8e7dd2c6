"""The API backend against `lmc serve` on loopback: every example plan gives the in-process
outputs; speculative execution gives the same outputs with fewer calls; retries and errors."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import lmc
from lmc.api import run_batch
from lmc.compiler.loader import load_programs
from lmc.runtime.api import Runtime
from lmc.runtime.openai_backend import OpenAI

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.py") if p.stem != "make_data")
ROWS = 2


@pytest.fixture(scope="module")
def local(small_model_dir) -> Runtime:
    return Runtime(model=str(small_model_dir), kv_cache_tokens=16384)


def remote(served, **options) -> OpenAI:
    return OpenAI(served.model, served.base_url, tokenizer=str(served.model_dir), **options)


def example(name: str) -> tuple[lmc.Plan, list[dict]]:
    programs = load_programs(EXAMPLES / f"{name}.py")
    program = programs.get(name) or list(programs.values())[-1]
    lines = (EXAMPLES / "data" / f"{name}.jsonl").read_text().splitlines()[:ROWS]
    return program.compile(), [json.loads(line) for line in lines]


def outputs(states) -> list[object]:
    return [s.outputs if s.ok else s.error for s in states]


@pytest.mark.parametrize("name", NAMES)
def test_every_example_plan_gives_the_in_process_outputs(name, served, local):
    plan, rows = example(name)
    expected = outputs(run_batch(plan, rows, progress=False, runtime=local))
    backend = remote(served)
    got = outputs(run_batch(plan, rows, progress=False, runtime=backend))
    assert got == expected
    assert all(isinstance(o, dict) for o in got)  # every row ran (an error string would not compare)
    assert backend.api.calls > 0


def test_lmc_run_backend_openai_writes_the_same_rows(served, local, tmp_path):
    plan, rows = example("llm_judge")
    plan.save(tmp_path / "plan.json")
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-m", "lmc", "run", str(tmp_path / "plan.json"), "-i", str(data),
                           "-o", str(out), "--no-progress", "--backend", "openai", "--base-url", served.base_url,
                           "--model", served.model, "--tokenizer", str(served.model_dir)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    written = [json.loads(line)["outputs"] for line in out.read_text().splitlines()]
    assert written == outputs(run_batch(plan, rows, progress=False, runtime=local))
    assert '"calls"' in done.stderr


@lmc.program
def two_gens(s, head: str, middle: str):
    s += head + lmc.gen("first", max_tokens=4) + middle + lmc.gen("second", max_tokens=4)
    s += " then" + lmc.gen("third", max_tokens=3)


def spec_rows(local: Runtime, count: int) -> list[dict]:
    """Rows whose text between the first two gens is what the model writes there itself (token
    for token), so a speculative continuation can answer the second gen."""
    engine, tok = local.engine, local.engine.tokenizer
    rows = []
    for i in range(40):
        head = f"Item {i}:"
        ids = tok.encode(head, add_bos=True)
        cont = engine.generate([ids], lmc.SamplingParams(max_tokens=12, ignore_eos=True))[0].output_ids
        middle = tok.decode_continuation(cont[4:7])
        if tok.encode_continuation(middle) == cont[4:7] and engine.eos_ids.isdisjoint(cont):
            rows.append({"head": head, "middle": middle})
        if len(rows) == count:
            return rows
    raise AssertionError("no prompt whose continuation re-tokenizes to itself")


def test_speculative_execution_gives_the_same_outputs_with_fewer_calls(served, local):
    rows = spec_rows(local, 3)
    plain, spec = remote(served), remote(served, num_api_spec_tokens=16)
    expected = outputs(run_batch(two_gens, rows, progress=False, runtime=local))
    assert outputs(run_batch(two_gens, rows, progress=False, runtime=plain)) == expected
    assert outputs(run_batch(two_gens, rows, progress=False, runtime=spec)) == expected
    assert plain.api.calls == 3 * len(rows)
    assert spec.api.speculative_hits == len(rows)  # the second gen of each row, from the first call
    assert spec.api.calls == 2 * len(rows)  # " then" is not what the model wrote: a call for the third


class _Stub(BaseHTTPRequestHandler):
    """An endpoint that answers every POST with the class's status and body."""

    status = 503
    body: dict = {"error": {"message": "overloaded"}}
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook
        type(self).calls += 1
        self.rfile.read(int(self.headers["content-length"]))
        payload = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Stub", (_Stub,), {"calls": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()


@lmc.program
def one_gen(s, word: str):
    s += word + lmc.gen("out", max_tokens=3)


@lmc.program
def one_select(s, word: str):
    s += word + lmc.select("pick", choices=[" yes", " no"])


def test_5xx_is_retried_with_backoff_then_the_row_fails(stub, small_model_dir):
    url, handler = stub
    backend = OpenAI("m", url, tokenizer=str(small_model_dir), max_retries=2, backoff_s=0.01)
    (state,) = run_batch(one_gen, [{"word": "x"}], progress=False, runtime=backend)
    assert not state.ok and "failed after 3 attempts: HTTP 503: overloaded" in state.error
    assert handler.calls == 3 and backend.api.retries == 2


def test_4xx_is_not_retried(stub, small_model_dir):
    url, handler = stub
    handler.status, handler.body = 400, {"error": {"message": "bad prompt"}}
    backend = OpenAI("m", url, tokenizer=str(small_model_dir), max_retries=3, backoff_s=0.01)
    states = run_batch(one_gen, [{"word": "x"}, {"word": "y"}], progress=False, runtime=backend)
    assert [s.ok for s in states] == [False, False] and "bad prompt" in states[0].error
    assert handler.calls == 2


def test_select_without_prompt_logprobs_says_so(stub, small_model_dir):
    url, handler = stub
    handler.status, handler.body = 200, {"choices": [{"text": "", "finish_reason": "length"}]}
    backend = OpenAI("m", url, tokenizer=str(small_model_dir), max_retries=0)
    (state,) = run_batch(one_select, [{"word": "x"}], progress=False, runtime=backend)
    assert not state.ok and "select needs the log-probabilities of prompt tokens" in state.error
