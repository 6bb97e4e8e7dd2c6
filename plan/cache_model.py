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

Each hit is attributed to what first put its token in the tree (`SAVED_BY`): another row (a
shared row prefix), a sibling branch of the same row (a fork prefix), an earlier request of
the same conversation (an earlier turn), the same select's other choices (its prompt), or
another of the row's independent states (a sub-program called without a state: its prompt
starts from nothing, BOS included, and shares only what its text has in common), so the
attribution sums to the cached total. Hits are also counted per gen/select node. A text that
reads a state's text (`s.text()`) is known where every piece of that text is, and otherwise
waits like text computed from a generated value (its requests are not predicted).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lmc.plan.errors import RowError
from lmc.plan.instantiate import (
    GenOp,
    ImageOp,
    Instantiator,
    JoinOp,
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


SAVED_BY = {
    "row": "shared row prefix (computed once for all rows)",
    "fork": "fork prefix (computed once for sibling branches)",
    "turn": "earlier turn (this conversation's previous requests)",
    "select": "select prompt (shared by its choices)",
    "state": "another state of the row (a sub-program run without a state)",
}


@dataclass(frozen=True)
class ModeledRequest:
    """A gen or select choice as the cache model sees it: token ids, placeholders for values."""

    row: int
    op: int
    prompt: tuple[int, ...]
    output: tuple[int, ...] = ()
    node: str = ""
    history: frozenset[int] = frozenset()  # ids of the ops before it in its state's history
    root: int = 0  # the state its state was forked from: 0 (`s`) or a state of its own


@dataclass
class NodeReuse:
    """Predicted prompt and cached tokens of one gen/select node over all rows."""

    prompt_tokens: int = 0
    cached_tokens: int = 0

    @property
    def hit_rate(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


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
    saved_by: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SAVED_BY, 0))  # sums to cached_tokens
    nodes: dict[str, NodeReuse] = field(default_factory=dict)

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
        history = row.history(op.state)
        prompt = prompt_tokens(history, op, index, tokenize, ids)
        if prompt is None:
            continue
        before = frozenset(h.id for h in history[:next((i for i, h in enumerate(history) if h is op), len(history))])
        root = row.root(op.state)
        if isinstance(op, GenOp):
            output = tuple(ids("gen", index, op.id, i) for i in range(generated_length(op.call)))
            out.append(ModeledRequest(index, op.id, prompt, output, op.node, before, root))
        else:
            for choice in op.choices:
                out.append(ModeledRequest(index, op.id, prompt + tuple(tokenize(choice, False)), (), op.node, before,
                                          root))
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
        if isinstance(op, (JoinOp, ImageOp)):
            return None  # concatenated branches' KV, an image: not prompts the model predicts
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
    trie = _Trie()
    out = Prediction(len(rows), programs.count(None), 0, 0, 0, 0, name)
    for index, row in enumerate(programs):
        if row is None:
            continue
        for req in row_requests(row, index, tokenize, ids):
            out.requests += 1
            out.prompt_tokens += len(req.prompt)
            hits, added = trie.insert(req)
            out.unique_tokens += added
            node = out.nodes.setdefault(req.node, NodeReuse())
            node.prompt_tokens += len(req.prompt)
            for origin in hits:
                out.saved_by[_saved_by(req, origin)] += 1
            out.cached_tokens += len(hits)
            node.cached_tokens += len(hits)
    out.groups = prefix_groups(graph, [p for p in programs if p is not None], tokenize)
    return out


def _saved_by(req: ModeledRequest, origin: ModeledRequest) -> str:
    if origin.row != req.row:
        return "row"
    if origin.root != req.root:
        return "state"
    if origin.op == req.op:
        return "select"
    return "turn" if origin.op in req.history else "fork"


class _Trie:
    """A token prefix tree that remembers which request first inserted each token."""

    def __init__(self) -> None:
        self.children: dict[int, _Trie] = {}
        self.origin: ModeledRequest | None = None

    def insert(self, req: ModeledRequest) -> tuple[list[ModeledRequest], int]:
        """(the origin of each prompt token already present, tokens newly added)."""
        node, hits, added, matching = self, [], 0, True
        for i, tok in enumerate(req.prompt + req.output):
            child = node.children.get(tok)
            if child is None:
                matching = False
                child = node.children[tok] = _Trie()
                child.origin = req
                added += 1
            elif matching and i < len(req.prompt):
                hits.append(child.origin)
            node = child
        return hits, added


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
