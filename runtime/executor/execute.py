"""Running a plan over rows on an engine: the one entry point `lmc run` and the Python API share.

It builds what every row shares (tokenizer codec, constraint compiler, the model's role texts),
puts the rows in the plan's order (the `order` pass: a depth-first walk of the rows' prefix tree,
recomputed here for the rows actually given, with the model's own tokenizer), and drives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmc.compiler.cache_model import Prediction, predict
from lmc.compiler.instantiate import Instantiator
from lmc.compiler.passes.order import row_order
from lmc.compiler.plan import Plan
from lmc.runtime.executor.constraints import ConstraintCompiler
from lmc.runtime.executor.driver import Driver, EngineLike
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.prompt import TokenCodec
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.row import RowEnv
from lmc.runtime.tokenizer import Tokenizer


@dataclass(frozen=True)
class RunOptions:
    """Executor knobs. `max_active_rows` bounds the rows in flight (and so the KV they hold);
    `seed` seeds sampled gens per row and op; `keep_text` keeps each row's final prompt text;
    `max_loop_iterations` overrides the plan's bound on dynamic `while` loops."""

    max_active_rows: int = 128
    seed: int = 0
    keep_text: bool = False
    max_loop_iterations: int | None = None


def role_texts(tokenizer: Tokenizer) -> tuple[dict[str, tuple[str, str]] | None, str | None]:
    """The model's text before/after each role's content, or None and the reason it has none."""
    try:
        roles = tokenizer.roles
    except ValueError as exc:
        return None, str(exc)
    return {role: (p.prefix, p.suffix) for role, p in roles.pieces.items()}, None


def tokenize_fn(tokenizer: Tokenizer) -> Callable[[str, bool], list[int]]:
    """The compiler's tokenize hook, encoding runs exactly as the executor does."""

    def tokenize(text: str, at_start: bool) -> list[int]:
        if at_start:
            return tokenizer.encode(text, add_bos=tokenizer.bos_token_id is not None)
        return tokenizer.encode_continuation(text)

    return tokenize


def in_plan_order(plan: Plan, jobs: list[RowJob], tokenizer: Tokenizer) -> list[RowJob]:
    """The jobs in the order the plan's `order` pass wants (unchanged when it is off)."""
    if "order" not in plan.graph.meta.get("passes", []):
        return list(jobs)
    runnable = [j for j in jobs if j.fields is not None]
    rest = [j for j in jobs if j.fields is None]
    order = row_order(plan.graph, [j.fields for j in runnable], tokenize_fn(tokenizer)).rows
    return rest + [runnable[i] for i in order]


def predicted_reuse(plan: Plan, jobs: list[RowJob], tokenizer: Tokenizer) -> Prediction:
    """The compiler's cache model for these rows with this model's tokenizer."""
    roles, _ = role_texts(tokenizer)
    rows = [j.fields for j in jobs if j.fields is not None]
    return predict(plan.graph, rows, tokenize_fn(tokenizer), roles, "model tokenizer")


def execute(
    engine: Any,
    plan: Plan,
    jobs: list[RowJob],
    on_result: Callable[[RowResult], None],
    options: RunOptions = RunOptions(),
    on_step: Callable[[], None] | None = None,
    metrics: RunMetrics | None = None,
) -> RunMetrics:
    """Run `jobs` through `plan` on `engine` (an lmc Engine or one that acts like it); each
    row's result goes to `on_result` as soon as it finishes. `metrics` (filled as it runs) stays
    readable when the run is interrupted."""
    tokenizer: Tokenizer = engine.tokenizer
    engine_like: EngineLike = engine
    roles, roles_error = role_texts(tokenizer)
    codec = TokenCodec(tokenizer, frozenset(engine.eos_ids))
    constraints = ConstraintCompiler(codec.table, tokenizer.eos_token_id, engine.vocab_size)
    config = getattr(engine, "config", None)
    env = RowEnv(codec, constraints, options.seed, roles_error, bool(getattr(config, "enable_radix_cache", False)))
    instantiator = Instantiator(plan, roles, options.max_loop_iterations)
    driver = Driver(engine_like, instantiator, env, on_result, options.max_active_rows, options.keep_text, on_step,
                    metrics)
    return driver.run(in_plan_order(plan, jobs, tokenizer))
