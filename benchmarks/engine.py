"""`lmc bench engine`: the few-shot shape on the engine, with and without the radix cache, against
transformers' batched `generate`.

The shape (SGLang paper's few-shot workloads): every row is one shared prefix plus a few tokens of
its own, then a short generation. The analytical maximum hit rate is what a perfect cache reuses:
every row's longest common prefix with an earlier row, capped so that one token per row is
computed (logits come from a computed position).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from lmc.benchmarks.report import write_report
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.model_loader import LoadedModel, load_model
from lmc.runtime.request import Request, SamplingParams


@dataclass(frozen=True)
class FewShotShape:
    rows: int = 64
    prefix_tokens: int = 512
    own_tokens: int = 32
    new_tokens: int = 8
    seed: int = 0

    def prompts(self, vocab: int, bos: int) -> list[list[int]]:
        rng = random.Random(self.seed)
        prefix = [bos] + [rng.randrange(3, vocab) for _ in range(self.prefix_tokens - 1)]
        return [prefix + [rng.randrange(3, vocab) for _ in range(self.own_tokens)] for _ in range(self.rows)]


def analytical_max_hit_rate(prompts: list[list[int]]) -> float:
    """Best possible cached / (cached + computed) over the prompts, in submission order."""
    seen: set[tuple[int, ...]] = set()
    cached = total = 0
    for ids in prompts:
        hit = 0
        while hit < len(ids) - 1 and tuple(ids[: hit + 1]) in seen:
            hit += 1
        cached += hit
        total += len(ids)
        seen.update(tuple(ids[: i + 1]) for i in range(len(ids)))
    return cached / total


def run_lmc(loaded: LoadedModel, prompts: list[list[int]], new_tokens: int, **config) -> dict:
    engine = Engine(EngineConfig(device=loaded.device, **config), loaded=loaded)
    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    start = time.perf_counter()
    for ids in prompts:
        engine.submit(Request(ids, params))
    engine.run_until_done()
    wall = time.perf_counter() - start
    stats = engine.stats()
    return {
        "wall_s": wall,
        "rows_per_s": len(prompts) / wall,
        "hit_rate": stats.hit_rate,
        "prefill_tokens": stats.prefill_tokens,
        "steps": stats.steps,
    }


def run_transformers(model_dir: Path, prompts: list[list[int]], new_tokens: int, batch: int) -> dict:
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(prompts), batch):
            x = torch.tensor(prompts[i : i + batch])  # equal lengths: no padding needed
            model.generate(
                x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=0,
            )
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "rows_per_s": len(prompts) / wall,
        "hit_rate": 0.0,
        "prefill_tokens": sum(len(p) for p in prompts),
        "steps": None,
    }


def bench_engine(
    model: str = "tiny",
    shape: FewShotShape = FewShotShape(),
    out_dir: Path | str = "lmc-bench",
    transformers_batch: int = 64,
    name: str = "engine_cpu",
) -> Path:
    loaded = load_model(model)
    prompts = shape.prompts(loaded.model.vocab_size, loaded.tokenizer.bos_token_id)
    run_lmc(loaded, prompts[:2], shape.new_tokens)  # warm-up: first-call allocations
    rows = [
        {"system": "lmc", **run_lmc(loaded, prompts, shape.new_tokens)},
        {"system": "lmc, radix cache off", **run_lmc(loaded, prompts, shape.new_tokens, enable_radix_cache=False)},
        {"system": "transformers generate", **run_transformers(loaded.model_dir, prompts, shape.new_tokens, transformers_batch)},
    ]
    lmc_wall = rows[0]["wall_s"]
    for row in rows:
        row["lmc_speedup"] = row["wall_s"] / lmc_wall
    best = analytical_max_hit_rate(prompts)
    return write_report(
        name,
        rows,
        out_dir,
        extra={"shape": shape.__dict__, "model": model, "analytical_max_hit_rate": best},
    )
