"""What a radix cache can save on a data set: the token prefix tree of all row instances.

Every gen/select of every row is a request whose prompt is its state's history. Requests whose
prompt is known before the run (no text waiting on a generated value, no dynamic region not yet
expanded) are tokenized; a generated value stands for as many tokens as it can have (`max_tokens`,
or fewer when a regular constraint bounds its length: a token covers at least one character),
unique to its row and op (shared by the forks made after it), a select's result for its longest
choice. Inserting all
prompts (and gen outputs) into one prefix tree gives the analytical maximum reuse: a prompt token
already in the tree is a cache hit. That is the prediction `lmc explain --inputs` prints and the
executor's measured hit rate is compared with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lmc.plan.errors import RowError
from lmc.plan.instantiate import (
    GenOp,
    Instantiator,
    RoleOp,
    RoleTexts,
    RowProgram,
    SelectOp,
    TextOp,
)
from lmc.plan.ir import Graph, Prefix
from lmc.plan.language import GenCall

Tokenize = Callable[[str, bool], list[int]]  # (text, at prompt start) -> token ids
_WORD = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


class WordPieces:
    """A stand-in tokenizer when no model tokenizer is available: words and punctuation with
    their leading spaces, each distinct piece one id. Counts are approximate; reuse is exact."""

    name = "approximate (word pieces)"

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str, at_start: bool) -> list[int]:
        return [self.ids.setdefault(p, len(self.ids)) for p in _WORD.findall(text)]


@dataclass(frozen=True)
class ModeledRequest:
    """A gen or select choice as the cache model sees it: token ids, placeholders for values."""

    row: int
    op: int
    prompt: tuple[int, ...]
    output: tuple[int, ...] = ()


@dataclass
class PrefixGroup:
    """A hoisted Prefix node: how many requests groups share it and the tokens it covers."""

    node: str
    scope: str
    tokens: int
    sharers: int = 0  # rows (scope rows) or branches (scope forks) that start with it
    instances: int = 0  # separate copies a cache-less run would compute

    @property
    def saved(self) -> int:
        return self.tokens * (self.sharers - self.instances)


@dataclass
class Prediction:
    rows: int
    failed_rows: int
    requests: int
    prompt_tokens: int
    cached_tokens: int
    unique_tokens: int
    tokenizer: str
    groups: list[PrefixGroup] = field(default_factory=list)

    @property
    def hit_rate(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


class PlaceholderIds:
    """Placeholder token ids (negative) for generated text and unrendered role markers."""

    def __init__(self) -> None:
        self.table: dict[tuple[Any, ...], int] = {}

    def __call__(self, *key: Any) -> int:
        return self.table.setdefault(key, -1 - len(self.table))


def row_requests(row: RowProgram, index: int, tokenize: Tokenize, ids: PlaceholderIds) -> list[ModeledRequest]:
    """The requests of one row whose prompts are known now, in op order."""
    out = []
    for op in row.ops:
        if not isinstance(op, (GenOp, SelectOp)):
            continue
        prompt = prompt_tokens(row.history(op.state), op, index, tokenize, ids)
        if prompt is None:
            continue
        if isinstance(op, GenOp):
            out.append(ModeledRequest(index, op.id, prompt, tuple(ids("gen", index, op.id, i) for i in range(generated_length(op.call)))))
        else:
            for choice in op.choices:
                out.append(ModeledRequest(index, op.id, prompt + tuple(tokenize(choice, False))))
    return out


def generated_length(call: GenCall) -> int:
    """The most tokens a gen can produce: `max_tokens`, capped by the longest match of a regular
    constraint (regex, dtype, choices, JSON schema); grammars are not bounded here."""
    kind = call.constraint()
    if kind is None or kind[0] == "grammar":
        return call.sampling.max_tokens
    from lmc.grammars import constraint_regex, max_match_length

    spec = {"regex": call.regex, "dtype": call.dtype, "json_schema": call.json_schema, "choices": call.choices}
    longest = max_match_length(constraint_regex(**{kind[0]: spec[kind[0]]}))
    limit = call.sampling.max_tokens
    return limit if longest is None else min(limit, longest)


def prompt_tokens(history: list[Any], until: Any, index: int, tokenize: Tokenize, ids: PlaceholderIds) -> tuple[int, ...] | None:
    tokens: list[int] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            tokens.extend(tokenize("".join(run), not tokens))
            run.clear()

    for op in history:
        if op is until:
            break
        if isinstance(op, TextOp):
            if op.text is None:
                return None
            run.append(op.text)
            continue
        flush()
        if isinstance(op, RoleOp):
            tokens.append(ids("role", op.role, op.begin))
        elif isinstance(op, GenOp):
            tokens.extend(ids("gen", index, op.id, i) for i in range(generated_length(op.call)))
        elif isinstance(op, SelectOp):
            longest = max(len(tokenize(c, False)) for c in op.choices)
            tokens.extend(ids("select", index, op.id, i) for i in range(longest))
    flush()
    return tuple(tokens)


def instantiate_rows(graph: Graph, rows: Iterable[dict[str, Any]], roles: RoleTexts | None = None) -> list[RowProgram | None]:
    """Every row started; None for a row that cannot be instantiated (the executor reports it)."""
    inst = Instantiator(graph, roles)
    out: list[RowProgram | None] = []
    for i, row in enumerate(rows):
        try:
            program = inst.row(row, i)
            program.start()
            out.append(program)
        except RowError:
            out.append(None)
    return out


def predict(graph: Graph, rows: list[dict[str, Any]], tokenize: Tokenize | None = None,
            roles: RoleTexts | None = None, tokenizer_name: str = "") -> Prediction:
    """Insert every known request of every row into one token prefix tree; count the hits."""
    tokenize = tokenize or WordPieces()
    name = tokenizer_name or getattr(tokenize, "name", "custom")
    ids = PlaceholderIds()
    programs = instantiate_rows(graph, rows, roles)
    trie: dict[int, Any] = {}
    prompt_tokens = cached = unique = count = 0
    for index, row in enumerate(programs):
        if row is None:
            continue
        for req in row_requests(row, index, tokenize, ids):
            count += 1
            prompt_tokens += len(req.prompt)
            hit, added = _insert(trie, req.prompt + req.output, len(req.prompt))
            cached += hit
            unique += added
    groups = prefix_groups(graph, [p for p in programs if p is not None], tokenize)
    return Prediction(len(rows), programs.count(None), count, prompt_tokens, cached, unique, name, groups)


def _insert(trie: dict[int, Any], tokens: tuple[int, ...], prompt_len: int) -> tuple[int, int]:
    """(prompt tokens already present, tokens newly added) for one sequence."""
    node, hit, added, matching = trie, 0, 0, True
    for i, tok in enumerate(tokens):
        child = node.get(tok)
        if child is None:
            matching = False
            child = node[tok] = {}
            added += 1
        elif matching and i < prompt_len:
            hit += 1
        node = child
    return hit, added


def prefix_groups(graph: Graph, programs: list[RowProgram], tokenize: Tokenize) -> list[PrefixGroup]:
    """Per hoisted Prefix node: its tokens, how many states start with it, and how many copies
    would be computed without sharing it across rows (one per row) or branches (one per fork)."""
    groups = {node_id: PrefixGroup(node_id, node.scope, 0) for node_id, node in graph.nodes_of(Prefix)
              if isinstance(node, Prefix)}
    rows_with: dict[str, int] = dict.fromkeys(groups, 0)
    for row in programs:
        texts: dict[tuple[str, int], str] = {}
        for op in row.ops:
            if isinstance(op, (TextOp, RoleOp)) and op.prefix in groups:
                piece = (op.text or "") if isinstance(op, TextOp) else f"<{op.role}>"
                texts[(op.prefix, op.state)] = texts.get((op.prefix, op.state), "") + piece
        for (prefix, _), text in texts.items():
            groups[prefix].tokens = max(groups[prefix].tokens, len(tokenize(text, False)))
            groups[prefix].sharers += 1
        for prefix in {p for p, _ in texts}:
            rows_with[prefix] += 1
    for node_id, group in groups.items():
        group.instances = min(1, rows_with[node_id]) if group.scope == "rows" else rows_with[node_id]
    return list(groups.values())
