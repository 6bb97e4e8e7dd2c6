"""SGLang's choices methods (`lmc.plan.choices`) on hand-worked logprobs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmc.plan.choices import decide, greedy_ranks, scores


def test_token_length_normalized_is_the_mean_logprob():
    # "a b" has mean -1.5, "c" has -1.0: the shorter wins although its total is not the largest
    assert scores("token_length_normalized", [[-1.0, -2.0], [-1.0]]) == [-1.5, -1.0]
    assert decide(scores("token_length_normalized", [[-1.0, -2.0], [-1.0]])) == 1


def test_greedy_token_selection_walks_positions_and_pads_with_the_mean():
    # position 0: choices 0 and 1 tie at -0.5 (2 drops); position 1: choice 1's padding is its
    # mean (-0.5) and beats choice 0's -3.0, so choice 1 wins although it is shorter
    logprobs = [[-0.5, -3.0], [-0.5], [-2.0, -0.1]]
    assert greedy_ranks(logprobs) == [0.0, 1.0, 0.0]
    assert decide(scores("greedy_token_selection", logprobs)) == 1


def test_unconditional_likelihood_normalized_subtracts_the_context_free_logprobs():
    cond = [[-2.0, -1.0], [-3.0, -0.5]]
    uncond = [[0.0, -4.0], [0.0, -0.5]]  # the first unconditional token counts 0 whatever it holds
    assert scores("unconditional_likelihood_normalized", cond, uncond) == [(-2.0 + 3.0) / 2, (-3.0 + 0.0) / 2]
    assert scores("unconditional_likelihood_normalized", cond, [[-9.0, -4.0], [-9.0, -0.5]]) == [0.5, -1.5]
    with pytest.raises(ValueError, match="needs the unconditional"):
        scores("unconditional_likelihood_normalized", cond)


def test_unknown_methods_are_named():
    with pytest.raises(ValueError, match="unknown choices method 'best'"):
        scores("best", [[-1.0]])


@given(st.lists(st.floats(-20, 0), min_size=2, max_size=6), st.floats(0.05, 5), st.integers(0, 2**31))
def test_sampling_picks_by_softmax_and_is_seeded(values, temperature, seed):
    pick = decide(values, temperature, seed)
    assert decide(values, temperature, seed) == pick and 0 <= pick < len(values)
    top = max(values)
    if all(math.exp((v - top) / temperature) < 1e-12 for i, v in enumerate(values) if v != top):
        assert values[pick] == top  # the others have no mass left


@given(st.lists(st.floats(-20, 0), min_size=1, max_size=6))
def test_temperature_zero_keeps_the_first_best(values):
    assert decide(values) == values.index(max(values))
