"""SGLang's gen/select parameters, the concatenating join and run-time keywords, end to end on
the small model (references: transformers, and SGLang's documented semantics)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import transformers

import lmc as sgl
from lmc.plan.errors import LanguageError
from lmc.runtime import api
from lmc.runtime.api import Runtime, set_default_backend
from lmc.runtime.executor.prompt import TokenCodec
from tests.runtime.test_concat_kv import hf_concat_greedy


@sgl.function
def parallel_encoding(s, question, context_0, context_1, context_2):
    """SGLang's test_parallel_encoding (python/sglang/test/test_programs.py), shorter answer."""
    s += "USER: I will ask a question based on some statements.\n"
    s += "ASSISTANT: Sure. I will give the answer.\n"
    s += "USER: Please memorize these statements.\n"
    contexts = [context_0, context_1, context_2]
    forks = s.fork(len(contexts))
    forks += lambda i: f"Statement {i}: " + contexts[i] + "\n"
    forks.join(mode="concate_and_append")
    s += "Now, please answer the following question. Do not list options."
    s += "\nQuestion: " + question + "\n"
    s += "ASSISTANT:" + sgl.gen("answer", max_tokens=6)


@sgl.function
def qa(s, question):
    s += "Q: " + question + "\nA:"
    s += sgl.gen("answer", ignore_eos=True)


@sgl.function
def scored(s, question):
    s += "Q: " + question + "\nA:"
    s += sgl.gen("answer", max_tokens=5, ignore_eos=True, return_logprob=True, top_logprobs_num=3,
                 logprob_start_len=0, return_text_in_logprobs=True)


@sgl.function
def next_token(s, question):
    """cot_decoding's step 0 (examples/sglang/frontend_language/usage/cot_decoding.py)."""
    s += "Q: " + question + "\nA:"
    s += sgl.gen("step", max_tokens=0, return_logprob=True, top_logprobs_num=3, return_text_in_logprobs=True)
    s += sgl.gen("plain", max_tokens=0)
    s += " so" + sgl.gen("after", max_tokens=2, ignore_eos=True)


HEAD_64, HEAD_65 = "Answer in one word. " * 3 + "Ok: ", "Answer in one word. " * 3 + "Ok:: "


@sgl.function
def headed_64(s, question):
    s += HEAD_64 + question + sgl.gen("answer", max_tokens=2)


@sgl.function
def headed_65(s, question):
    s += HEAD_65 + question + sgl.gen("answer", max_tokens=2)


@sgl.function
def sampled(s, question):
    s += "Q: " + question + "\nA:" + sgl.gen("many", max_tokens=4, n=3, ignore_eos=True)
    s += "\nB:" + sgl.gen("same", max_tokens=4, n=2, temperature=0, ignore_eos=True)


@sgl.function
def choose(s, question):
    s += "Q: " + question + "\nA:"
    s += sgl.select("plain", choices=["yes", "no", "maybe not"])
    s += "\nB:" + sgl.gen("as_gen", choices=["yes", "no", "maybe not"])
    s += "\nC:" + sgl.select("greedy", choices=["yes", "no", "maybe not"], choices_method=sgl.greedy_token_selection)
    s += "\nD:" + sgl.select("uncond", choices=["yes", "no", "maybe not"],
                             choices_method=sgl.unconditional_likelihood_normalized)


CONTEXTS = {"context_0": "Ethan is the father of Liam.", "context_1": "Noah is the father of Julian.",
            "context_2": "Oliver is the father of Carlos."}


@pytest.fixture(scope="module")
def hf(small_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(small_model_dir, dtype=torch.float32).eval()


@pytest.fixture
def runtime(small_model_dir) -> Iterator[Runtime]:
    previous = api._default
    runtime = Runtime(model=str(small_model_dir))
    set_default_backend(runtime)
    yield runtime
    api._default = previous


def concat_parts(tokenizer) -> tuple[list[int], list[list[int]], list[int]]:
    """The token ids the program's documented semantics give: the parent's prompt at the fork
    (committed there), each branch's text as a continuation, then the parent's own text."""
    head = ("USER: I will ask a question based on some statements.\nASSISTANT: Sure. I will give the answer.\n"
            "USER: Please memorize these statements.\n")
    prefix = tokenizer.encode_run(head, True)
    branches = [tokenizer.encode_run(f"Statement {i}: {CONTEXTS[f'context_{i}']}\n", False) for i in range(3)]
    tail = tokenizer.encode_run("Now, please answer the following question. Do not list options."
                                "\nQuestion: Who is the father of Julian?\nASSISTANT:", False)
    return prefix, branches, tail


def test_concate_and_append_matches_transformers_on_the_concatenated_kv(runtime, hf):
    engine = runtime.engine
    before = engine.stats().prefill_tokens
    state = parallel_encoding.run(question="Who is the father of Julian?", **CONTEXTS)
    prefix, branches, tail = concat_parts(engine.tokenizer)
    ids = prefix + [t for b in branches for t in b] + tail
    expected = hf_concat_greedy(hf, ids, len(prefix), [len(b) for b in branches], 6)
    codec = TokenCodec(engine.tokenizer, frozenset(engine.eos_ids))
    assert state["answer"] == codec.decode([t for t in expected if t not in engine.eos_ids])
    # the parent's text is its own and every branch's, in order (SGLang's text_)
    assert state.text().startswith("USER: I will ask")
    assert "Statement 0: Ethan" in state.text() and state.text().index("Statement 1") < state.text().index("Statement 2")
    # every distinct prompt token was computed once (the branches share their "Statement" head
    # through the radix tree): the branches' KV is reused by the parent, not recomputed
    paths = [prefix + b for b in branches]
    distinct = len({tuple(path[:k]) for path in paths for k in range(1, len(path) + 1)})
    assert engine.stats().prefill_tokens - before == distinct + len(tail)
    assert engine.cache.protected_size == 0  # the branches' pins are released with the row


def test_without_a_prefix_cache_the_join_appends_text_as_sglang_does(small_model_dir, hf):
    previous = api._default
    runtime = Runtime(model=str(small_model_dir), enable_radix_cache=False)
    set_default_backend(runtime)
    try:
        state = parallel_encoding.run(question="Who is the father of Julian?", **CONTEXTS)
    finally:
        api._default = previous
    prefix, branches, tail = concat_parts(runtime.engine.tokenizer)
    ids = prefix + [t for b in branches for t in b] + tail
    x = torch.tensor([ids])
    with torch.no_grad():
        plain = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=6, do_sample=False, pad_token_id=0)
    codec = TokenCodec(runtime.engine.tokenizer, frozenset(runtime.engine.eos_ids))
    assert state["answer"] == codec.decode([t for t in plain[0, len(ids):].tolist() if t not in runtime.engine.eos_ids])


def test_logprobs_are_reachable_as_meta_info(runtime, hf):
    state = scored.run(question="What is 2 + 2?")
    info = state.get_meta_info("answer")
    assert info["completion_tokens"] == 5 and info["finish_reason"] == {"type": "length", "length": 5}
    out = info["output_token_logprobs"]
    assert len(out) == 5 and all(len(top) == 3 for top in info["output_top_logprobs"])
    assert "".join(text for _, _, text in out) == state["answer"]
    prompt = [t for _, t, _ in info["input_token_logprobs"]]
    assert len(prompt) == info["prompt_tokens"] and info["input_token_logprobs"][0][0] is None
    with torch.no_grad():
        logp = torch.log_softmax(hf(torch.tensor([prompt + [t for _, t, _ in out]])).logits[0].float(), -1)
    n = len(prompt)
    assert [v for v, _, _ in out] == pytest.approx([logp[n - 1 + i, t].item() for i, (_, t, _) in enumerate(out)], abs=1e-4)
    assert [v for v, _, _ in info["input_token_logprobs"][1:]] == pytest.approx(
        [logp[i - 1, prompt[i]].item() for i in range(1, n)], abs=1e-4)
    assert [t for _, t, _ in info["output_top_logprobs"][0]] == logp[n - 1].topk(3).indices.tolist()


def test_max_tokens_0_scores_the_prompt_and_generates_nothing(runtime, hf):
    """SGLang's prefill-only gen: the value is empty, nothing joins the prompt, and
    output_top_logprobs holds one entry, the next token's top-k (what cot_decoding forks on)."""
    state = next_token.run(question="What is 2 + 2?")
    assert state["step"] == "" and state["plain"] == ""
    assert state.text() == "Q: What is 2 + 2?\nA: so" + state["after"]
    info = state.get_meta_info("step")
    assert info["completion_tokens"] == 0 and info["finish_reason"] == {"type": "length", "length": 0}
    assert info["output_token_logprobs"] == [] and len(info["output_top_logprobs"]) == 1
    prompt = runtime.engine.tokenizer.encode_run("Q: What is 2 + 2?\nA:", True)
    assert info["prompt_tokens"] == len(prompt)
    with torch.no_grad():
        logp = torch.log_softmax(hf(torch.tensor([prompt])).logits[0, -1].float(), -1)
    best = logp.topk(3)
    (top,) = info["output_top_logprobs"]
    assert [t for _, t, _ in top] == best.indices.tolist()
    assert [v for v, _, _ in top] == pytest.approx(best.values.tolist(), abs=1e-4)
    codec = TokenCodec(runtime.engine.tokenizer, frozenset(runtime.engine.eos_ids))
    assert [text for _, _, text in top] == [codec.decode([t]) for t in best.indices.tolist()]
    plain = state.get_meta_info("plain")
    assert plain["completion_tokens"] == 0 and "output_top_logprobs" not in plain


def test_n_gives_a_list_and_the_state_goes_on_with_the_first(runtime):
    state = sampled.run(question="Name a colour.")
    many, same = state["many"], state["same"]
    assert isinstance(many, list) and len(many) == 3 and len(set(many)) > 1  # SGLang's temperature 1.0
    assert same[0] == same[1]  # temperature=0: greedy, twice
    assert "A:" + many[0] + "\nB:" + same[0] in state.text()
    assert len(state.get_meta_info("many")) == 3
    assert sampled.run(question="Name a colour.")["many"] == many  # seeded per row, op and sample


def test_min_tokens_holds_stops_back(runtime):
    free = qa.run(question="Why?", max_new_tokens=6)
    first = free.get_meta_info("answer")
    assert first["completion_tokens"] == 6

    @sgl.function
    def stopped(s, token: int, least: int):
        s += "Q: Why?\nA:" + sgl.gen("answer", max_tokens=6, stop_token_ids=[token], min_tokens=least)

    engine = runtime.engine
    stop = engine.tokenizer.encode_run(free["answer"], False)[0]
    assert stopped.run(token=stop, least=0)["answer"] == ""
    held = stopped.run(token=stop, least=3)
    assert held.get_meta_info("answer")["completion_tokens"] >= 3


def test_select_methods_and_gen_choices(runtime, hf, small_model_dir):
    state = choose.run(question="Is it raining?")
    choices = ["yes", "no", "maybe not"]
    assert all(state[name] in choices for name in ("plain", "as_gen", "greedy", "uncond"))
    plain, as_gen = state.get_meta_info("plain"), state.get_meta_info("as_gen")
    best = max(range(3), key=plain["normalized_prompt_logprobs"].__getitem__)
    assert state["plain"] == choices[best]
    assert set(as_gen) == set(plain)  # gen(choices=) is decided as a select, scored the same way
    assert sgl.compile(choose).to_json()["constraints"] == {}  # and no constraint is compiled for it
    uncond = state.get_meta_info("uncond")
    with torch.no_grad():  # each choice's tokens alone, no prompt: the first one counts as 0
        for ids, logprobs in zip([[t for _, t, _ in lp] for lp in uncond["input_token_logprobs"]],
                                 uncond["unconditional_token_logprobs"]):
            logp = torch.log_softmax(hf(torch.tensor([ids])).logits[0].float(), -1)
            assert logprobs[0][0] is None
            assert [v for v, _, _ in logprobs[1:]] == pytest.approx([logp[i - 1, ids[i]].item() for i in range(1, len(ids))], abs=1e-4)
    values = uncond["normalized_unconditional_prompt_logprobs"]
    assert state["uncond"] == choices[max(range(3), key=values.__getitem__)]


def test_run_keywords_are_defaults_of_every_gen(runtime):
    short = qa.run(question="Why?", max_new_tokens=3)
    assert short.get_meta_info("answer")["completion_tokens"] == 3
    greedy = qa.run(question="Why?", max_new_tokens=6)
    warm = qa.run(question="Why?", max_new_tokens=6, temperature=1.5, top_p=0.9)
    assert warm["answer"] != greedy["answer"]
    assert qa.run(question="Why?", max_new_tokens=6, temperature=1.5, top_p=0.9)["answer"] == warm["answer"]
    batch = qa.run_batch([{"question": "Why?"}, ["Why?"]], max_new_tokens=6, progress_bar=False, num_threads=4)
    assert [s["answer"] for s in batch] == [greedy["answer"]] * 2
    explicit = scored.run(question="Why?", max_new_tokens=2)  # the gen's own max_tokens=5 wins
    assert explicit.get_meta_info("answer")["completion_tokens"] == 5
    with pytest.raises(LanguageError, match="temperature must be >= 0"):
        qa.run(question="Why?", temperature=-1)


def test_bind_trace_and_cache(runtime):
    bound = qa.bind(question="Why?")
    assert bound.run(max_new_tokens=4)["answer"] == qa.run(question="Why?", max_new_tokens=4)["answer"]
    with pytest.raises(TypeError, match="no inputs"):
        qa.bind(topic="x")
    assert qa.trace(question="Why?").text() == "Q: Why?\nA:{gen:answer}"
    assert parallel_encoding.trace(question="Who?", **CONTEXTS).text().endswith("{branches}Now, please answer"
                                                                                   " the following question. Do not list options.\nQuestion: Who?\nASSISTANT:{gen:answer}")
    engine = runtime.engine
    before = engine.stats().prefill_tokens
    cached = parallel_encoding.cache()
    assert 0 < engine.stats().prefill_tokens - before <= cached
    before = engine.stats().prefill_tokens
    assert parallel_encoding.cache() == cached
    assert engine.stats().prefill_tokens - before == 1  # cached: only the last token is recomputed
    before = engine.stats().prefill_tokens
    assert qa.cache() == 0 and engine.stats().prefill_tokens == before  # "Q: ": too short, as in SGLang
    assert headed_64.cache() == 0  # SGLang's cache_program: only a prefix of len(prefix) > 64
    assert headed_65.cache() == len(engine.tokenizer.encode_run(HEAD_65, True))
