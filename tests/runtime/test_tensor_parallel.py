"""Tensor parallelism on the CPU (gloo, 2 ranks): greedy outputs equal the one-process engine's
when the KV heads split evenly and when there are fewer KV heads than ranks (replicated), with
shared prefixes, chunked prefill and eviction in the batches rank 0 broadcasts; `lmc run
--tensor-parallel 2` on the default tiny model writes the one-process file byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import LlamaConfig
from typer.testing import CliRunner

from lmc.cli.main import app
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.models.tiny import build_tiny_model
from lmc.runtime.parallel.tp_shard import RankShard, rank_shard
from lmc.runtime.request import Request, SamplingParams

SHARED = "Here is a long shared preamble about tensors, ranks and heads, repeated. " * 3
PROMPTS = [SHARED + "Q: one?", SHARED + "Q: two?", "A different start", SHARED + "Q: three, longer than the rest?"]


def _config(heads: int, kv_heads: int, inter: int = 128) -> LlamaConfig:
    return LlamaConfig(num_attention_heads=heads, num_key_value_heads=kv_heads, intermediate_size=inter,
                       hidden_size=16 * heads)


def test_rank_shards_split_or_replicate_kv_heads():
    assert [rank_shard(_config(8, 4), r, 2) for r in range(2)] == [RankShard(0, 4, 0, 2, 0, 64),
                                                                   RankShard(4, 4, 2, 2, 64, 64)]
    # 2 KV heads over 4 ranks: q heads 0-3 read KV head 0, q heads 4-7 read KV head 1
    assert [rank_shard(_config(8, 2), r, 4).kv_head_first for r in range(4)] == [0, 0, 1, 1]
    assert {rank_shard(_config(8, 1), r, 2).kv_heads for r in range(2)} == {1}


@pytest.mark.parametrize(("config", "world", "named"), [
    (_config(6, 6), 4, "6 attention heads"), (_config(4, 4, inter=130), 4, "MLP width 130"),
    (_config(6, 3), 2, "3 KV heads"),
])
def test_models_that_do_not_split_are_refused(config, world, named):
    with pytest.raises(ValueError, match=named):
        rank_shard(config, 0, world)


def _greedy(model_dir: Path, tensor_parallel: int) -> list[list[int]]:
    config = EngineConfig(model=str(model_dir), kv_cache_tokens=160, chunk_size=24, max_batch_tokens=64,
                          tensor_parallel=tensor_parallel)
    engine = Engine(config)
    try:
        ids = [engine.tokenizer.encode(p, add_bos=True) for p in PROMPTS]
        handles = [engine.submit(Request(i, SamplingParams(max_tokens=10))) for i in ids]
        engine.run_until_done()
        assert engine.stats().cached_tokens > 0  # rows shared the preamble's KV
        return [h.output.output_ids for h in handles]
    finally:
        engine.close()


@pytest.mark.slow  # two processes start (about 10 s on 2 idle cores)
@pytest.mark.parametrize("kv_heads", [2, 1], ids=["kv-heads-split", "kv-heads-replicated"])
def test_two_ranks_give_the_one_process_greedy_tokens(tmp_path, kv_heads):
    model_dir = build_tiny_model(tmp_path / "model", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=kv_heads, intermediate_size=128)
    expected = _greedy(model_dir, 1)
    assert _greedy(model_dir, 2) == expected
    assert len({tuple(t) for t in expected}) > 1  # not one degenerate answer for every prompt


PROGRAM = '''
import lmc

@lmc.program
def quiz(s, topic: str):
    s += "Write about " + topic + ":" + lmc.gen("text", max_tokens=6)
    s += "\\nGood?" + lmc.select("verdict", choices=[" yes", " no", " maybe"])
'''


@pytest.mark.slow
def test_lmc_run_with_two_ranks_writes_the_one_process_file(tmp_path):
    (tmp_path / "quiz.py").write_text(PROGRAM)
    runner = CliRunner()
    plan = tmp_path / "plan.json"
    assert runner.invoke(app, ["compile", str(tmp_path / "quiz.py"), "-o", str(plan)]).exit_code == 0
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"topic": t}) + "\n" for t in ["rain", "ranks", "rivers"]))
    outputs = []
    for tp in ("1", "2"):
        out = tmp_path / f"tp{tp}.jsonl"
        result = runner.invoke(app, ["run", str(plan), "-i", str(data), "-o", str(out), "--no-progress",
                                     "--model", "tiny", "--kv-cache-tokens", "1024", "--tensor-parallel", tp])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 3


def test_tensor_parallel_does_not_combine_with_data_parallel(tmp_path):
    (tmp_path / "quiz.py").write_text(PROGRAM)
    runner = CliRunner()
    plan = tmp_path / "plan.json"
    assert runner.invoke(app, ["compile", str(tmp_path / "quiz.py"), "-o", str(plan)]).exit_code == 0
    (tmp_path / "data.jsonl").write_text('{"topic": "x"}\n')
    result = runner.invoke(app, ["run", str(plan), "-i", str(tmp_path / "data.jsonl"), "-o", str(tmp_path / "o.jsonl"),
                                 "--tensor-parallel", "2", "--data-parallel", "2"])
    assert result.exit_code == 2
    assert "does not combine" in result.output
