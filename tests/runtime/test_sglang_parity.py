"""Greedy parity with transformers for ported SGLang programs with forks and roles: every gen's
output equals transformers' greedy continuation of the prompt SGLang's semantics give it (the
text so far, a branch seeing its parent's prompt at the fork)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

from lmc.compiler.loader import load_programs
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


def greedy_ids(hf, engine, ids: list[int], max_tokens: int = GEN_TOKENS) -> list[int]:
    """transformers' greedy continuation (at most GEN_TOKENS tokens, as ShortGenEngine caps
    every gen), without EOS: the ids lmc's executor keeps in the prompt after a gen."""
    x = torch.tensor([ids])
    with torch.no_grad():
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=min(max_tokens, GEN_TOKENS), do_sample=False,
                          pad_token_id=0, eos_token_id=sorted(engine.eos_ids))
    return [t for t in out[0, len(ids):].tolist() if t not in engine.eos_ids]


def greedy_text(hf, engine, ids: list[int], stop: str | None = None, max_tokens: int = GEN_TOKENS) -> str:
    """The greedy continuation decoded as lmc's executor decodes a value, cut before a stop."""
    text = TokenCodec(engine.tokenizer, frozenset(engine.eos_ids)).decode(greedy_ids(hf, engine, ids, max_tokens))
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


TREE_ASKS = ("Please generate a high-level plan for solving the following question. As the first step, just say "
             "what method and idea you will use to solve the question. Question: {question}",
             "The plan looks good! Now, use real numbers and do the calculation. Give me the final answer.",
             "Okay. Now, evaluate your own solution and give it a score on a scale of 1 to 5.",
             "Based on your reflection, do you change your mind? Now, give me the final answer.")
TREE_GENS = ("plan", "answer", "score", "final_answer")


def test_tree_of_thought_port_with_roles_matches_transformers(engine, hf):
    """SGLang's benchmark/tree_of_thought_deep: chat roles (the model's template texts) and
    forks of forks, each branch's gen continuing its own conversation; its return value, every
    final branch's `s.text()`, is that conversation's text. One branch per fork here: with two,
    identical prompts batched differently can break the small random model's near-ties."""
    program = load_programs(PORTS / "bench_tree_of_thought_deep.py")["tree_search"]
    roles, error = role_texts(engine.tokenizer)
    assert roles is not None, error
    question = "What is 12 + 30?"
    result = run_one(engine, program, {"question": question, "num_branches": 1})
    tok = engine.tokenizer
    codec = TokenCodec(tok, frozenset(engine.eos_ids))
    ids: list[int] = []  # the prompt as lmc sends it: text runs encoded whole, generated ids kept as generated
    text, pending = "", ""
    for step, (ask, name) in enumerate(zip(TREE_ASKS, TREE_GENS)):
        run = roles.open("user", None if step == 0 else "assistant") + ask.format(question=question) + roles.close("user")
        run += roles.open("assistant", "user")
        ids += tok.encode_run(pending + run, not ids)
        new = greedy_ids(hf, engine, ids)
        value = codec.decode(new)
        assert result.outputs[name] == [value]
        ids += new
        text += run + value
        pending = roles.close("assistant")
        text += pending
    assert result.outputs["ret_value"] == [[text]]  # SGLang's script reads s.ret_value


def test_tree_of_thought_texts_follow_each_branch_path(engine):
    """Two branches per fork: leaf k of reflection r descends from solution r // 2, from plan
    r // 4, and its `s.text()` is the conversation of the values on that path."""
    program = load_programs(PORTS / "bench_tree_of_thought_deep.py")["tree_search"]
    roles, _ = role_texts(engine.tokenizer)
    question = "What is 12 + 30?"
    out = run_one(engine, program, {"question": question, "num_branches": 2}).outputs
    assert [len(out[name]) for name in TREE_GENS] == [2, 4, 8, 16]
    assert [len(leaves) for leaves in out["ret_value"]] == [2] * 8
    for r, leaves in enumerate(out["ret_value"]):
        for k, leaf in enumerate(leaves):
            path = [out["plan"][r // 4], out["answer"][r // 2], out["score"][r], out["final_answer"][2 * r + k]]
            expected = "".join(roles.open("user", None if step == 0 else "assistant") + ask.format(question=question)
                               + roles.close("user") + roles.open("assistant", "user") + value + roles.close("assistant")
                               for step, (ask, value) in enumerate(zip(TREE_ASKS, path)))
            assert leaf == expected
