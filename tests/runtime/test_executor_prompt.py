"""Prompt ids from text runs and generated ids, checked against the tokenizer itself."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.plan.language import gen
from lmc.runtime.executor.prompt import StatePrompt, TokenCodec
from lmc.runtime.request import FinishReason, RequestOutput
from lmc.runtime.tokenizer import Tokenizer

WORDS = st.text(alphabet=st.sampled_from(list("ab c\n.é日")), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def codec(small_model_dir) -> TokenCodec:
    tokenizer = Tokenizer.from_dir(small_model_dir)
    return TokenCodec(tokenizer, frozenset({tokenizer.eos_token_id}))


def _output(ids: list[int], reason: FinishReason) -> RequestOutput:
    return RequestOutput("r", 1, ids, "", reason)


def test_a_run_of_texts_is_encoded_as_one_text_with_bos(codec):
    prompt = StatePrompt()
    prompt.text += "Question: what"
    prompt.text += " is it?"
    assert codec.commit(prompt) == codec.tokenizer.encode("Question: what is it?", add_bos=True)
    prompt.ids += [500, 600]
    prompt.text += " Then"
    assert codec.peek(prompt) == codec.tokenizer.encode("Question: what is it?", add_bos=True) + [500, 600] + \
        codec.tokenizer.encode_continuation(" Then")


@settings(max_examples=60, deadline=None)
@given(WORDS, WORDS, st.sampled_from(["\n", ".", "c "]))
def test_a_stopped_gen_keeps_exactly_the_value_tokens(codec, value, tail, stop):
    """Whatever the token boundaries, the kept ids spell the value and the stop string is gone."""
    ids = codec.tokenizer.encode_continuation(value + stop + tail)
    result = codec.gen_result(_output(ids, FinishReason.STOP), gen("x", stop=stop))
    expected = (value + stop + tail)[: (value + stop + tail).find(stop)]
    assert result.text == expected
    assert codec.decode(result.ids) == expected


def test_a_gen_that_ends_with_eos_drops_it(codec):
    ids = codec.tokenizer.encode_continuation(" Paris") + [codec.tokenizer.eos_token_id]
    result = codec.gen_result(_output(ids, FinishReason.EOS), gen("x"))
    assert result.text == " Paris"  # the generated leading space is part of the value
    assert result.ids == ids[:-1]


def test_a_gen_cut_by_max_tokens_keeps_every_id(codec):
    ids = codec.tokenizer.encode_continuation(" one two three")
    result = codec.gen_result(_output(ids, FinishReason.LENGTH), gen("x", stop="\n"))
    assert (result.text, result.ids) == (" one two three", ids)
