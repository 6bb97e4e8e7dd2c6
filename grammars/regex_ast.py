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
