"""`lmc bench constrained`: constraint compile time and per-step mask time, lmc vs its peers.

For a fixed set of JSON schemas (flat, nested, long enum, bounded strings) and regexes, over the
Mistral v1 SentencePiece vocabulary (32000 tokens, byte fallback), each available engine
compiles the constraint cold (lmc: empty disk cache and LRU; peers: no cache), then walks the
token ids of one valid document, timing the mask of every step and the advance. Peers are
outlines-core and xgrammar when importable: benchmark-only dependencies, never runtime ones.
Each engine writes its mask in its own native format (lmc: bool rows; peers: int32 bitmasks).
Peers see the same constraint: JSON documents use `json.dumps` default separators (xgrammar's
default, accepted by outlines-core's optional spaces), regexes avoid `\\d` (Unicode in
outlines-core, ASCII in lmc).
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lmc.benchmarks.report import write_report
from lmc.runtime.tokenizer import Tokenizer

EOS = 2
VOCAB = 32000

COUNTRIES = [f"Country {chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(200)]

SCHEMAS: dict[str, tuple[dict, Any]] = {
    "json_flat": (
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "email": {"type": "string"},
                "active": {"type": "boolean"},
            },
            "required": ["name", "age", "email", "active"],
        },
        {"name": "Ada Lovelace", "age": 36, "email": "ada@example.com", "active": True},
    ),
    "json_nested": (
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "customer": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "address": {
                            "type": "object",
                            "properties": {"street": {"type": "string"}, "city": {"type": "string"}, "zip": {"type": "string"}},
                            "required": ["street", "city", "zip"],
                        },
                    },
                    "required": ["name", "address"],
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}, "price": {"type": "number"}},
                        "required": ["sku", "qty", "price"],
                    },
                },
                "note": {"type": "string"},
            },
            "required": ["id", "customer", "items"],
        },
        {
            "id": 7,
            "customer": {"name": "Grace", "address": {"street": "1 Main St", "city": "Arlington", "zip": "22201"}},
            "items": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-22", "qty": 1, "price": 120}],
        },
    ),
    "json_long_enum": (
        {
            "type": "object",
            "properties": {"country": {"enum": COUNTRIES}, "code": {"type": "string", "enum": ["AA", "BB", "CC"]}},
            "required": ["country", "code"],
        },
        {"country": COUNTRIES[137], "code": "BB"},
    ),
    "json_bounded_strings": (
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 40},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 5},
            },
            "required": ["title", "tags"],
        },
        {"title": "Constrained decoding", "tags": ["fsm", "json"]},
    ),
}

REGEXES: dict[str, tuple[str, str]] = {
    "phone": (r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}", "(555) 123-4567"),
    "iso_date": (r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])", "2024-02-29"),
    "email": (r"[a-z0-9._]{1,30}@[a-z0-9-]{1,20}\.(com|org|net)", "first.last@example.org"),
    "ipv4": (r"((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])", "192.168.0.1"),
    "sentence": (r"[A-Z][a-z]+( [a-z]+){2,8}\.", "The quick brown fox jumps."),
}


def bench_constrained(out_dir: str | Path = "lmc-bench", repeats: int = 3) -> Path:
    """Measure every case with every available engine; returns the JSON report's path."""
    tokenizer = _tokenizer()
    token_bytes = tokenizer.token_bytes()
    engines, missing = _engines(token_bytes)
    for factory in engines.values():  # untimed warm-up: first-call setup, lmc's vocabulary trie
        getattr(factory, "empty_cache", lambda: None)()
        factory("regex", "[a-z]{1,3}", cold=True)
    cases = [(name, "json_schema", schema, json.dumps(doc)) for name, (schema, doc) in SCHEMAS.items()]
    cases += [(name, "regex", pattern, text) for name, (pattern, text) in REGEXES.items()]
    rows: list[dict[str, Any]] = []
    for name, kind, spec, text in cases:
        ids = tokenizer.encode_continuation(text)
        for engine, factory in engines.items():
            rows.append({"case": name, "engine": engine, **_measure(factory, kind, spec, ids, repeats)})
    extra = {
        "tokenizer": "mistral_common tokenizer.model.v1 via transformers.LlamaTokenizer (32000 tokens)",
        "peers_missing": missing,
        "notes": "compile_ms: cold compile, median of repeats (lmc's disk cache is emptied before the clock starts); lmc_warm_ms: lmc loading its disk cache "
        "(new process reuse); mask_us: median per-step mask time over the document's tokens "
        "(lmc: bool [1, vocab]; peers: int32 bitmask); lmc_bitmask_us: lmc writing the int32 bitmask.",
    }
    return write_report("constrained", rows, out_dir=out_dir, extra=extra)


def _measure(factory: Callable, kind: str, spec: Any, ids: list[int], repeats: int) -> dict[str, Any]:
    compile_times, warm_times = [], []
    matcher = None
    try:
        for _ in range(repeats):
            getattr(factory, "empty_cache", lambda: None)()  # making it cold is not compiling
            start = time.perf_counter()
            matcher = factory(kind, spec, cold=True)
            compile_times.append(time.perf_counter() - start)
        if getattr(matcher, "has_warm", False):
            for _ in range(repeats):
                start = time.perf_counter()
                factory(kind, spec, cold=False)
                warm_times.append(time.perf_counter() - start)
        mask_times, advance_times = matcher.walk(ids)
    except Exception as exc:  # a peer that cannot handle a case is reported, not fatal
        return {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}
    return {
        "compile_ms": round(statistics.median(compile_times) * 1e3, 2),
        "lmc_warm_ms": round(statistics.median(warm_times) * 1e3, 2) if warm_times else None,
        "mask_us": round(statistics.median(mask_times) * 1e6, 1),
        "advance_us": round(statistics.median(advance_times) * 1e6, 1),
        "steps": len(ids),
        **matcher.stats(),
    }


class _LmcMatcher:
    has_warm = True

    def __init__(self, constraint: Any) -> None:
        self.c = constraint

    def walk(self, ids: list[int]) -> tuple[list[float], list[float]]:
        out = torch.zeros(1, VOCAB, dtype=torch.bool)
        words = torch.zeros(1, (VOCAB + 31) // 32, dtype=torch.int32)
        state = self.c.initial_state()
        masks, advances, self.bitmask_times = [], [], []
        for token in [*ids, EOS]:
            start = time.perf_counter()
            self.c.fill_bitmask([state], words)
            self.bitmask_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.c.fill_mask([state], out)
            masks.append(time.perf_counter() - start)
            if not out[0, token]:
                raise ValueError(f"lmc masked out token {token} of the reference document")
            start = time.perf_counter()
            state = self.c.advance(state, token)
            advances.append(time.perf_counter() - start)
        return masks, advances

    def stats(self) -> dict[str, Any]:
        return {"lmc_bitmask_us": round(statistics.median(self.bitmask_times) * 1e6, 1), "states": self.c.num_states}


class _OutlinesMatcher:
    def __init__(self, guide: Any) -> None:
        self.guide = guide

    def walk(self, ids: list[int]) -> tuple[list[float], list[float]]:
        mask = torch.zeros((VOCAB + 31) // 32, dtype=torch.int32)
        masks, advances = [], []
        for token in ids:
            start = time.perf_counter()
            self.guide.write_mask_into(mask.data_ptr(), mask.numel(), 4)
            masks.append(time.perf_counter() - start)
            start = time.perf_counter()
            self.guide.advance(token)
            advances.append(time.perf_counter() - start)
        return masks, advances

    def stats(self) -> dict[str, Any]:
        return {}


class _XgrammarMatcher:
    def __init__(self, compiled: Any) -> None:
        import xgrammar

        self.matcher = xgrammar.GrammarMatcher(compiled)
        self.bitmask = xgrammar.allocate_token_bitmask(1, VOCAB)

    def walk(self, ids: list[int]) -> tuple[list[float], list[float]]:
        masks, advances = [], []
        for token in [*ids, EOS]:
            start = time.perf_counter()
            self.matcher.fill_next_token_bitmask(self.bitmask)
            masks.append(time.perf_counter() - start)
            start = time.perf_counter()
            if not self.matcher.accept_token(token):
                raise ValueError(f"xgrammar rejected token {token} of the reference document")
            advances.append(time.perf_counter() - start)
        return masks, advances

    def stats(self) -> dict[str, Any]:
        return {}


def _engines(token_bytes: list[bytes]) -> tuple[dict[str, Callable], list[str]]:
    from lmc.grammars import JsonOptions, compile_constraint
    from lmc.grammars.compile import _constraints

    cache = Path(tempfile.mkdtemp(prefix="lmc-bench-fsm-"))
    spaced = JsonOptions(whitespace="spaced")

    def lmc(kind: str, spec: Any, cold: bool) -> _LmcMatcher:
        _constraints.clear()
        if cold and cache.exists():
            raise RuntimeError("a cold compile needs empty_cache() first")
        args = {"json_schema": spec, "json_options": spaced} if kind == "json_schema" else {"regex": spec}
        return _LmcMatcher(compile_constraint(**args, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=VOCAB, cache_dir=cache))

    lmc.empty_cache = lambda: shutil.rmtree(cache, ignore_errors=True)  # type: ignore[attr-defined]
    engines: dict[str, Callable] = {"lmc": lmc}
    missing = []
    try:
        import outlines_core

        table: dict[bytes, list[int]] = {}
        for i, b in enumerate(token_bytes):
            if b and i != EOS:
                table.setdefault(b, []).append(i)
        vocabulary = outlines_core.Vocabulary(EOS, table)

        def outlines(kind: str, spec: Any, cold: bool) -> _OutlinesMatcher:
            regex = outlines_core.json_schema.build_regex_from_schema(json.dumps(spec)) if kind == "json_schema" else spec
            return _OutlinesMatcher(outlines_core.Guide(outlines_core.Index(regex, vocabulary)))

        engines["outlines-core"] = outlines
    except ImportError:
        missing.append("outlines-core")
    try:
        import xgrammar

        info = xgrammar.TokenizerInfo(token_bytes, xgrammar.VocabType.RAW, vocab_size=VOCAB, stop_token_ids=[EOS])

        def xgr(kind: str, spec: Any, cold: bool) -> _XgrammarMatcher:
            compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
            if kind == "json_schema":
                return _XgrammarMatcher(compiler.compile_json_schema(json.dumps(spec), any_whitespace=False))
            return _XgrammarMatcher(compiler.compile_regex(spec))

        engines["xgrammar"] = xgr
    except ImportError:
        missing.append("xgrammar")
    return engines, missing


def _tokenizer() -> Tokenizer:
    """lmc's tokenizer over the Mistral v1 SentencePiece model (no dummy-prefix space, so a
    document's ids spell exactly the document)."""
    from transformers import LlamaTokenizer

    folder = Path(tempfile.mkdtemp(prefix="lmc-bench-tok-"))
    source = importlib.resources.files("mistral_common") / "data" / "tokenizer.model.v1"
    with importlib.resources.as_file(source) as path:
        shutil.copy(Path(path), folder / "tokenizer.model")
    return Tokenizer(LlamaTokenizer.from_pretrained(folder))
