"""Running a plan over rows on an engine: the one entry point `lmc run` and the Python API share.

It builds what every row shares (tokenizer codec, constraint compiler, the model's role texts),
puts the rows in cache-friendly order when the plan asks for it (its `order` pass ran: a
depth-first walk of the rows' prefix tree, `lmc.plan.order`, computed here for the rows given,
with the model's tokenizer), and drives them. Ordering starts every row's program; the first
`KEEP_STARTED` in run order are handed to the driver as they are, so a row is interpreted once
(memory stays bounded on long inputs: later rows are started again when their turn comes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmc.plan.cache_model import Prediction, predict
from lmc.plan.file import Plan
from lmc.plan.instantiate import Instantiator, RowProgram
from lmc.plan.order import order_programs
from lmc.runtime.executor.constraints import ConstraintCompiler
from lmc.runtime.executor.driver import Driver
from lmc.runtime.executor.engine_like import EngineLike
from lmc.runtime.executor.heap import frozen_heap
from lmc.runtime.executor.host_calls import HostFunctions
from lmc.runtime.executor.inputs import RowJob
from lmc.runtime.executor.metrics import RunMetrics
from lmc.runtime.executor.prompt import TokenCodec
from lmc.runtime.executor.results import RowResult
from lmc.runtime.executor.row import RowEnv
from lmc.runtime.tokenizer import Tokenizer, role_texts

log = logging.getLogger(__name__)
KEEP_STARTED = 4096


@dataclass(frozen=True)
class RunOptions:
    """Executor knobs. `max_active_rows` bounds the rows in flight (and so the KV they hold);
    `seed` seeds sampled gens per row and op; `keep_text` keeps each row's final prompt text;
    `token_sink(rid, state, name, stop, token_id)` gets every gen's tokens as they arrive, and
    `text_sink(row_id, text)` the text of `s` so far each time one of its ops is done (streaming).
    `max_loop_iterations` overrides the plan's bound on dynamic `while` loops. `gen_defaults`
    are `lmc.gen` arguments for every gen that does not give them itself (the sampling keywords
    of `program.run(...)`, as SGLang's `run` applies them). `host_threads` threads run the
    host calls, so a slow tool holds up only the rows that wait for it."""

    max_active_rows: int = 128
    seed: int = 0
    keep_text: bool = False
    token_sink: Callable[[str, int, str, tuple[str, ...], int], None] | None = None
    text_sink: Callable[[Any, str], None] | None = None
    max_loop_iterations: int | None = None
    gen_defaults: tuple[tuple[str, Any], ...] = ()
    host_threads: int = 8


def in_plan_order(plan: Plan, jobs: list[RowJob], tokenizer: Tokenizer,
                  instantiator: Instantiator) -> tuple[list[RowJob], dict[int, RowProgram]]:
    """The jobs in cache-friendly order (`lmc.plan.order`, on these rows with this tokenizer and
    the model's role texts) when the plan asks for it (its `order` pass ran), else as given; and
    the programs started for it, by job index (the first KEEP_STARTED in that order)."""
    if "order" not in plan.graph.meta.get("passes", []):
        return list(jobs), {}
    runnable = [j for j in jobs if j.fields is not None]
    rest = [j for j in jobs if j.fields is None]
    programs = [_started(instantiator, j) for j in runnable]
    order = order_programs(programs, tokenizer.encode_run)
    ordered = [runnable[i] for i in order]
    keep = {runnable[i].index: p for i in order[:KEEP_STARTED] if (p := programs[i]) is not None}
    return rest + ordered, keep


def _started(instantiator: Instantiator, job: RowJob) -> RowProgram | None:
    """The row's program after `start()`, or None where that fails (the driver reports why)."""
    try:
        program = instantiator.row(job.fields or {}, job.id)
        program.start()
    except Exception:  # noqa: BLE001 - the driver instantiates it again and reports the error
        return None
    return program


def predicted_reuse(plan: Plan, jobs: list[RowJob], tokenizer: Tokenizer) -> Prediction:
    """The cache model (lmc.plan) for these rows with this model's tokenizer."""
    roles, _ = role_texts(tokenizer)
    rows = [j.fields for j in jobs if j.fields is not None]
    return predict(plan.graph, rows, tokenizer.encode_run, roles, "model tokenizer")


def constraint_compiler(engine: EngineLike) -> ConstraintCompiler:
    """The constraint compiler `execute` would make for this engine's tokenizer."""
    tokenizer = engine.tokenizer
    return ConstraintCompiler(tokenizer.token_bytes(), tokenizer.eos_token_id, engine.vocab_size)


def execute(
    engine: EngineLike,
    plan: Plan,
    jobs: list[RowJob],
    on_result: Callable[[RowResult], None],
    options: RunOptions = RunOptions(),
    on_step: Callable[[], None] | None = None,
    metrics: RunMetrics | None = None,
    constraints: ConstraintCompiler | None = None,
) -> RunMetrics:
    """Run `jobs` through `plan` on `engine` (an lmc Engine or one that acts like it); each
    row's result goes to `on_result` as soon as it finishes. `metrics` (filled as it runs) stays
    readable when the run is interrupted; `constraints` is a compiler built ahead for this engine
    (`constraint_compiler`), else one is made here."""
    tokenizer = engine.tokenizer
    roles, roles_error = role_texts(tokenizer)
    whole = roles_error is not None and tokenizer.has_chat_template
    if whole:
        log.warning("the model's chat template cannot be cut into role texts (%s), so each call renders its "
                    "whole conversation with the template: correct, with less prefix sharing", roles_error)
    elif roles_error is not None:
        log.warning("the model has no chat template, so rows that use system/user/assistant will fail: %s",
                    roles_error)
    codec = TokenCodec(tokenizer, frozenset(engine.eos_ids), whole_conversations=whole)
    constraints = constraints or constraint_compiler(engine)
    instantiator = Instantiator(plan, roles, options.max_loop_iterations, dict(options.gen_defaults))  # checks the sources first
    host = HostFunctions.for_graph(plan.graph) if plan.has_host_calls else None
    model = getattr(getattr(engine, "config", None), "model", None) or type(engine).__name__
    # an engine without `concatenates_kv` (an API backend, a baseline) cannot take ConcatKV requests
    env = RowEnv(codec, constraints, options.seed, roles_error, engine.reuses_prefixes, options.token_sink, host,
                 bool(getattr(engine, "concatenates_kv", False)), f"the model {model!r}", options.text_sink)
    driver = Driver(engine, instantiator, env, on_result, options.max_active_rows, options.keep_text, on_step,
                    metrics, options.host_threads)
    with frozen_heap():
        ordered, started = in_plan_order(plan, jobs, tokenizer, instantiator)
        return driver.run(ordered, started)
