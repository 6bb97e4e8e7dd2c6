"""A model whose vocabulary is larger than its tokenizer's (a padded checkpoint, a preset that
borrows a smaller tokenizer) never samples an id the tokenizer lacks: greedy, sampled and
constrained, in the engine and through a whole plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import lmc
from lmc.compiler.loader import load_programs
from lmc.grammars import compile_constraint
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, execute
from lmc.runtime.executor.inputs import read_jsonl
from lmc.runtime.models import presets
from lmc.runtime.models.tiny import build_tiny_model
from lmc.runtime.request import Request, SamplingParams
from lmc.runtime.tokenizer import load_tokenizer

TOKENIZER_IDS = 32000
PADDED_VOCAB = TOKENIZER_IDS + 512
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An engine whose padded logits rows always score highest: without the bound, every
    greedy token and nearly every sampled one would be a padded id."""
    small = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
    path = build_tiny_model(tmp_path_factory.mktemp("padded"), **small, intermediate_size=128, vocab_size=PADDED_VOCAB)
    engine = Engine(EngineConfig(model=str(path)))
    forward = engine.runner.forward

    def padded_rows_win(*args, **kwargs):
        out = forward(*args, **kwargs)
        with torch.inference_mode():
            out.logits[:, TOKENIZER_IDS:] = 1e4
        return out

    engine.runner.forward = padded_rows_win
    return engine


def test_the_engine_knows_both_sizes(engine: Engine) -> None:
    assert (engine.vocab_size, engine.token_vocab_size) == (PADDED_VOCAB, TOKENIZER_IDS)


@pytest.mark.parametrize(
    "sampling",
    [SamplingParams(max_tokens=12), SamplingParams(max_tokens=12, temperature=1.0, seed=3)],
    ids=["greedy", "sampled"],
)
def test_generated_ids_stay_inside_the_tokenizer(engine: Engine, sampling: SamplingParams) -> None:
    prompts = [engine.tokenizer.encode(t, add_bos=True) for t in ("Once upon", "a time there", "was")]
    handles = [engine.submit(Request(ids, sampling)) for ids in prompts]
    engine.run_until_done()
    outputs = [h.output.output_ids for h in handles]
    assert all(len(ids) == 12 for ids in outputs)
    assert max(max(ids) for ids in outputs) < TOKENIZER_IDS


def test_constrained_ids_stay_inside_the_tokenizer(engine: Engine) -> None:
    tok = engine.tokenizer
    constraint = compile_constraint(
        regex=r"[a-z]{2,6} [0-9]{1,3}", token_bytes=tok.token_bytes(),
        eos_token_id=tok.eos_token_id, vocab_size=engine.vocab_size,
    )
    request = Request(tok.encode("Say:", add_bos=True), SamplingParams(max_tokens=16), constraint=constraint)
    handle = engine.submit(request)
    engine.run_until_done()
    ids = handle.output.output_ids
    assert max(ids) < TOKENIZER_IDS
    assert re.fullmatch(r"[a-z]{2,6} [0-9]{1,3}", handle.output.text)


def test_a_plan_runs_without_row_errors(engine: Engine) -> None:
    """The failure this guards against: every row of tree_of_thought died decoding an id the
    tokenizer lacks (`IndexError` at a gen)."""
    program = next(iter(load_programs(EXAMPLES_DIR / "tree_of_thought.py").values()))
    jobs = read_jsonl(EXAMPLES_DIR / "data" / "tree_of_thought.jsonl", limit=2)
    results: list[RowResult] = []
    execute(engine, lmc.compile(program), jobs, results.append)
    assert [r.error for r in results] == [None, None]


def test_every_preset_names_the_tokenizer_it_borrows() -> None:
    for name in presets.preset_names():
        borrowed = presets.preset_tokenizer(name)
        assert borrowed == "tiny"
        assert "tokenizer" not in presets.preset_config(name).to_dict()
    assert load_tokenizer("llama-3-8b").vocab_size == TOKENIZER_IDS
