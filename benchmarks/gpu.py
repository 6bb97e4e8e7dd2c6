"""`lmc bench gpu`: the engine on a CUDA device at a real model's shape, beside transformers.

Four shapes (issue 6): the few-shot batch, a long decode, a large prefill (as a fraction of the
matmul ceiling) and one decode step at batch 64 with 1 024-token contexts (against the bytes it
must read: weights plus KV, over the measured copy bandwidth). Transformers runs the same shapes
in the same process, so every ratio is side by side on one card.
"""

from __future__ import annotations

import gc
import random
import time
from pathlib import Path

import torch

from lmc.benchmarks.engine import FewShotShape
from lmc.benchmarks.report import write_report
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams


def measure_ceilings(device: torch.device) -> dict[str, float]:
    """Copy bandwidth (bytes read + written) and bf16 matmul rate, measured on this card."""
    src = torch.empty(1 << 30, dtype=torch.uint8, device=device).random_()
    dst = torch.empty_like(src)
    a = torch.randn(8192, 8192, dtype=torch.bfloat16, device=device)
    b = torch.randn(8192, 8192, dtype=torch.bfloat16, device=device)
    copy_s = _time_cuda(lambda: dst.copy_(src))
    mm_s = _time_cuda(lambda: a @ b)
    return {"copy_tb_s": 2 * src.numel() / copy_s / 1e12, "bf16_tflop_s": 2 * 8192**3 / mm_s / 1e12}


def _time_cuda(fn, warmup: int = 3, iters: int = 10) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def _random_prompts(rows: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(3, vocab) for _ in range(length)] for _ in range(rows)]


def _run(engine: Engine, prompts: list[list[int]], new_tokens: int) -> float:
    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for ids in prompts:
        engine.submit(Request(ids, params))
    engine.run_until_done()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def lmc_shapes(model: str, backend: str, vocab_hint: int) -> tuple[list[dict], dict]:
    loaded = load_model(model, "dummy", "auto", "cuda")
    vocab = min(loaded.model.vocab_size, vocab_hint)
    cfg = loaded.config
    config = EngineConfig(
        model=model, device="cuda", attention_backend=backend, max_batch_tokens=16384,
        chunk_size=8192, max_running_requests=256, kv_cache_fraction=0.7,
    )
    engine = Engine(config, loaded=loaded)
    graphs = engine.runner.graphs

    def graph_steps() -> int:
        """Decode steps replayed as CUDA graphs so far (0 where the backend runs eagerly)."""
        return graphs.replays if graphs is not None else 0

    rows: list[dict] = []
    _run(engine, _random_prompts(4, 64, vocab, 99), 4)  # warm-up: kernels compile, caches fill

    shape = FewShotShape(rows=256, prefix_tokens=1024, own_tokens=64, new_tokens=8)
    prompts = shape.prompts(vocab, 1)
    before = graph_steps()
    wall = _run(engine, prompts, shape.new_tokens)
    rows.append({"shape": "few-shot 256x(1024+64)+8", "system": "lmc", "wall_s": wall,
                 "rate": len(prompts) / wall, "unit": "rows/s", "hit_rate": engine.stats().hit_rate,
                 "graph_steps": graph_steps() - before})
    engine.cache.reset()

    prompts = _random_prompts(64, 256, vocab, 1)
    before = graph_steps()
    wall = _run(engine, prompts, 256)
    rows.append({"shape": "decode 64x256+256", "system": "lmc", "wall_s": wall,
                 "rate": 64 * 256 / wall, "unit": "tokens/s", "graph_steps": graph_steps() - before})
    engine.cache.reset()

    prompts = _random_prompts(8, 2048, vocab, 2)
    wall = _run(engine, prompts, 1)
    flops = prefill_flops(cfg, 2048) * 8
    rows.append({"shape": "prefill 8x2048", "system": "lmc", "wall_s": wall,
                 "rate": flops / wall / 1e12, "unit": "TFLOP/s"})
    engine.cache.reset()

    before = graph_steps()
    step_s = decode_step_time(engine, _random_prompts(64, 1024, vocab, 3))
    rows.append({"shape": "decode step b64 ctx1024", "system": "lmc", "wall_s": step_s,
                 "rate": 1e3 * step_s, "unit": "ms/step", "graph_steps": graph_steps() - before})
    floors = {
        "decode_step_bytes": decode_bytes(loaded, 64, 1024),
        "prefill_flops_8x2048": flops,
        "cuda_graph_sizes": graphs.sizes if graphs is not None else [],
    }
    del engine, loaded
    gc.collect()
    torch.cuda.empty_cache()
    return rows, floors


def decode_step_time(engine: Engine, prompts: list[list[int]], steps: int = 16, warmup: int = 2) -> float:
    """Mean time of `steps` consecutive steps in which every one of the batch decodes a token.

    They are timed as one stretch, not one by one: with overlap scheduling the host prepares a
    step while the device runs the one before, and a synchronisation around each step would
    serialise exactly what the engine overlaps."""
    params = SamplingParams(max_tokens=steps + warmup + 4, ignore_eos=True)
    for ids in prompts:
        engine.submit(Request(ids, params))
    running = engine.scheduler.running
    while engine.scheduler.waiting or len(running) < len(prompts) or any(s.num_pending != 1 for s in running):
        engine.step()
    for _ in range(warmup):
        engine.step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        engine.step()
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    engine.run_until_done()
    return elapsed / steps


def prefill_flops(cfg, length: int) -> float:
    """Matmul FLOPs of one causal prefill: 2 x non-embedding params x tokens + attention."""
    hidden, layers = cfg.hidden_size, cfg.num_hidden_layers
    heads, kv_heads = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    per_layer = hidden * head_dim * (2 * heads + 2 * kv_heads) + 3 * hidden * cfg.intermediate_size
    linear = 2 * per_layer * layers * length + 2 * hidden * cfg.vocab_size  # lm_head: last token
    attention = 2 * 2 * heads * head_dim * layers * length * length / 2
    return linear + attention


def decode_bytes(loaded, batch: int, context: int) -> float:
    weights = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    embed = loaded.model.vocab_size * loaded.config.hidden_size * 2
    if getattr(loaded.config, "tie_word_embeddings", False):
        embed = 0
    kv = batch * context * loaded.model.num_layers * 2 * loaded.model.num_kv_heads * loaded.model.head_dim * 2
    return weights - embed + kv


def _hf_generate(hf, prompts: list[list[int]], new_tokens: int, batch: int) -> float:
    """Greedy `generate` in batches of equal-length prompts (no padding); wall seconds."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(prompts), batch):
            x = torch.tensor(prompts[i : i + batch], device="cuda")
            hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new_tokens,
                        min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - start


def transformers_shapes(model: str, vocab_hint: int) -> list[dict]:
    import transformers

    from lmc.runtime.models.presets import preset_config

    with torch.device("cuda"):
        hf = transformers.AutoModelForCausalLM.from_config(preset_config(model), dtype=torch.bfloat16).eval()
    vocab = min(hf.config.vocab_size, vocab_hint)

    _hf_generate(hf, _random_prompts(4, 64, vocab, 99), 4, 4)
    rows = []
    prompts = FewShotShape(rows=256, prefix_tokens=1024, own_tokens=64, new_tokens=8).prompts(vocab, 1)
    wall = _hf_generate(hf, prompts, 8, 64)
    rows.append({"shape": "few-shot 256x(1024+64)+8", "system": "transformers", "wall_s": wall,
                 "rate": 256 / wall, "unit": "rows/s"})
    wall = _hf_generate(hf, _random_prompts(64, 256, vocab, 1), 256, 64)
    rows.append({"shape": "decode 64x256+256", "system": "transformers", "wall_s": wall,
                 "rate": 64 * 256 / wall, "unit": "tokens/s"})
    wall = _hf_generate(hf, _random_prompts(8, 2048, vocab, 2), 1, 8)
    rows.append({"shape": "prefill 8x2048", "system": "transformers", "wall_s": wall,
                 "rate": prefill_flops(hf.config, 2048) * 8 / wall / 1e12, "unit": "TFLOP/s"})
    del hf
    gc.collect()
    torch.cuda.empty_cache()
    return rows


def bench_gpu(
    model: str = "llama-3-8b",
    backend: str = "auto",
    out_dir: Path | str = "lmc-bench",
    with_transformers: bool = True,
    name: str = "gpu",
) -> Path:
    if not torch.cuda.is_available():
        raise RuntimeError("lmc bench gpu needs a CUDA device")
    device = torch.device("cuda")
    ceilings = measure_ceilings(device)
    vocab_hint = 32000  # prompts use ids every tokenizer and preset shares
    rows, floors = lmc_shapes(model, backend, vocab_hint)
    if with_transformers:
        rows += transformers_shapes(model, vocab_hint)
    decode_floor_s = floors["decode_step_bytes"] / (ceilings["copy_tb_s"] * 1e12)
    prefill_floor_s = floors["prefill_flops_8x2048"] / (ceilings["bf16_tflop_s"] * 1e12)
    for row in rows:
        if row["shape"].startswith("decode step"):
            row["vs_floor"] = row["wall_s"] / decode_floor_s
        if row["shape"].startswith("prefill"):
            row["vs_floor"] = prefill_floor_s / row["wall_s"]
    return write_report(
        name, rows, out_dir,
        extra={"model": f"{model} (dummy bf16)", "backend": backend, "ceilings": ceilings,
               "cuda_graph_sizes": floors.pop("cuda_graph_sizes"),
               "floors": {**floors, "decode_step_floor_s": decode_floor_s, "prefill_floor_s": prefill_floor_s}},
    )
