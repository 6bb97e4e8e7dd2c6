"""Alternatives that start alike are merged in the tree: `abc|abd` becomes `ab(?:c|d)`.

JSON-schema enums and `choices` are alternations of literal strings. Built as written, every
option costs automaton states for each of its characters, and subset construction then merges the
shared prefixes again, state set by state set. Factoring them here (same language:
`a x | a y = a (x | y)`) turns the alternation into a trie before any automaton exists, which
makes the NFA and its determinization several times smaller for long enums.
"""

from __future__ import annotations

from collections.abc import Sequence

from lmc.grammars.charset import CharSet
from lmc.grammars.regex_ast import Alt, Chars, Concat, Node

MAX_DEPTH = 100


def alternation(options: Sequence[Node], depth: int = 0) -> Node:
    """The tree for `options[0] | options[1] | ...`, options with an equal first character set
    merged under one copy of their common prefix (first appearance keeps its place)."""
    if len(options) == 1:
        return options[0]
    groups: dict[CharSet, list[tuple[Node, ...]]] = {}
    entries: list[CharSet | Node] = []
    for option in options:
        items = _items(option)
        if not items or not isinstance(items[0], Chars) or depth >= MAX_DEPTH:
            entries.append(option)
            continue
        key = items[0].chars
        if key not in groups:
            groups[key] = []
            entries.append(key)
        groups[key].append(items)
    if len(entries) == len(options):
        return Alt(tuple(options))
    merged = [entry if not isinstance(entry, tuple) else _merge(groups[entry], depth) for entry in entries]
    return merged[0] if len(merged) == 1 else Alt(tuple(merged))


def _merge(group: list[tuple[Node, ...]], depth: int) -> Node:
    """One common prefix of character sets, then the alternation of what follows it."""
    if len(group) == 1:
        return _concat(group[0])
    shortest = min(len(items) for items in group)
    k = 1
    while k < shortest and isinstance(group[0][k], Chars) and all(_same(items[k], group[0][k]) for items in group):
        k += 1
    rest = alternation([_concat(items[k:]) for items in group], depth + 1)
    return _concat((*group[0][:k], rest))


def _same(a: Node, b: Node) -> bool:
    return a is b or a == b  # the parser shares one object per literal: mostly the cheap test


def _items(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Concat):
        return node.items
    return (node,) if isinstance(node, Chars) else ()


def _concat(items: tuple[Node, ...]) -> Node:
    return items[0] if len(items) == 1 else Concat(items)
