"""SGLang's `program.trace()` and `program.cache()`: a row's prompt without running it, and the
text every row starts with prefilled ahead of the rows.

lmc compiles ahead of time, so tracing is instantiating: the row's ops known before anything is
generated, gens and selects standing as placeholders, and the walk stopped where a dynamic
region waits for a generated value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lmc.plan.expr import Const
from lmc.plan.file import Plan
from lmc.plan.instantiate import GenOp, Instantiator, JoinOp, Op, RoleOp, SelectOp, TextOp
from lmc.plan.ir import ENTRY, Prefix, RoleBegin, RoleEnd, Text
from lmc.runtime.request import Request, SamplingParams
from lmc.runtime.tokenizer import role_texts

MIN_CACHED_CHARS = 64  # SGLang's cache_program: `if prefix and len(prefix) > 64`


@dataclass(frozen=True)
class Trace:
    """A traced row: its ops (`lmc.plan.instantiate`) and whether the walk got to the end."""

    ops: tuple[Op, ...]
    complete: bool
    history: tuple[Op, ...]  # the prompt ops of `s`

    def text(self) -> str:
        """The prompt of `s`, each gen or select as `{gen:name}` / `{select:name}`, text that
        waits on one as `{...}`."""
        parts = []
        for op in self.history:
            if isinstance(op, TextOp):
                parts.append(op.text if op.text is not None else "{...}")
            elif isinstance(op, GenOp):
                parts.append(f"{{gen:{op.name}}}")
            elif isinstance(op, SelectOp):
                parts.append(f"{{select:{op.name}}}")
            elif isinstance(op, RoleOp):
                parts.append(f"<{'' if op.begin else '/'}{op.role}>")
            elif isinstance(op, JoinOp):
                parts.append("{branches}")
        return "".join(parts)


def _runtime(backend: Any) -> Any:
    from lmc.runtime.api import default_backend

    return backend or default_backend()


def trace(plan: Plan, inputs: dict[str, Any], backend: Any = None) -> Trace:
    """Instantiate one row with the backend model's role texts (role markers without one)."""
    roles = role_texts(_runtime(backend).engine.tokenizer)[0] if backend is not None else None
    row = Instantiator(plan, roles).row(inputs, "trace")
    row.start()
    return Trace(tuple(row.ops), row.finished, tuple(row.history(0)))


def shared_prefix(plan: Plan, roles: dict[str, tuple[str, str]] | None) -> str:
    """The text every row starts with: the program's leading constant text and role markers
    (hoisted row prefixes included), up to the first node that depends on anything."""
    graph = plan.graph
    out: list[str] = []
    for node_id in graph.block(ENTRY, "body"):
        node = graph.node(node_id)
        pieces = node.pieces if isinstance(node, Prefix) and node.scope == "rows" else (node,)
        for piece in pieces:
            if isinstance(piece, Text) and isinstance(piece.value, Const) and isinstance(piece.value.value, str):
                out.append(piece.value.value)
            elif isinstance(piece, (RoleBegin, RoleEnd)) and roles is not None:
                before, after = roles.get(piece.role, ("", ""))
                out.append(before if isinstance(piece, RoleBegin) else after)
            else:
                return "".join(out)
    return "".join(out)


def cache_prefix(plan: Plan, backend: Any = None) -> int:
    """Prefill the shared prefix on the backend's engine (it stays in the radix cache, evictable,
    as SGLang's `cache_prefix` leaves it); the number of tokens, 0 when none was prefilled: no
    prefix, or one of at most MIN_CACHED_CHARS characters (SGLang's `cache_program` skips those:
    the rows' own prefills share them anyway)."""
    engine = _runtime(backend).engine
    text = shared_prefix(plan, role_texts(engine.tokenizer)[0])
    if len(text) <= MIN_CACHED_CHARS or not engine.reuses_prefixes:
        return 0
    ids = engine.tokenizer.encode_run(text, True)
    engine.submit(Request(ids, SamplingParams(max_tokens=0)))
    while engine.has_work():
        engine.step()
    return len(ids)
