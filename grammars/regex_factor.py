"""Alternatives that start or end alike are merged in the tree: `abc|abd` becomes `ab[cd]`.

JSON-schema enums and `choices` are alternations of literal strings. Built as written, every
option costs automaton states for each of its characters, subset construction then merges the
shared prefixes again, state set by state set, and minimization the shared endings. Factoring
them here (same language: `a x | a y = a (x | y)`, `x c | y c = (x | y) c`) turns the alternation
into a trie with merged leaves before any automaton exists: the NFA of a 200-value enum shrinks
from thousands of states to about a hundred.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache

from lmc.grammars.charset import CharSet, single, union
from lmc.grammars.regex_ast import EMPTY, Alt, Chars, Concat, Node

MAX_DEPTH = 100


def alternation(options: Sequence[Node], depth: int = 0) -> Node:
    """The tree for `options[0] | options[1] | ...`, options with an equal first character set
    merged under one copy of their common prefix (first appearance keeps its place), and a
    common last character set taken out."""
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
        return _common_tail(list(options), depth)
    merged = [entry if not isinstance(entry, tuple) else _merge(groups[entry], depth) for entry in entries]
    return merged[0] if len(merged) == 1 else _common_tail(merged, depth)


def literal_alternation(words: Sequence[str], depth: int = 0) -> Node:
    """`words[0] | words[1] | ...` for literal strings, factored like `alternation` (common
    prefixes, common last characters, single characters as one class) but with string
    operations: an enum of 200 values is read in a fraction of the time its characters one by
    one would take."""
    words = list(dict.fromkeys(words))
    if len(words) == 1 or depth >= MAX_DEPTH:
        return Alt(tuple(map(_word, words))) if len(words) > 1 else _word(words[0])
    if all(len(w) == 1 for w in words):
        return Chars(union(*map(single, words)))
    if all(words) and len({w[-1] for w in words}) == 1:
        return _concat((literal_alternation([w[:-1] for w in words], depth + 1), literal(words[0][-1])))
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word)
    options: list[Node] = []
    for group in groups.values():
        prefix = os.path.commonprefix(group) if len(group) > 1 else ""
        if not prefix:
            options.extend(map(_word, group))
            continue
        rest = literal_alternation([w[len(prefix) :] for w in group], depth + 1)
        options.append(_concat((*map(literal, prefix), rest)))
    return options[0] if len(options) == 1 else Alt(tuple(options))


@cache
def literal(c: str) -> Chars:
    """The node of one literal character (one shared object per character)."""
    return Chars(single(c))


def _word(word: str) -> Node:
    return _concat(tuple(map(literal, word))) if word else EMPTY


def _common_tail(options: list[Node], depth: int) -> Node:
    """`x c | y c` as `(x | y) c`, and single character sets as their union: the options of an
    enum that differ in one letter become one class, so the DFA needs no state per option."""
    if all(isinstance(o, Chars) for o in options):
        return Chars(union(*(o.chars for o in options)))
    tails = [_items(o) for o in options]
    last = tails[0][-1] if tails[0] else None
    if depth >= MAX_DEPTH or not isinstance(last, Chars) or not all(t and _same(t[-1], last) for t in tails):
        return Alt(tuple(options))
    return _concat((_common_tail([_concat(t[:-1]) for t in tails], depth + 1), last))


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
