"""precompile_constraints: every constant constraint is checked and built at compile time.

Guarantee: each gen whose constraint is known before the run (regex, dtype, json_schema,
grammar, choices) names an entry of `graph.meta["constraints"]`, keyed by a hash of its content;
identical constraints share one entry. Regular constraints are compiled now by
`lmc.grammars.compile_regex_dfa` (character and byte DFAs; the byte DFA is left in lmc.grammars'
disk cache under `cache_key`), so an unsupported pattern is a compile error at the gen's line
instead of a failed row, and the table records the regex and the automata sizes. Token-level
tables need the model's tokenizer: the executor builds them with `lmc.grammars.compile_constraint`
from the entry's kind and source. lmc.grammars is imported lazily; without it the entries keep the
content hash and the source only. CFG grammars were checked by lark when the gen was validated.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from lmc.plan.errors import CompileError
from lmc.plan.expr import Const
from lmc.plan.ir import Gen, Graph
from lmc.plan.language import CONSTRAINT_ARGS, GenCall, gen
from lmc.plan.options import CompileOptions


def precompile_constraints(graph: Graph, options: CompileOptions) -> Graph:
    """Build and record every constant constraint; give each gen its table key."""
    graph = graph.copy()
    table: dict[str, dict[str, Any]] = graph.meta.setdefault("constraints", {})
    for node_id, node in graph.nodes_of(Gen):
        assert isinstance(node, Gen)
        call = _static_call(node)
        if call is None or call.constraint() is None:
            continue
        kind, source = call.constraint()  # type: ignore[misc]
        key = constraint_key(kind, source)
        if key not in table:
            try:
                table[key] = describe_constraint(kind, source)
            except ValueError as exc:
                raise CompileError(f"this constraint cannot be compiled: {exc}", graph.location(node.span),
                                   "simplify the pattern (lmc.grammars supports Python re syntax without "
                                   "backreferences or lookaround)") from None
        graph.replace(node_id, replace(node, constraint=key))
    return graph


def constraint_key(kind: str, source: str) -> str:
    return hashlib.sha256(f"{kind}\n{source}".encode()).hexdigest()[:16]


def _static_call(node: Gen) -> GenCall | None:
    """The gen's arguments, when its constraint arguments are all constants."""
    args = dict(node.args)
    if not all(isinstance(args[k], Const) for k in CONSTRAINT_ARGS if k in args):
        return None
    known = {k: v.value for k, v in args.items() if isinstance(v, Const)}
    return gen("x", **known)


def describe_constraint(kind: str, source: str) -> dict[str, Any]:
    """The table entry: kind and source; with lmc.grammars, the regex, the DFA sizes and the key
    under which lmc.grammars cached the byte DFA (the executor's token tables start from it)."""
    entry: dict[str, Any] = {"kind": kind, "source": source, "regex": None, "dfa_states": None,
                             "dfa_transitions": None, "byte_dfa_states": None, "cache_key": None}
    if kind == "grammar":
        return entry  # context-free: lark builds its parser per gen at run time
    try:
        from lmc.grammars import compile_regex_dfa, constraint_regex
    except ImportError:
        return entry
    value: Any = json.loads(source) if kind == "choices" else source
    regex = constraint_regex(**{kind: value})
    info = compile_regex_dfa(regex)
    entry.update(regex=regex, dfa_states=info.num_states, dfa_transitions=info.num_transitions,
                 byte_dfa_states=info.num_byte_states, cache_key=info.key)
    return entry
