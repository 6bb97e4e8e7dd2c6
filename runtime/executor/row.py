"""One row as coroutines: every state of its RowProgram walks its own ops.

A state coroutine appends text to its prompt, yields engine requests for a gen or a select and is
resumed with their outputs, pins hoisted prefixes and prefetches known prompts. A fork's branches
are sibling coroutines whose prompts start as a copy of the parent's at the fork point (same token
ids, so the engine's radix cache shares the parent's KV without being told). Reading a branch's
value is an implicit join: the text that reads it waits until it is recorded. When a recorded
value lets a dynamic region go on, the RowProgram emits more ops and the coroutines of the states
concerned walk on; new forks, and new states of their own (a sub-program called without a
state), start new coroutines. A host call is ready (`ready_calls`) as soon
as the values it reads are recorded: at `begin` for calls on inputs and constants, else at the
`record` that completes its arguments; the driver runs it on its call pool (`host_calls.py`)
and records its result like a gen's.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

from lmc.plan.choices import METHODS, decide, mean, scores
from lmc.plan.errors import RowError
from lmc.plan.instantiate import (
    CallOp,
    ForkOp,
    GenOp,
    ImageOp,
    JoinOp,
    Op,
    RoleOp,
    RowProgram,
    SelectOp,
    StateOp,
    TextOp,
)
from lmc.plan.instantiate.row_program import variables_output
from lmc.plan.ir import Prefix
from lmc.plan.language import GenCall, LogprobArgs
from lmc.runtime.chat_template import render_conversation
from lmc.runtime.executor.awaits import BLOCK, Await, Pin, Submit
from lmc.runtime.executor.constraints import ConstraintCompiler, accepts
from lmc.runtime.executor.host_calls import HostFunctions
from lmc.runtime.executor.prompt import StatePrompt, TokenCodec
from lmc.runtime.request import ConcatKV, FinishReason, Request, RequestOutput, SamplingParams

Coroutine = Generator[Await, Any, None]


@dataclass(frozen=True)
class RowEnv:
    """What every row of a run shares: the tokenizer, the constraints, the sampling seed.

    `cache`: the engine reuses KV across requests. Without it, pins, prefetches and a select's
    prompt prefill would only compute tokens nobody reads again, so they are left out.
    `concat_kv`: the engine takes ConcatKV requests; without it a concate_and_append join
    appends the branches' tokens as ordinary prompt tokens (SGLang's text fallback)."""

    codec: TokenCodec
    constraints: ConstraintCompiler
    seed: int = 0
    roles_error: str | None = None  # why the model has no role texts, if it has none
    cache: bool = True
    token_sink: Callable[[str, int, str, tuple[str, ...], int], None] | None = None  # (rid, state, gen, stops, token)
    host: HostFunctions | None = None  # the plan's host functions (None: it has no calls)
    concat_kv: bool = False
    model: str = "the model"  # named by a row that needs what this model cannot do (an image)
    text_sink: Callable[[Any, str], None] | None = None  # (row id, the text of `s` so far)


class RowRun:
    """A row in flight: its RowProgram, each state's prompt, and what it reports."""

    def __init__(self, program: RowProgram, env: RowEnv) -> None:
        self.program = program
        self.env = env
        self.prompts: dict[int, StatePrompt] = {0: env.codec.new_prompt()}
        self.fork_points: dict[tuple[int, int], list[int]] = {}
        self.spawned: list[Coroutine] = []
        self.flags: list[dict[str, Any]] = []
        self.generated_tokens = 0
        self.version = 0  # bumped on every change a blocked coroutine may be waiting for
        self.node: str | None = None  # the plan node being run, for error messages
        self.modeled: set[int] = set()
        self.reached: dict[int, int] = {}  # how far each state's coroutine has walked its history
        self.meta_info: dict[int, Any] = {}  # gen/select op id -> what s.get_meta_info(name) reads
        self.held: list[str] = []  # pinned branch KV of concatenations, released when the row ends
        self.calls: list[CallOp] = []  # host calls waiting for their arguments
        self.ready_calls: list[CallOp] = []  # host calls whose arguments exist, for the driver to run

    def begin(self) -> None:
        """Start the walk; the coroutines to run are in `spawned`.

        `modeled` gets the gens and selects whose prompt is known now (no text waiting on a
        generated value before them): the requests the cache model (lmc.plan) predicts, so the
        measured reuse of exactly those can be set beside the prediction."""
        self.spawned.append(state_coroutine(self, 0))
        ops = self.program.start()
        for op in ops:
            if isinstance(op, (GenOp, SelectOp)):
                before = self.program.history(op.state)
                before = before[: before.index(op)]
                if not any(isinstance(o, TextOp) and o.text is None for o in before):
                    self.modeled.add(op.id)
        self._accept(ops)
        self._run_calls()

    def record(self, op: GenOp | SelectOp | CallOp, value: Any) -> None:
        self._accept(self.program.record(op.id, value))
        self._run_calls()
        self.version += 1

    def _accept(self, ops: list[Op]) -> None:
        for op in ops:
            if isinstance(op, ForkOp):
                for child in op.children:
                    at = len(self.program.base[child])
                    self.fork_points.setdefault((op.state, at), []).append(child)
                    self.spawned.append(state_coroutine(self, child))
            elif isinstance(op, StateOp):  # a state of its own: an empty prompt, nothing shared
                self.prompts[op.state] = self.env.codec.new_prompt()
                self.spawned.append(state_coroutine(self, op.state))
            elif isinstance(op, CallOp):
                self.calls.append(op)
        self.version += 1

    def _run_calls(self) -> None:
        """Hand the driver, in op order, every waiting call whose arguments exist (it runs them
        off this thread and records each result, which may emit more calls)."""
        for call in [c for c in self.calls if self.ready(c.deps)]:
            self.calls.remove(call)
            if self.env.host is None:
                raise RowError("this plan has host calls, but the executor was given no host functions",
                               self.program.row_id, call.node)
            self.ready_calls.append(call)

    def modeled_as(self, op: Op, role: str) -> str | None:
        return role if op.id in self.modeled else None

    def snapshot(self, state: int, position: int, prompt: StatePrompt) -> None:
        """Give the branches forked at `position` of `state` their copy of its prompt. Branches
        that a concatenation joins start from its committed ids, so each one's tokens begin with
        the parent's exactly (SGLang commits at a fork too)."""
        children = self.fork_points.pop((state, position), [])
        if not children:
            return
        if any(isinstance(op, JoinOp) and op.concat and set(op.children) & set(children) for op in self.program.ops):
            self.env.codec.commit(prompt)
        for child in children:
            self.prompts[child] = prompt.copy()
            self.version += 1

    def meta_infos(self) -> dict[str, Any]:
        """`s.get_meta_info(name)` for every gen and select, named as the outputs are."""
        return variables_output(self.program, self.meta_info)

    def ready(self, deps: tuple[int, ...]) -> bool:
        return all(d in self.program.values for d in deps)

    def would_wait(self, op: Op | None) -> bool:
        """True when a state at `op` cannot go on yet (a residual text, or a walk that waits)."""
        if op is None:
            return not self.program.finished
        return isinstance(op, TextOp) and op.text is None and not self.ready(op.deps)

    def keeps(self, prefix: str) -> bool:
        """A prefix of every row stays pinned for the whole run; a fork's only for its row."""
        node = self.program.blocks.node(prefix)
        return isinstance(node, Prefix) and node.scope == "rows"

    def seed(self, op: Op, k: int = 0) -> int:
        """A per-request seed from the row, op and sample: sampled text does not depend on
        batching (`k` numbers the n samples of one gen)."""
        return zlib.crc32(f"{self.env.seed}/{self.program.row_id}/{op.id}{f'/{k}' if k else ''}".encode())

    def final_text(self) -> str:
        """The text of `s` (the tokenizer's start-of-text space is not part of it)."""
        prompt = self.prompts[0]
        if prompt.conversation is not None:
            return render_conversation(self.env.codec.tokenizer.hf, prompt.conversation.messages, None, generation=False)
        return self.env.codec.tokenizer.decode(prompt.ids) + prompt.text


def state_coroutine(row: RowRun, state: int) -> Coroutine:
    """Walk `state`'s ops in order, from its fork point to the end of the row's walk."""
    while state not in row.prompts:
        yield BLOCK
    prompt = row.prompts[state]
    program = row.program
    position = len(program.base[state])
    row.reached[state] = position
    while True:
        row.snapshot(state, position, prompt)
        history = program.history(state)
        if position == len(history):
            if program.finished:
                return
            yield BLOCK
            continue
        op = history[position]
        following = history[position + 1] if position + 1 < len(history) else None
        row.node = op.node
        if isinstance(op, TextOp):
            yield from at_node(row, op.node, run_text(row, prompt, op, following))
        elif isinstance(op, GenOp):
            yield from at_node(row, op.node, run_gen(row, prompt, op))
        elif isinstance(op, SelectOp):
            yield from at_node(row, op.node, run_select(row, prompt, op))
        elif isinstance(op, JoinOp):
            yield from at_node(row, op.node, run_concat(row, prompt, op))
        elif isinstance(op, ImageOp):
            what = (f"lmc.image({op.path!r}) needs a vision model" if op.frames is None
                    else f"lmc.video({op.path!r}, {op.frames}) needs a video model")
            raise RowError(f"{what}, and {row.env.model} is a text model (lmc runs text models only)",
                           program.row_id, op.node)
        elif isinstance(op, RoleOp):
            if prompt.conversation is None:
                raise RowError(f"cannot render the {op.role} role: {row.env.roles_error}", program.row_id, op.node)
            _on_prompt(row, op, prompt.role, op.role, op.begin)
        position += 1
        row.reached[state] = position
        row.version += 1
        if state == 0 and row.env.text_sink is not None:
            row.env.text_sink(program.row_id, row.final_text())


def at_node(row: RowRun, node: str, co: Coroutine) -> Coroutine:
    """Run `co` with `row.node` naming its plan node whenever it runs (several coroutines of
    the row take turns, and an error message must name the node that failed)."""
    value = None
    while True:
        row.node = node
        try:
            step = co.send(value)
        except StopIteration:
            return
        value = yield step


def _on_prompt(row: RowRun, op: Op, change: Callable[..., None], *args: Any) -> None:
    """Apply a change to a prompt; a conversation that cannot take it fails the row."""
    try:
        change(*args)
    except ValueError as exc:
        raise RowError(str(exc), row.program.row_id, op.node) from None


def run_text(row: RowRun, prompt: StatePrompt, op: TextOp, following: Op | None) -> Coroutine:
    while op.text is None and not row.ready(op.deps):
        yield BLOCK
    _on_prompt(row, op, prompt.append, row.program.text(op))
    codec = row.env.codec
    if not row.env.cache:
        return
    if op.prefix is not None and getattr(following, "prefix", None) != op.prefix:
        yield Pin(tuple(codec.peek(prompt)), op.prefix, row.keeps(op.prefix))
    if op.prefetch and row.would_wait(following):
        request = Request(codec.peek(prompt), SamplingParams(max_tokens=0), concat=prompt.concat)
        yield Submit((request,), op.node, "prefetch", wait=False)


def run_gen(row: RowRun, prompt: StatePrompt, op: GenOp) -> Coroutine:
    """One request, or n of them (SGLang's `n`: the value is the list of completions, the state
    goes on with the first). `max_tokens=0` scores the prompt and generates nothing (SGLang's
    prefill-only request): the value is "", and with return_logprob the meta info's
    `output_top_logprobs` holds the next token's top-k, taken from one greedy token that is
    then dropped."""
    codec = row.env.codec
    call = op.call
    scoring = call.sampling.max_tokens == 0
    constraint = None if scoring else row.env.constraints.get(call, row.program.row_id, op.node)
    source = row.env.constraints.source(call) if constraint is not None else None
    sink = row.env.token_sink
    on_token = None if sink is None or scoring else (
        lambda rid, token: sink(rid, op.state, op.name, call.sampling.stop, token))
    base = codec.commit(prompt)
    asked = call.logprobs
    start = None if asked is None or asked.start is None else min(max(asked.start, 1), len(base))
    probe = SamplingParams(max_tokens=0 if asked is None else 1)
    requests = tuple(
        Request(list(base), probe if scoring else sampling(call, row.seed(op, k)), constraint=constraint,
                constraint_source=source, on_token=on_token if k == 0 else None,
                logprobs=None if asked is None else asked.top, logprob_start=start, concat=prompt.concat)
        for k in range(1 if scoring else call.n))
    outputs: list[RequestOutput] = yield Submit(requests, op.node, "gen", modeled=row.modeled_as(op, "request"))
    if scoring:
        info = gen_meta(codec, outputs[0], asked, base, generated=False)
        row.meta_info[op.id] = info if call.n == 1 else [info] * call.n
        row.record(op, "" if call.n == 1 else [""] * call.n)
        return
    results = [codec.gen_result(output, call) for output in outputs]
    prompt.extend(results[0].ids, results[0].text)
    for output in outputs:
        row.generated_tokens += len(output.output_ids)
        if output.finish_reason is FinishReason.LENGTH:
            satisfied = constraint is None or accepts(constraint, output.output_ids)
            row.flags.append({
                "type": "max_tokens" if satisfied else "constraint_unsatisfied",
                "name": op.name,
                "node": op.node,
                "max_tokens": call.sampling.max_tokens,
            })
    infos = [gen_meta(codec, output, asked, base) for output in outputs]
    row.meta_info[op.id] = infos[0] if call.n == 1 else infos
    row.record(op, results[0].text if call.n == 1 else [r.text for r in results])


def gen_meta(codec: TokenCodec, output: RequestOutput, asked: LogprobArgs | None, prompt: list[int],
             generated: bool = True) -> dict[str, Any]:
    """What SGLang's `s.get_meta_info(name)` holds for a gen: token counts, the finish reason,
    and with return_logprob (logprob, token id, text or None) triples as SGLang spells them.
    Not `generated` (max_tokens=0): no completion tokens, a length finish at 0, and one top-k
    entry, the next token's (SGLang lists a placeholder token id 0 in output_token_logprobs;
    lmc lists nothing there)."""
    reason = output.finish_reason
    output_ids = output.output_ids if generated else []
    info: dict[str, Any] = {
        "prompt_tokens": output.prompt_len,
        "completion_tokens": len(output_ids),
        "cached_tokens": output.cached_tokens,
        "finish_reason": {"type": "length", "length": len(output_ids)} if reason is FinishReason.LENGTH or not generated
        else {"type": "abort"} if reason is FinishReason.ABORT
        else {"type": "stop", "matched": output_ids[-1] if output_ids else None},
    }
    if asked is None:
        return info

    def triple(value: float | None, token: int) -> tuple[float | None, int, str | None]:
        return (value, token, codec.decode([token]) if asked.text else None)

    tops = [[triple(v, t) for t, v in pairs] for pairs in output.output_top_logprobs or []]
    info["output_token_logprobs"] = [triple(v, t) for v, t in zip(output.output_logprobs or [], output_ids)]
    info["output_top_logprobs"] = tops if generated else tops[:1] if asked.top else []
    if asked.start is not None:
        first = [triple(None, prompt[0])] if asked.start == 0 else []
        scored = prompt[max(asked.start, 1):]
        info["input_token_logprobs"] = first + [triple(v, t) for v, t in zip(output.prompt_logprobs or [], scored)]
    return info


def run_select(row: RowRun, prompt: StatePrompt, op: SelectOp) -> Coroutine:
    """Score every choice in one batch of prefill-only requests over the shared prompt, then
    decide with the op's choices method (lmc.plan.choices) and temperature.

    The prompt is prefilled first, alone: choice requests that arrive together would each
    compute the part of it that is not cached yet (the engine only defers long shared runs).
    unconditional_likelihood_normalized also scores each choice's tokens with no prompt at all."""
    codec = row.env.codec
    base = codec.commit(prompt)
    choices = [codec.continuation(c) for c in op.choices]
    score_only = SamplingParams(max_tokens=0)
    if len(choices) > 1 and row.env.cache:
        yield Submit((Request(base, score_only, concat=prompt.concat),), op.node, "select prompt",
                     modeled=row.modeled_as(op, "helper"))
    requests = tuple(Request(base + ids, score_only, logprob_start=len(base), concat=prompt.concat) for ids in choices)
    outputs: list[RequestOutput] = yield Submit(requests, op.node, "select", modeled=row.modeled_as(op, "request"))
    logprobs = [list(o.prompt_logprobs or []) for o in outputs]
    unconditional = None
    if METHODS[op.method].unconditional:
        alone = tuple(Request(ids, score_only, logprob_start=1) for ids in choices)
        plain: list[RequestOutput] = yield Submit(alone, op.node, "select unconditional")
        unconditional = [[0.0, *(o.prompt_logprobs or [])] for o in plain]
    values = scores(op.method, logprobs, unconditional)
    best = decide(values, op.temperature, row.seed(op))
    info: dict[str, Any] = {
        "normalized_prompt_logprobs": [mean(lp) for lp in logprobs],
        "input_token_logprobs": [[(v, t, None) for v, t in zip(lp, ids)] for lp, ids in zip(logprobs, choices)],
        "output_token_logprobs": [[] for _ in choices],
    }
    if unconditional is not None:
        info["unconditional_token_logprobs"] = [[(None if k == 0 else v, t, None) for k, (v, t) in enumerate(zip(u, ids))]
                                                for u, ids in zip(unconditional, choices)]
        info["normalized_unconditional_prompt_logprobs"] = values
    row.meta_info[op.id] = info
    prompt.extend(choices[best], op.choices[best])
    row.record(op, op.choices[best])


def run_concat(row: RowRun, prompt: StatePrompt, op: JoinOp) -> Coroutine:
    """SGLang's join(mode="concate_and_append"): once every branch has walked all its ops, the
    parent goes on with the branches' tokens since the fork appended in order. Their KV is each
    branch's own, prefilled in one batch and pinned until the row ends, and every later request
    of the parent names it (ConcatKV), so it is reused side by side, never recomputed."""
    program = row.program
    while not all(row.reached.get(c) == len(program.history(c)) for c in op.children):
        yield BLOCK
    codec = row.env.codec
    if prompt.conversation is not None:
        raise RowError("join(mode=\"concate_and_append\") needs a chat template lmc can cut into role texts",
                       program.row_id, op.node)
    if prompt.concat is not None:
        raise RowError("this state was already joined with mode=\"concate_and_append\"; lmc concatenates a state once",
                       program.row_id, op.node)
    base = codec.commit(prompt)
    paths = [codec.commit(row.prompts[c]) for c in op.children]
    if any(path[: len(base)] != base for path in paths):
        raise RowError("join(mode=\"concate_and_append\") needs the parent unchanged since the fork "
                       "(as SGLang does); append to the parent after the join", program.row_id, op.node)
    branches = [path[len(base):] for path in paths]
    if row.env.concat_kv:
        pins = tuple(Request(path, SamplingParams(max_tokens=0), pin=True) for path in paths)
        outputs: list[RequestOutput] = yield Submit(pins, op.node, "join branches")
        row.held.extend(o.rid for o in outputs)
        prompt.concat = ConcatKV(len(base), tuple(len(b) for b in branches))
    prompt.ids = base + [t for b in branches for t in b]


def sampling(call: GenCall, seed: int) -> SamplingParams:
    """The gen's own record, seeded when it samples."""
    return replace(call.sampling, seed=seed if call.sampling.temperature > 0 else None)
