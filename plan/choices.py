"""How `select` decides among its choices: SGLang's three choices methods, on token logprobs.

Each choice is scored by the log-probabilities of its own tokens given the prompt (`logprobs`,
one list per choice). A method turns those lists into one score per choice; the choice with the
best score wins (ties: the first), or one is sampled from softmax(score / temperature).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ChoicesMethod:
    """A named choices method (`lmc.token_length_normalized`, ...): plain data, so a plan stores
    it by name. `unconditional`: it also needs each choice's logprobs without the prompt."""

    name: str

    @property
    def unconditional(self) -> bool:
        return self.name == "unconditional_likelihood_normalized"


token_length_normalized = ChoicesMethod("token_length_normalized")  # SGLang's default
greedy_token_selection = ChoicesMethod("greedy_token_selection")
unconditional_likelihood_normalized = ChoicesMethod("unconditional_likelihood_normalized")
METHODS = {m.name: m for m in (token_length_normalized, greedy_token_selection, unconditional_likelihood_normalized)}


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def scores(method: str, logprobs: list[list[float]], unconditional: list[list[float]] | None = None) -> list[float]:
    """One score per choice; higher is better.

    - token_length_normalized: the mean logprob of the choice's tokens.
    - unconditional_likelihood_normalized: the mean of (conditional - unconditional) logprob per
      token; the first unconditional token has no context and counts as 0 (as in SGLang).
    - greedy_token_selection: not a score but a walk (see `greedy_ranks`); its scores are ranks.
    """
    if method == "token_length_normalized":
        return [mean(lp) for lp in logprobs]
    if method == "unconditional_likelihood_normalized":
        if unconditional is None:
            raise ValueError("unconditional_likelihood_normalized needs the unconditional logprobs")
        return [mean([c - (u if k else 0.0) for k, (c, u) in enumerate(zip(cond, unc))])
                for cond, unc in zip(logprobs, unconditional)]
    if method == "greedy_token_selection":
        return greedy_ranks(logprobs)
    raise ValueError(f"unknown choices method {method!r} (known: {', '.join(METHODS)})")


def greedy_ranks(logprobs: list[list[float]]) -> list[float]:
    """SGLang's greedy token selection as scores: walk the token positions, keeping the choices
    whose logprob at that position is the best among those kept; a choice shorter than the
    walk is extended with its own mean logprob. The survivor gets 1, the others 0 (the first
    survivor when several tie to the end)."""
    width = max(len(lp) for lp in logprobs)
    matrix = [lp + [mean(lp)] * (width - len(lp)) for lp in logprobs]
    remaining = list(range(len(logprobs)))
    for j in range(width):
        best = max(matrix[i][j] for i in remaining)
        remaining = [i for i in remaining if matrix[i][j] == best]
        if len(remaining) == 1:
            break
    return [1.0 if i == remaining[0] else 0.0 for i in range(len(logprobs))]


def decide(values: list[float], temperature: float = 0.0, seed: int | None = None) -> int:
    """The index of the chosen choice: the best score at temperature 0 (the first of equals),
    else a draw from softmax(score / temperature) seeded by `seed`."""
    if temperature <= 0:
        return max(range(len(values)), key=values.__getitem__)
    top = max(values)
    weights = [math.exp((v - top) / temperature) for v in values]
    return random.Random(seed).choices(range(len(values)), weights=weights)[0]
