"""End-to-end JSON decoding on the engine with the compressed FSM's jump-forward on and off.

The workload is JSON extraction (the SGLang paper's shape): every row fills the same schema,
whose keys, quotes and punctuation are forced text. With jump-forward each forced run is one
extend step instead of one decode step per token. The mask overhead is the time spent building
token masks, as a share of the decode steps' time.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import jsonschema

import lmc.grammars
from lmc.benchmarks.report import write_report
from lmc.grammars import compile_constraint
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams

RECORD = {
    "type": "object",
    "properties": {
        "full_name": {"type": "string", "maxLength": 12},
        "employer": {"type": "string", "maxLength": 12},
        "city_of_residence": {"type": "string", "maxLength": 10},
        "years_of_experience": {"type": "integer", "minimum": 0, "maximum": 60},
        "employment_status": {"enum": ["full_time_employee", "part_time_contractor", "currently_unemployed"]},
        "has_security_clearance": {"type": "boolean"},
    },
    "required": [
        "full_name", "employer", "city_of_residence", "years_of_experience",
        "employment_status", "has_security_clearance",
    ],
}
NAMES = ["Ada Byron", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov"]
CITIES = ["London", "Boston", "Zurich", "Austin", "Lisbon"]


def prompts(rows: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Extract the record as JSON.\n{rng.choice(NAMES)} lives in {rng.choice(CITIES)}, has worked "
        f"for {rng.randrange(1, 40)} years and holds {'a' if rng.random() < 0.5 else 'no'} clearance.\nJSON: "
        for _ in range(rows)
    ]


class _MaskTimer:
    """Wraps `lmc.grammars.fill_masks` (the engine's one entry for masks) to add up its time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = lmc.grammars.fill_masks

    def __call__(self, pairs, out):
        start = time.perf_counter()
        try:
            return self._inner(pairs, out)
        finally:
            self.seconds += time.perf_counter() - start

    def __enter__(self) -> _MaskTimer:
        lmc.grammars.fill_masks = self
        return self

    def __exit__(self, *exc: object) -> None:
        lmc.grammars.fill_masks = self._inner


def run(loaded, texts: list[str], jump: bool) -> dict:
    tok = loaded.tokenizer
    constraint = compile_constraint(
        json_schema=RECORD, token_bytes=tok.token_bytes(), eos_token_id=tok.eos_token_id,
        vocab_size=loaded.model.vocab_size,
    )
    engine = Engine(EngineConfig(enable_jump_forward=jump), loaded=loaded)
    params = SamplingParams(max_tokens=160)
    with _MaskTimer() as masks:
        start = time.perf_counter()
        handles = [engine.submit(Request(tok.encode(t, add_bos=True), params, constraint=constraint)) for t in texts]
        engine.run_until_done()
        wall = time.perf_counter() - start
    for h in handles:
        jsonschema.validate(json.loads(h.output.text), RECORD)  # every row is valid, or we stop here
    stats = engine.stats()
    output_tokens = sum(len(h.output.output_ids) for h in handles)
    return {
        "wall_s": wall,
        "steps": stats.steps,
        "output_tokens": output_tokens,
        "forced_tokens": stats.forced_tokens,
        "tokens_per_forward": output_tokens / stats.steps,
        "mask_share_of_step": masks.seconds / stats.forward_seconds,
    }


def bench_constrained_decode(
    out_dir: str | Path = "lmc-bench", rows: int = 32, model: str = "tiny"
) -> Path:
    loaded = load_model(model)
    texts = prompts(rows)
    run(loaded, texts[:2], jump=True)  # warm-up: token tables built and cached
    on = {"jump_forward": "on", **run(loaded, texts, jump=True)}
    off = {"jump_forward": "off", **run(loaded, texts, jump=False)}
    for row in (on, off):
        row["speedup"] = off["wall_s"] / row["wall_s"]
    return write_report(
        "constrained_decode", [on, off], out_dir, extra={"model": model, "rows": rows, "schema": RECORD}
    )
