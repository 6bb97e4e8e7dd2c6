"""Greedy parity with transformers for ported SGLang programs with forks and roles: every gen's
output equals transformers' greedy continuation of the prompt SGLang's semantics give it (the
text so far, a branch seeing its parent's prompt at the fork)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from lmc.compiler.loader import load_programs
from lmc.plan.errors import CompileError
from lmc.runtime.config import EngineConfig
from lmc.runtime.executor import RowResult, RunOptions, execute
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.prompt import TokenCodec
from lmc.runtime.tokenizer import role_texts
from tests.runtime.test_sglang_programs import GEN_TOKENS, ShortGenEngine

PORTS = Path(__file__).resolve().parents[2] / "examples" / "sglang"


@pytest.fixture(scope="module")
def engine(small_model_dir) -> ShortGenEngine:
    return ShortGenEngine(EngineConfig(model=str(small_model_dir)))


@pytest.fixture(scope="module")
def hf(small_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).eval()


def greedy_text(hf, engine, ids: list[int], stop: str | None = None, max_tokens: int = GEN_TOKENS) -> str:
    """transformers' greedy continuation (at most GEN_TOKENS tokens, as ShortGenEngine caps
    every gen), decoded as lmc's executor decodes a value: without EOS, cut before a stop."""
    x = torch.tensor([ids])
    with torch.no_grad():
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=min(max_tokens, GEN_TOKENS), do_sample=False,
                          pad_token_id=0, eos_token_id=sorted(engine.eos_ids))
    new = [t for t in out[0, len(ids):].tolist() if t not in engine.eos_ids]
    text = TokenCodec(engine.tokenizer, frozenset(engine.eos_ids)).decode(new)
    return text.split(stop)[0] if stop else text


def run_one(engine, program, row: dict) -> RowResult:
    results: list[RowResult] = []
    execute(engine, program.compile(), [RowJob(0, "0", row)], results.append, RunOptions(keep_text=True))
    (result,) = results
    assert result.error is None, result.error
    return result


def test_llm_judge_port_matches_transformers(engine, hf):
    """SGLang's benchmark/llm_judge: six forks (its roles written as USER:/JUDGE: text), then
    the parent reads every branch's judgement."""
    module = load_programs(PORTS / "bench_llm_judge.py")
    program = module["multi_dimension_judge"]
    namespace = program.fn.__globals__
    system, dimensions = namespace["system_prompt"], namespace["dimension_prompts"]
    article = "Cats are small carnivorous mammals. They are kept as pets."
    result = run_one(engine, program, {"article": article})
    tok = engine.tokenizer
    head = system + "\n```\n" + article + "\n```\n\n"
    judgements = []
    for dim in dimensions:
        branch = head + ("USER: Please judge the quality based on the following metric. " + dim
                         + " Please provide a single-paragraph judgement. Focus on the provided metric and do not "
                         'say other things. End your judgement paragraph with the word "END"\nJUDGE:')
        judgements.append(greedy_text(hf, engine, tok.encode_run(branch, True), stop="END"))
    assert result.outputs["judgement"] == judgements
    parent = head + "I will judge the quality based on the following metrics.\n"
    parent += "".join(d.split(":")[0] + ": " + j.strip() + "\n" for d, j in zip(dimensions, judgements))
    parent += "In summary, on a scale of 1 to 10, I would give the article a score of"
    assert result.outputs["score"] == greedy_text(hf, engine, tok.encode_run(parent, True), max_tokens=2)


def test_tree_of_thought_port_with_roles_matches_transformers(engine, hf):
    """SGLang's benchmark/tree_of_thought_deep: chat roles (the model's template texts) and
    forks of forks, each branch's gen continuing its own conversation."""
    program = load_programs(PORTS / "bench_tree_of_thought_deep.py")["tree_search"]
    try:
        program.compile()
    except CompileError as exc:
        pytest.skip(f"the port does not compile yet (issue 11): {exc}")
    roles, error = role_texts(engine.tokenizer)
    assert roles is not None, error
    question = "What is 12 + 30?"
    result = run_one(engine, program, {"question": question, "num_branches": 2})
    tok = engine.tokenizer

    def user(text: str) -> str:
        return roles["user"][0] + text + roles["user"][1]

    def assistant(text: str) -> str:
        return roles["assistant"][0] + text + roles["assistant"][1]

    plan_prompt = user("Please generate a high-level plan for solving the following question. As the first step, "
                       "just say what method and idea you will use to solve the question. Question: " + question)
    plan = greedy_text(hf, engine, tok.encode_run(plan_prompt + roles["assistant"][0], True))
    assert result.outputs["plan"] == [plan, plan]  # two greedy branches of one prompt agree
    answer_prompt = plan_prompt + assistant(plan) + user(
        "The plan looks good! Now, use real numbers and do the calculation. Give me the final answer.")
    answer = greedy_text(hf, engine, tok.encode_run(answer_prompt + roles["assistant"][0], True))
    assert result.outputs["answer"] == [answer] * 4
