"""Thompson construction: a regex tree becomes an NFA with epsilon moves over character classes.

Each state has at most one labelled edge (a set of class ids to one target) plus epsilon edges,
which keeps subset construction simple. Several patterns can be built into one NFA with a tag per
accepting state: the CFG lexer needs to know which terminal a lexeme matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lmc.grammars.alphabet import Alphabet
from lmc.grammars.errors import ConstraintError
from lmc.grammars.regex_ast import Alt, Chars, Concat, Node, Repeat

MAX_NFA_STATES = 400_000


@dataclass
class NFA:
    """States are list indices; `accept` maps each accepting state to its pattern's tag."""

    eps: list[list[int]] = field(default_factory=list)
    label: list[frozenset[int] | None] = field(default_factory=list)
    target: list[int] = field(default_factory=list)
    start: int = 0
    accept: dict[int, int] = field(default_factory=dict)

    def new(self) -> int:
        if len(self.eps) >= MAX_NFA_STATES:
            raise ConstraintError(
                f"the pattern expands to more than {MAX_NFA_STATES} automaton states; counted "
                "repetitions multiply (e.g. (x{1,100}){1,100}), so use smaller bounds or * / +"
            )
        self.eps.append([])
        self.label.append(None)
        self.target.append(-1)
        return len(self.eps) - 1


def build_nfa(trees: list[Node], alphabet: Alphabet) -> NFA:
    """One NFA whose accepting states say which of `trees` (by index) matched."""
    nfa = NFA()
    nfa.start = nfa.new()
    for tag, tree in enumerate(trees):
        begin, end = _build(nfa, tree, alphabet)
        nfa.eps[nfa.start].append(begin)
        nfa.accept[end] = tag
    return nfa


def _build(nfa: NFA, node: Node, alphabet: Alphabet) -> tuple[int, int]:
    """The (entry, exit) states of a fragment for `node`; exit has no edges yet."""
    if isinstance(node, Chars):
        begin, end = nfa.new(), nfa.new()
        nfa.label[begin] = alphabet.members[node.chars]
        nfa.target[begin] = end
        return begin, end
    if isinstance(node, Concat):
        begin = end = nfa.new()
        for item in node.items:
            a, b = _build(nfa, item, alphabet)
            nfa.eps[end].append(a)
            end = b
        return begin, end
    if isinstance(node, Alt):
        begin, end = nfa.new(), nfa.new()
        for option in node.options:
            a, b = _build(nfa, option, alphabet)
            nfa.eps[begin].append(a)
            nfa.eps[b].append(end)
        return begin, end
    return _repeat(nfa, node, alphabet)


def _repeat(nfa: NFA, node: Repeat, alphabet: Alphabet) -> tuple[int, int]:
    """`min` copies in a row, then either a loop or `max - min` skippable copies.

    Every optional copy may jump straight to the exit, so `x{0,n}` has epsilon closures of
    size O(1) rather than the O(n) of `x?x?...x?`.
    """
    begin = cur = nfa.new()
    mandatory = node.min - 1 if node.max is None and node.min > 0 else node.min
    for _ in range(mandatory):
        a, b = _build(nfa, node.item, alphabet)
        nfa.eps[cur].append(a)
        cur = b
    end = nfa.new()
    if node.max is None:
        a, b = _build(nfa, node.item, alphabet)
        nfa.eps[cur].append(a)
        nfa.eps[b].extend((a, end))
        if node.min == 0:
            nfa.eps[cur].append(end)
        return begin, end
    for _ in range(node.max - node.min):
        a, b = _build(nfa, node.item, alphabet)
        nfa.eps[cur].extend((end, a))
        cur = b
    nfa.eps[cur].append(end)
    return begin, end
