"""Predicted vs measured prefill tokens: planned placement vs round-robin vs one worker.

A document-QA workload (rows drawn at random over a few long documents, so rows sharing a
prefix are scattered through the input) runs through `run_file` three ways: one engine, and
`DataParallel` with each placement policy. Each line prints the prefill tokens the compiler's
cache model predicts for the placement and the prefill tokens the workers' engines measured, and
checks that the output file equals the one-worker file byte for byte.

    python3 -m lmc.benchmarks.data_parallel --model tiny --workers 2 --rows 32 --docs 4
    python3 -m lmc.benchmarks.data_parallel --model llama-3-8b --load-format dummy --device cuda --workers 8 --rows 2048
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import lmc
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor.execute import RunOptions
from lmc.runtime.executor.file_run import run_file
from lmc.runtime.executor.inputs import read_jsonl
from lmc.runtime.parallel.data_parallel import DataParallel
from lmc.runtime.parallel.placement import predicted_prefill
from lmc.runtime.tokenizer import role_texts


@lmc.program
def doc_qa(s, doc: str, question: str):
    s += "Read the document, then answer.\n" + doc + "\nQ: " + question + "\nA:" + lmc.gen("answer", max_tokens=8)


def _docs(count: int, facts: int) -> list[str]:
    words = ["red", "blue", "tall", "old", "warm", "soft", "fast", "dark"]
    return [" ".join(f"Fact {d}.{k}: item {k} of set {d} is {words[(d + k) % len(words)]}." for k in range(facts))
            for d in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--load-format", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--facts", type=int, default=24, help="sentences per document (its length)")
    args = parser.parse_args()
    config = EngineConfig(model=args.model, load_format=args.load_format, device=args.device)
    plan = lmc.compile(doc_qa)
    docs = _docs(args.docs, args.facts)
    rng = random.Random(0)
    folder = Path(tempfile.mkdtemp(prefix="lmc-dp-bench-"))
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps({"id": i, "doc": rng.choice(docs), "question": f"What is item {i % args.facts}?"})
                            + "\n" for i in range(args.rows)))
    results = []
    for name, policy in [("one worker", None), ("planned", "planned"), ("round-robin", "round-robin")]:
        engine = Engine(config) if policy is None else DataParallel(config, args.workers, policy)
        out = folder / f"{name}.jsonl"
        summary = run_file(engine, plan, data, out, options=RunOptions(), show_progress=False)
        if policy is None:
            roles = role_texts(engine.tokenizer)[0]
            predicted = predicted_prefill(plan, read_jsonl(data), engine.tokenizer.encode_run, roles)
        else:
            predicted = engine.report()["predicted_prefill_tokens"]
        same = out.read_bytes() == (folder / "one worker.jsonl").read_bytes()
        results.append({"placement": name, "workers": 1 if policy is None else args.workers,
                        "predicted_prefill_tokens": predicted, "measured_prefill_tokens": summary.engine["prefill_tokens"],
                        "wall_s": round(summary.wall_s, 2), "same_output": same})
        print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
