"""The regex syntax tree: four node kinds are enough once groups, escapes and anchors are parsed.

Capturing and named groups carry no meaning for a constraint (only the language matters), so the
parser returns their bodies; `a+` is `Repeat(a, 1, None)`, `a?` is `Repeat(a, 0, 1)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmc.grammars.charset import CharSet


@dataclass(frozen=True)
class Chars:
    """One character from a set."""

    chars: CharSet


@dataclass(frozen=True)
class Concat:
    """The items one after the other; `Concat(())` matches the empty string."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    """Any one of the options."""

    options: tuple[Node, ...]


@dataclass(frozen=True)
class Repeat:
    """`item` between `min` and `max` times (`max=None`: unbounded)."""

    item: Node
    min: int
    max: int | None


Node = Chars | Concat | Alt | Repeat

EMPTY = Concat(())


def leaves(node: Node) -> list[CharSet]:
    """Every character set in the tree (with repeats), in order: the alphabet is built from them."""
    out: list[CharSet] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Chars):
            out.append(n.chars)
        elif isinstance(n, Concat):
            stack.extend(n.items)
        elif isinstance(n, Alt):
            stack.extend(n.options)
        else:
            stack.append(n.item)
    return out


def longest_match(node: Node) -> int | None:
    """The most characters a match can have; None when a repeat is unbounded."""
    if isinstance(node, Chars):
        return 1
    if isinstance(node, Repeat):
        inner = longest_match(node.item)
        if inner == 0:
            return 0
        return None if inner is None or node.max is None else inner * node.max
    parts = [longest_match(n) for n in (node.items if isinstance(node, Concat) else node.options)]
    if None in parts:
        return None
    return sum(parts) if isinstance(node, Concat) else max(parts, default=0)
