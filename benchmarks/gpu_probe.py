"""Where the decode step's bytes and the prefill's FLOPs go (`python -m lmc.benchmarks.gpu_probe`).

Developer tool behind issue 16's items 4 and 5, one device call: the ceilings (copy, read-only,
square and real-shape matmuls), the decode matmuls at 64 rows through cuBLAS and the Triton
weight-streaming kernel, decode and extend attention over their launch parameters, then the
engine at the Llama-3-8B dummy shape: `lmc bench gpu`'s decode step and prefill, graph replay
alone, per-kernel tables from torch.profiler, and the step with variants installed (the fastest
attention parameters found; every matmul on cuBLAS, the model's choice before `ops.linear`).
The copy ceiling here is timed inside a CUDA graph, where torch's copy becomes a copy-engine
memcpy node: read it as that, not as `lmc bench gpu`'s copy bandwidth.
Every section writes into one JSON file as it ends, so a section that fails or runs out of time
leaves the others' results.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from lmc.benchmarks.gpu import _random_prompts, _run, decode_bytes, decode_step_time, prefill_flops
from lmc.kernels.attention import triton_backend
from lmc.kernels.triton.decode_attention import decode_attention
from lmc.kernels.triton.extend_attention import extend_attention
from lmc.kernels.triton.plan import AttentionPlan, _extend_blocks
from lmc.kernels.triton.shared_prefix_attention import PrefixParts
from lmc.kernels.triton.skinny_matmul import SkinnyConfig, skinny_matmul

HIDDEN, INTER, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 4096, 14336, 32, 8, 128, 128256
DECODE_SHAPES = {"qkv": (6144, HIDDEN), "o_proj": (HIDDEN, HIDDEN), "gate_up": (2 * INTER, HIDDEN),
                 "down": (HIDDEN, INTER), "lm_head": (VOCAB, HIDDEN)}
SKINNY_CONFIGS = [
    SkinnyConfig(bn, bk, sk, w, st)
    for bn, bk, sk, w, st in [
        (32, 128, 1, 4, 4), (64, 128, 1, 4, 4), (64, 256, 1, 4, 3), (128, 128, 1, 4, 4),
        (128, 128, 1, 8, 4), (256, 64, 1, 8, 4), (32, 128, 2, 4, 4), (64, 128, 2, 4, 4),
        (64, 128, 4, 4, 4), (64, 256, 4, 4, 3), (128, 128, 2, 4, 4), (128, 128, 4, 8, 4),
        (32, 256, 4, 4, 3), (64, 128, 2, 4, 6),
        # Two programs per multiprocessor (under half its shared memory each): a grid of 224
        # stripes then runs in one wave instead of 1.7 (gate_up lost to that on 2026-12-02).
        (128, 128, 1, 4, 2), (128, 64, 1, 4, 4), (64, 64, 1, 4, 4), (32, 128, 2, 4, 3),
    ]
]


class Report:
    """Results by section, rewritten to disk after each section; failures keep their traceback."""

    def __init__(self, out: Path) -> None:
        self.out, self.data, self.start = out, {}, time.perf_counter()

    def section(self, name: str, fn: Callable[[], object], deadline_s: float) -> object:
        elapsed = time.perf_counter() - self.start
        if elapsed > deadline_s:
            self.data[name] = {"skipped": f"{elapsed:.0f} s elapsed, past this section's {deadline_s} s"}
            self._write()
            return None
        t0 = time.perf_counter()
        try:
            result = fn()
            self.data[name] = {"result": result, "seconds": time.perf_counter() - t0}
        except Exception:  # noqa: BLE001 (one failing probe must not cost the others)
            result = None
            self.data[name] = {"error": traceback.format_exc()[-3000:]}
        print(f"[{name}] {time.perf_counter() - t0:.1f} s", flush=True)
        torch.cuda.empty_cache()
        self._write()
        return result

    def _write(self) -> None:
        (self.out / "probe.json").write_text(json.dumps(self.data, indent=1, default=str))


def graph_seconds(fn: Callable[[], object], calls: int, reps: int = 10) -> float:
    """Seconds per call of `fn` (which makes `calls` calls), replayed from one CUDA graph so that
    launch overhead is gone as it is in a decode step."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return _replay_seconds(graph, reps) / calls


@triton.jit
def _read_kernel(X, OUT, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    base = tl.program_id(0).to(tl.int64) * BLOCK * ITERS
    acc = tl.zeros([BLOCK], tl.int32)
    for i in range(ITERS):
        acc += tl.load(X + base + i * BLOCK + tl.arange(0, BLOCK))
    tl.store(OUT + tl.program_id(0), tl.sum(acc, 0))


def ceilings() -> dict:
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    words = src.view(torch.int32)
    block, iters = 4096, 16
    sums = torch.empty(words.numel() // (block * iters), dtype=torch.int32, device="cuda")
    out = {
        "copy_tb_s": 2 * src.numel() / graph_seconds(lambda: dst.copy_(src), 1) / 1e12,
        "read_triton_tb_s": src.numel() / graph_seconds(
            lambda: _read_kernel[(sums.numel(),)](words, sums, BLOCK=block, ITERS=iters), 1) / 1e12,
        "read_torch_sum_tb_s": src.numel() / graph_seconds(lambda: words.sum(), 1) / 1e12,
    }
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    out["square_8192_tflop_s"] = 2 * 8192**3 / graph_seconds(lambda: a @ a, 1) / 1e12
    xs = {k: torch.randn(16384, k, dtype=torch.bfloat16, device="cuda") for k in (HIDDEN, INTER)}
    for name, (n, k) in DECODE_SHAPES.items():
        if name == "lm_head":
            continue
        w = torch.randn(n, k, dtype=torch.bfloat16, device="cuda")
        out[f"m16384_{name}_tflop_s"] = 2 * 16384 * n * k / graph_seconds(
            lambda w=w, k=k: F.linear(xs[k], w), 1, reps=5) / 1e12
    return out


def decode_matmuls() -> dict:
    """Each decode matmul at 64 rows, weights cycled through enough copies to miss the L2."""
    x = torch.randn(64, INTER * 2, dtype=torch.bfloat16, device="cuda")
    results = {}
    for name, (n, k) in DECODE_SHAPES.items():
        copies = max(1, -(-400_000_000 // (2 * n * k)))
        ws = [torch.randn(n, k, dtype=torch.bfloat16, device="cuda") / 64 for _ in range(copies)]
        xk = x[:, :k].contiguous()
        nbytes = 2 * n * k
        row = {"cublas_tb_s": nbytes / graph_seconds(lambda xk=xk, ws=ws: [F.linear(xk, w) for w in ws], copies) / 1e12}
        ref = F.linear(xk, ws[0]).float()
        for cfg in SKINNY_CONFIGS:
            if k % (cfg.split_k * cfg.block_k):
                continue
            key = f"skinny_bn{cfg.block_n}_bk{cfg.block_k}_sk{cfg.split_k}_w{cfg.num_warps}_s{cfg.num_stages}"
            try:
                err = (skinny_matmul(xk, ws[0], cfg).float() - ref).abs().max().item()
                secs = graph_seconds(
                    lambda cfg=cfg, xk=xk, ws=ws: [skinny_matmul(xk, w, cfg) for w in ws], copies)
                row[key] = {"tb_s": nbytes / secs / 1e12, "max_abs_err": err, "config": list(vars(cfg).values())}
            except Exception as exc:  # noqa: BLE001 (a config that does not compile is a result)
                row[key] = {"error": repr(exc)[:300]}
        results[name] = row
    return results


def best_skinny(matmuls: dict) -> dict[tuple[int, int], tuple[SkinnyConfig, float]]:
    """Per (N, K): the fastest Triton config that beats cuBLAS, with its speed-up."""
    best = {}
    for name, row in matmuls.items():
        cands = [(v["tb_s"], k) for k, v in row.items() if isinstance(v, dict) and "tb_s" in v]
        if not cands:
            continue
        tb_s, key = max(cands)
        if tb_s > row["cublas_tb_s"]:
            best[DECODE_SHAPES[name]] = (SkinnyConfig(*row[key]["config"]), tb_s / row["cublas_tb_s"])
    return best


def _decode_plan(batch: int, ctx: int, gen: torch.Generator) -> tuple[AttentionPlan, int]:
    order = torch.randperm(batch, generator=gen)
    slots = (order[:, None] * ctx + torch.arange(ctx)[None, :]).reshape(-1).to("cuda")
    i32 = functools.partial(torch.tensor, dtype=torch.int32, device="cuda")
    plan = AttentionPlan(
        page_size=1, page_indptr=i32([b * ctx for b in range(batch + 1)]), page_table=slots,
        qo_indptr=i32(list(range(batch + 1))), seq_lens=i32([ctx] * batch), is_decode=True,
        block_m=64, block_seq=i32([]), block_start=i32([]),
    )
    return plan, batch * ctx


def decode_attention_sweep(batch: int = 64, ctx: int = 1024, layers: int = 4) -> dict:
    gen = torch.Generator().manual_seed(0)
    plan, slots = _decode_plan(batch, ctx, gen)
    caches = [(torch.randn(slots, KV_HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda"),
               torch.randn(slots, KV_HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda"))
              for _ in range(layers)]
    q = torch.randn(batch, HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda")
    out = torch.empty_like(q)
    nbytes = 2 * slots * KV_HEADS * HEAD_DIM * 2
    results = {}
    ref = None
    combos = [(bn, w, s, sp) for bn in (32, 64, 128) for w, s in ((4, 2), (4, 3), (8, 2)) for sp in (1, 2)]
    for bn, warps, stages, splits in [*combos, (64, 4, 2, 4), (32, 4, 3, 4)]:
        key = f"bn{bn}_w{warps}_s{stages}_split{splits}"
        run = functools.partial(decode_attention, plan=plan, scale=HEAD_DIM**-0.5,
                                num_splits=splits, block_n=bn, num_warps=warps, num_stages=stages)
        try:
            run(q, caches[0][0], caches[0][1], out)
            if ref is None:
                ref = out.clone()
            err = (out.float() - ref.float()).abs().max().item()
            secs = graph_seconds(lambda run=run: [run(q, k, v, out) for k, v in caches], layers)
            results[key] = {"us": 1e6 * secs, "tb_s": nbytes / secs / 1e12, "max_abs_err": err,
                            "config": [bn, warps, stages, splits]}
        except Exception as exc:  # noqa: BLE001
            results[key] = {"error": repr(exc)[:300]}
    parts = PrefixParts(torch.empty(batch, HEADS, 1, HEAD_DIM, device="cuda"),
                        torch.empty(batch, HEADS, 1, device="cuda"),
                        torch.zeros(batch, dtype=torch.int32, device="cuda"), 1, 64, 256)
    run = functools.partial(decode_attention, plan=plan, scale=HEAD_DIM**-0.5, num_splits=1, prefix=parts)
    secs = graph_seconds(lambda: [run(q, k, v, out) for k, v in caches], layers)
    results["default_cascade_on_no_prefix"] = {"us": 1e6 * secs, "tb_s": nbytes / secs / 1e12,
                                               "note": "what a captured decode graph runs: CASCADE on, prefix_lens 0"}
    return results


def extend_attention_sweep(rows: int = 8, length: int = 2048) -> dict:
    tokens = rows * length
    i32 = functools.partial(torch.tensor, dtype=torch.int32, device="cuda")
    k = torch.randn(tokens, KV_HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda")
    v = torch.randn(tokens, KV_HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda")
    q = torch.randn(tokens, HEADS, HEAD_DIM, dtype=torch.bfloat16, device="cuda")
    out = torch.empty_like(q)
    flops = 2 * 2 * HEADS * HEAD_DIM * length * length / 2 * rows
    indptr = i32([r * length for r in range(rows + 1)])
    results, ref = {}, None
    combos = [(64, 64, 4, 3), (64, 32, 4, 3), (64, 128, 8, 2),
              *((128, bn, w, s) for bn in (32, 64, 128) for w, s in ((8, 2), (8, 3), (4, 3)))]
    for bm, bn, warps, stages in combos:
        block_seq, block_start = _extend_blocks([length] * rows, bm, torch.device("cuda"))
        plan = AttentionPlan(1, indptr, torch.arange(tokens, device="cuda"), indptr,
                             i32([length] * rows), False, bm, block_seq, block_start)
        key = f"bm{bm}_bn{bn}_w{warps}_s{stages}"
        run = functools.partial(extend_attention, plan=plan, scale=HEAD_DIM**-0.5, block_n=bn,
                                num_warps=warps, num_stages=stages)
        try:
            run(q, k, v, out)
            if ref is None:
                ref = out.clone()
            err = (out.float() - ref.float()).abs().max().item()
            secs = graph_seconds(lambda run=run: run(q, k, v, out), 1, reps=5)
            results[key] = {"us": 1e6 * secs, "tflop_s": flops / secs / 1e12, "max_abs_err": err,
                            "config": [bm, bn, warps, stages]}
        except Exception as exc:  # noqa: BLE001
            results[key] = {"error": repr(exc)[:300]}
    return results


def elementwise_sweep(tokens: int = 16384) -> dict:
    """SiLU-and-mul and RMSNorm at the prefill's token count over their block and warp counts."""
    from lmc.kernels.triton.activation import _silu_and_mul_kernel
    from lmc.kernels.triton.rms_norm import _rms_norm_kernel

    x = torch.randn(tokens, 2 * INTER, dtype=torch.bfloat16, device="cuda")
    act = torch.empty(tokens, INTER, dtype=torch.bfloat16, device="cuda")
    results = {}
    for block, warps in ((1024, 4), (2048, 4), (2048, 8), (4096, 8), (1024, 2)):
        def silu(block=block, warps=warps) -> None:
            _silu_and_mul_kernel[(tokens, triton.cdiv(INTER, block))](
                x, act, INTER, x.stride(0), INTER, BLOCK=block, num_warps=warps)
        secs = graph_seconds(silu, 1)
        results[f"silu_b{block}_w{warps}"] = {"us": 1e6 * secs, "tb_s": 3 * tokens * INTER * 2 / secs / 1e12}
    h, r = (torch.randn(tokens, HIDDEN, dtype=torch.bfloat16, device="cuda") for _ in range(2))
    w = torch.ones(HIDDEN, dtype=torch.bfloat16, device="cuda")
    o, ro = torch.empty_like(h), torch.empty_like(h)
    for warps in (4, 8, 16):
        def norm(warps=warps) -> None:
            _rms_norm_kernel[(tokens,)](h, r, w, o, ro, HIDDEN, 1e-5, HIDDEN, HIDDEN, HIDDEN, HIDDEN,
                                        HAS_RESIDUAL=True, BLOCK=HIDDEN, num_warps=warps)
        secs = graph_seconds(norm, 1)
        results[f"rms_norm_residual_w{warps}"] = {"us": 1e6 * secs, "tb_s": 4 * tokens * HIDDEN * 2 / secs / 1e12}
    return results


def kernel_table(fn: Callable[[], object], rows: int = 25) -> dict:
    """torch.profiler over one call of `fn`: per-kernel CUDA time, the top `rows` and the sum."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    kernels = sorted(((e.key, e.self_device_time_total, e.count) for e in prof.key_averages()
                      if e.self_device_time_total > 0 and not e.key.startswith("aten::")),
                     key=lambda t: -t[1])
    return {"profiled_wall_ms": 1e3 * wall, "kernel_ms_total": sum(t[1] for t in kernels) / 1e3,
            "top": [{"name": n[:90], "ms": us / 1e3, "calls": c} for n, us, c in kernels[:rows]]}


class Probe:
    """The engine at the bench's settings, and the variants measured against it."""

    def __init__(self, model: str) -> None:
        from lmc.runtime.config import EngineConfig
        from lmc.runtime.engine import Engine
        from lmc.runtime.model_loader import load_model

        self.loaded = load_model(model, "dummy", "auto", "cuda")
        self.vocab = min(self.loaded.model.vocab_size, 32000)
        config = EngineConfig(model=model, device="cuda", attention_backend="auto", max_batch_tokens=16384,
                              chunk_size=8192, max_running_requests=256, kv_cache_fraction=0.7)
        self.engine = Engine(config, loaded=self.loaded)
        _run(self.engine, _random_prompts(4, 64, self.vocab, 99), 4)

    def decode_step_ms(self) -> float:
        return 1e3 * decode_step_time(self.engine, _random_prompts(64, 1024, self.vocab, 3))

    def prefill_s(self) -> float:
        prompts = _random_prompts(8, 2048, self.vocab, 2)
        walls = []
        for _ in range(2):
            walls.append(_run(self.engine, prompts, 1))
            self.engine.cache.reset()
        return min(walls)

    def baseline(self) -> dict:
        engine = self.engine
        graphs = engine.runner.graphs
        out = {"decode_step_ms": self.decode_step_ms(), "prefill_s": self.prefill_s(),
               "decode_floor_bytes": decode_bytes(self.loaded, 64, 1024),
               "prefill_flops": 8 * prefill_flops(self.loaded.config, 2048)}
        from lmc.runtime.request import Request, SamplingParams

        for ids in _random_prompts(64, 1024, self.vocab, 4):
            engine.submit(Request(ids, SamplingParams(max_tokens=40, ignore_eos=True)))
        running = engine.scheduler.running
        while engine.scheduler.waiting or len(running) < 64 or any(s.num_pending != 1 for s in running):
            engine.step()
        for _ in range(2):
            engine.step()
        out["decode_engine_profile"] = kernel_table(lambda: [engine.step() for _ in range(4)])
        graph = graphs._graphs[64]
        out["replay_only_ms"] = 1e3 * _replay_seconds(graph)
        out["replay_profile"] = kernel_table(lambda: [graph.replay() for _ in range(4)])
        engine.run_until_done()
        engine.cache.reset()
        out["prefill_profile"] = kernel_table(lambda: _run(engine, _random_prompts(8, 2048, self.vocab, 5), 1))
        engine.cache.reset()
        return out

    def recapture(self) -> None:
        """Graphs for batch 64 only, so that a patched kernel is what the replay runs."""
        from lmc.runtime.cuda_graph import DecodeGraphs

        engine, old = self.engine, self.engine.runner.graphs
        engine.runner.graphs = None
        torch.cuda.empty_cache()
        engine.runner.graphs = DecodeGraphs(engine.model, engine.pool, engine.runner.attn, [64],
                                            old.layout.sizes.kv_entries if old else 1 << 20)

    def variant(self, patches: list[tuple[object, str, object]], prefill: bool = False) -> dict:
        """The decode step (recaptured with `patches` installed) and, with `prefill`, the prefill."""
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        try:
            for obj, name, value in patches:
                setattr(obj, name, value)
            self.recapture()
            row = {"decode_step_ms": self.decode_step_ms()}
            row["replay_only_ms"] = 1e3 * _replay_seconds(self.engine.runner.graphs._graphs[64])
            if prefill:
                row["prefill_s"] = self.prefill_s()
            return row
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)

    def prefill_variant(self, patches: list[tuple[object, str, object]]) -> dict:
        """The prefill with `patches` installed, then without them again as a control."""
        saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
        try:
            for obj, name, value in patches:
                setattr(obj, name, value)
            patched = self.prefill_s()
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
        return {"prefill_s": patched, "control_prefill_s": self.prefill_s()}


def _replay_seconds(graph: torch.cuda.CUDAGraph, reps: int = 16) -> float:
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / reps


def _cublas_linear(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    return F.linear(x, w, bias)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="llama-3-8b")
    parser.add_argument("--budget-s", type=float, default=210)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out)
    b = args.budget_s
    report.section("ceilings", ceilings, 0.1 * b)
    probe = report.section("engine", lambda: Probe(args.model), 0.3 * b)
    if probe is not None:
        report.section("baseline", probe.baseline, 0.5 * b)
    attn = report.section("decode_attention", decode_attention_sweep, 0.6 * b)
    matmuls = report.section("decode_matmuls", decode_matmuls, 0.7 * b)
    from lmc.runtime.models import llama

    decode_variants: dict[str, list] = {"recaptured_b64_control": []}
    if attn:
        key = min((v["us"], k) for k, v in attn.items() if "config" in v)[1]
        bn, w, s, sp = attn[key]["config"]
        decode_variants[f"decode_attn_{key}"] = [
            (triton_backend, "decode_attention",
             functools.partial(decode_attention, block_n=bn, num_warps=w, num_stages=s)),
            (triton_backend, "choose_num_splits", functools.partial(_fixed_splits, splits=sp))]
    if matmuls:
        best = best_skinny(matmuls)
        report.data["skinny_best"] = {str(k): [repr(c), r] for k, (c, r) in best.items()}
    decode_variants["cublas_only"] = [(llama, "linear", _cublas_linear)]
    for name, patches in decode_variants.items() if probe is not None else ():
        report.section(f"variant_{name}", functools.partial(probe.variant, patches, False), 0.85 * b)
    ext = report.section("extend_attention", extend_attention_sweep, 0.9 * b)
    if ext and probe is not None:
        key = min((v["us"], k) for k, v in ext.items() if "us" in v)[1]
        bm, bn, w, s = ext[key]["config"]
        patches = [(probe.engine.runner.attn, "extend_block_m", bm),
                   (triton_backend, "extend_attention",
                    functools.partial(extend_attention, block_n=bn, num_warps=w, num_stages=s))]
        report.section(f"variant_extend_{key}", functools.partial(probe.prefill_variant, patches), 0.95 * b)
    report.section("elementwise", elementwise_sweep, 0.97 * b)


def _fixed_splits(*_: int, splits: int) -> int:
    return splits


if __name__ == "__main__":
    main()
