"""`lmc bench cascade`: shared-prefix (cascade) attention on and off, on a CUDA device.

Three views of one effect, each with cascade attention on and then off in the same process:
`lmc bench gpu`'s few-shot shape end to end (256 rows over one 1 024-token prefix, 64 tokens of
their own, 8 new tokens), one decode step of those 256 rows, and the decode attention kernels
alone at that shape for one layer (against the bytes each must read at the measured copy
bandwidth: the whole KV of every row without cascade, the prefix once plus each row's suffix
with it).
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np
import torch

from lmc.benchmarks.engine import FewShotShape
from lmc.benchmarks.gpu import _run, decode_step_time, measure_ceilings
from lmc.benchmarks.report import write_report
from lmc.kernels.attention import AttentionMetadata
from lmc.kernels.attention.shared_prefix import (
    TABLE_FIELDS,
    PrefixGroup,
    SharedPrefixTables,
    fill_tables,
    max_tiles,
)
from lmc.kernels.attention.triton_backend import TritonAttention
from lmc.kernels.triton.plan import plan_attention
from lmc.kernels.triton.shared_prefix_attention import shared_prefix_attention
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams

SHAPE = FewShotShape(rows=256, prefix_tokens=1024, own_tokens=64, new_tokens=8)


def engine_rows(model: str, vocab_hint: int, repeats: int) -> tuple[list[dict], dict[str, list[dict]]]:
    """The few-shot shape and one decode step of it, cascade on then off, `repeats` times each
    (alternating, so drift on the card hits both alike); the best wall of each is reported;
    then one synchronised run of each for a per-step breakdown."""
    loaded = load_model(model, "dummy", "auto", "cuda")
    vocab = min(loaded.model.vocab_size, vocab_hint)
    config = EngineConfig(
        model=model, device="cuda", attention_backend="triton", max_batch_tokens=16384,
        chunk_size=8192, max_running_requests=256, kv_cache_fraction=0.7,
    )
    engine = Engine(config, loaded=loaded)
    _run(engine, FewShotShape(rows=16, prefix_tokens=512, own_tokens=8, new_tokens=4).prompts(vocab, 1), 4)
    engine.cache.reset()
    prompts = SHAPE.prompts(vocab, 1)
    walls: dict[bool, list[float]] = {True: [], False: []}
    steps: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        for on in (True, False):
            engine.runner.share_prefixes = on
            walls[on].append(_run(engine, prompts, SHAPE.new_tokens))
            engine.cache.reset()
            steps[on].append(decode_step_time(engine, prompts))
            engine.cache.reset()
    breakdown = {}
    for on in (True, False):
        engine.runner.share_prefixes = on
        breakdown["cascade" if on else "no cascade"] = step_breakdown(engine, prompts)
        engine.cache.reset()
    rows = []
    for on in (True, False):
        system = "lmc, cascade" if on else "lmc, no cascade"
        wall = min(walls[on])
        rows.append({"shape": "few-shot 256x(1024+64)+8", "system": system, "wall_s": wall,
                     "rate": SHAPE.rows / wall, "unit": "rows/s", "all_walls_s": walls[on]})
        step = min(steps[on])
        rows.append({"shape": "decode step b256 ctx1024 shared+64..80", "system": system, "wall_s": step,
                     "rate": 1e3 * step, "unit": "ms/step", "all_s": steps[on]})
    del engine, loaded
    gc.collect()
    torch.cuda.empty_cache()
    return rows, breakdown


def step_breakdown(engine: Engine, prompts: list[list[int]]) -> list[dict]:
    """The few-shot shape once more, synchronised after every step: each step's sequences, new
    tokens and seconds (the overlap of host and GPU is lost, so the sum exceeds the wall)."""
    forward = engine.runner.forward
    shapes: list[tuple[int, int]] = []

    def recording(batch, previous=None):
        shapes.append((len(batch.seqs), batch.num_tokens))
        return forward(batch, previous)

    engine.runner.forward = recording
    params = SamplingParams(max_tokens=SHAPE.new_tokens, ignore_eos=True)
    for ids in prompts:
        engine.submit(Request(ids, params))
    steps = []
    try:
        while engine.has_work():
            torch.cuda.synchronize()
            start = time.perf_counter()
            engine.step()
            torch.cuda.synchronize()
            seqs, tokens = shapes[-1] if shapes else (0, 0)
            steps.append({"seqs": seqs, "tokens": tokens, "s": time.perf_counter() - start})
    finally:
        engine.runner.forward = forward
    return steps


def kernel_rows(copy_tb_s: float, rows: int = 256, prefix: int = 1024, own: int = 72) -> list[dict]:
    """Decode attention of one Llama-3-8B layer (32 q heads, 8 KV heads, dim 128, bf16)."""
    device = torch.device("cuda")
    heads, kv_heads, dim = 32, 8, 128
    seq = prefix + own
    prefix_slots = torch.arange(1, prefix + 1, device=device)
    own_slots = prefix + 1 + torch.arange(rows * own, device=device).view(rows, own)
    kv_indices = torch.cat([torch.cat([prefix_slots, own_slots[b]]) for b in range(rows)])
    num_slots = prefix + 1 + rows * own
    k_cache = torch.randn(num_slots, kv_heads, dim, dtype=torch.bfloat16, device=device)
    v_cache = torch.randn_like(k_cache)
    q = torch.randn(rows, heads, dim, dtype=torch.bfloat16, device=device)
    k, v = k_cache[own_slots[:, -1]].clone(), v_cache[own_slots[:, -1]].clone()
    lens = torch.full((rows,), seq, dtype=torch.int32, device=device)
    indptr = torch.arange(rows + 1, dtype=torch.int32, device=device) * seq
    meta = AttentionMetadata(indptr // seq, indptr, kv_indices, own_slots[:, -1], lens,
                             torch.ones_like(lens), [seq] * rows, [1] * rows)
    host = {name: np.zeros(rows, dtype=np.int32) for name in TABLE_FIELDS}
    fill_tables(host, [PrefixGroup(prefix, tuple(range(rows)))], np.arange(rows + 1))
    tables = SharedPrefixTables(**{n: torch.from_numpy(a).to(device) for n, a in host.items()},
                                num_tiles=max_tiles(rows, rows))
    backend = TritonAttention(device)
    kv_bytes = 2 * kv_heads * dim * 2
    out = []
    for on in (True, False):
        meta.shared_prefix = tables if on else None
        backend.prepare(meta)

        def call() -> None:
            backend.forward(q, k, v, k_cache, v_cache, meta, dim**-0.5)

        seconds = _time_graph(call)
        read = (prefix + rows * own if on else rows * seq) * kv_bytes
        out.append({"shape": f"decode attention 1 layer, {rows} rows x ({prefix} shared + {own})",
                    "system": "triton, cascade" if on else "triton, no cascade", "wall_s": seconds,
                    "rate": 1e6 * seconds, "unit": "us", "kv_bytes": read,
                    "vs_floor": seconds / (read / (copy_tb_s * 1e12))})
    plan = plan_attention(meta, device, 64)
    for splits in (1, 2, 3, 4, 8):
        for warps in (4, 8):
            seconds = _time_graph(lambda s=splits, w=warps: shared_prefix_attention(
                q, k_cache, v_cache, plan, tables, dim**-0.5, s, num_warps=w))
            out.append({"shape": f"prefix kernel alone, {rows} rows x {prefix} shared",
                        "system": f"{splits} splits, {warps} warps", "wall_s": seconds,
                        "rate": 1e6 * seconds, "unit": "us"})
    return out


def _time_graph(fn, iters: int = 50) -> float:
    """Mean time of `fn` replayed as a CUDA graph (no launch overhead in the figure)."""
    fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    graph.replay()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        graph.replay()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def bench_cascade(model: str = "llama-3-8b", out_dir: Path | str = "lmc-bench", repeats: int = 2,
                  name: str = "cascade") -> Path:
    if not torch.cuda.is_available():
        raise RuntimeError("lmc bench cascade needs a CUDA device")
    ceilings = measure_ceilings(torch.device("cuda"))
    engine, breakdown = engine_rows(model, 32000, repeats)
    rows = kernel_rows(ceilings["copy_tb_s"]) + engine
    return write_report(name, rows, out_dir,
                        extra={"model": f"{model} (dummy bf16)", "backend": "triton", "ceilings": ceilings,
                               "few_shot_steps": breakdown})
