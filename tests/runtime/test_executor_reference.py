"""The executor's gens, forks and selects against transformers run on the same token ids.

Generated ids must continue the prompt exactly (never re-tokenized), a branch must see its
parent's prompt, and a select must pick the choice transformers scores best."""

from __future__ import annotations

import pytest
import torch
import transformers

import lmc
from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.tokenizer import Tokenizer


@lmc.program
def chain(s, topic: str):
    s += f"Write about {topic}:" + lmc.gen("first", max_tokens=6, ignore_eos=True)
    s += "\nAnd then" + lmc.gen("second", max_tokens=5, ignore_eos=True)


@lmc.program
def branches(s, topic: str):
    s += f"Stories about {topic}."
    forks = s.fork(2)
    forks[0] += " One day" + lmc.gen("story", max_tokens=5, ignore_eos=True)
    forks[1] += " Long ago" + lmc.gen("story", max_tokens=5, ignore_eos=True)


@lmc.program
def pick(s, question: str):
    s += f"Question: {question}\nAnswer:" + lmc.select("answer", choices=[" yes", " no", " maybe not", " 42"])


@pytest.fixture(scope="module")
def engine(small_model_dir) -> Engine:
    return Engine(EngineConfig(model=str(small_model_dir)))


@pytest.fixture(scope="module")
def hf(small_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def tok(small_model_dir) -> Tokenizer:
    return Tokenizer.from_dir(small_model_dir)


def _run(engine: Engine, program, rows: list[dict]) -> list[RowResult]:
    results: list[RowResult] = []
    jobs = [RowJob(i, i, row) for i, row in enumerate(rows)]
    execute(engine, lmc.compile(program), jobs, results.append, RunOptions(keep_text=True))
    return sorted(results, key=lambda r: r.index)


@torch.no_grad()
def _greedy(hf, ids: list[int], n: int) -> list[int]:
    x = torch.tensor([ids])
    out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n, do_sample=False,
                      pad_token_id=0)
    return out[0, len(ids):].tolist()


def test_gens_continue_the_exact_generated_ids(engine, hf, tok):
    topics = ["the sea", "bread", "a very old clock"]
    for topic, result in zip(topics, _run(engine, chain, [{"topic": t} for t in topics])):
        prompt = tok.encode(f"Write about {topic}:", add_bos=True)
        first = _greedy(hf, prompt, 6)
        assert result.outputs["first"] == tok.decode_continuation(first)
        prompt += first + tok.encode_continuation("\nAnd then")
        second = _greedy(hf, prompt, 5)
        assert result.outputs["second"] == tok.decode_continuation(second)
        assert result.text == f"Write about {topic}:" + result.outputs["first"] + "\nAnd then" + result.outputs["second"]


def test_branches_start_from_the_parent_prompt(engine, hf, tok):
    (result,) = _run(engine, branches, [{"topic": "foxes"}])
    expected = [
        tok.decode_continuation(_greedy(hf, tok.encode(f"Stories about foxes.{text}", add_bos=True), 5))
        for text in (" One day", " Long ago")
    ]
    assert result.outputs["story"] == expected


@torch.no_grad()
def test_select_picks_the_best_mean_logprob(engine, hf, tok):
    questions = ["Is the sky blue?", "What is six times seven?", "Can fish fly?", "Is it raining?"]
    results = _run(engine, pick, [{"question": q} for q in questions])
    choices = [" yes", " no", " maybe not", " 42"]
    for question, result in zip(questions, results):
        prompt = tok.encode(f"Question: {question}\nAnswer:", add_bos=True)
        scores = []
        for choice in choices:
            ids = prompt + tok.encode_continuation(choice)
            logprobs = torch.log_softmax(hf(torch.tensor([ids])).logits[0].float(), dim=-1)
            picked = [logprobs[i - 1, ids[i]].item() for i in range(len(prompt), len(ids))]
            scores.append(sum(picked) / len(picked))
        assert result.outputs["answer"] == choices[max(range(4), key=scores.__getitem__)]
