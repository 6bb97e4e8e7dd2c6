"""What the frontend knows about a value without running anything: its *kind*.

`param` values are fixed once a row's inputs are known; `gen` values depend on generated text
(with the gen names they derive from); `state` is a prompt state; lists and tuples keep their
element kinds so `for f, dim in zip(forks, dims)` knows `f` is a state and `dim` a parameter.
Control flow over a `gen` kind becomes a dynamic region; everything else resolves per row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    tag: str  # param | gen | state | list | tuple
    deps: frozenset[str] = frozenset()  # gen: the generated variables it derives from
    items: tuple[Kind, ...] = ()  # list: (element,), tuple: the items

    def __str__(self) -> str:
        if self.tag == "list":
            return f"list[{self.items[0]}]"
        if self.tag == "tuple":
            return "tuple[" + ", ".join(map(str, self.items)) + "]"
        return self.tag


PARAM = Kind("param")
STATE = Kind("state")


def gen(*names: str) -> Kind:
    return Kind("gen", frozenset(names))


def list_of(elem: Kind) -> Kind:
    return Kind("list", items=(elem,))


def tuple_of(*items: Kind) -> Kind:
    return Kind("tuple", items=tuple(items))


def has_state(kind: Kind) -> bool:
    return kind.tag == "state" or any(has_state(k) for k in kind.items)


def gen_deps(kind: Kind) -> frozenset[str] | None:
    """The gen names a value depends on, or None if it depends on none (fully parametric)."""
    if kind.tag == "gen":
        return kind.deps
    found = [d for k in kind.items if (d := gen_deps(k)) is not None]
    return frozenset().union(*found) if found else None


def is_gen(kind: Kind) -> bool:
    return gen_deps(kind) is not None


def join(*kinds: Kind) -> Kind:
    """The kind of a value computed from values of these kinds (no states among them)."""
    deps = [d for k in kinds if (d := gen_deps(k)) is not None]
    return Kind("gen", frozenset().union(*deps)) if deps else PARAM


def merge(a: Kind, b: Kind) -> Kind | None:
    """A local assigned values of kinds a and b on different paths; None if they cannot mix."""
    if a == b:
        return a
    if has_state(a) or has_state(b):
        if a.tag == b.tag and len(a.items) == len(b.items):
            items = [merge(x, y) for x, y in zip(a.items, b.items)]
            return None if any(i is None for i in items) else Kind(a.tag, a.deps | b.deps, tuple(items))  # type: ignore[arg-type]
        return None
    return join(a, b)


def element(kind: Kind) -> Kind | None:
    """The kind of an item when iterating; None if iterating it makes no sense (a state)."""
    if kind.tag == "list":
        return kind.items[0]
    if kind.tag == "tuple":
        if any(has_state(k) for k in kind.items):
            first = kind.items[0] if kind.items else PARAM
            return first if all(k == first for k in kind.items) else None
        return join(*kind.items)
    if kind.tag == "state":
        return None
    return kind


def unpack(kind: Kind, n: int) -> list[Kind] | None:
    """Kinds of `a, b, ... = value` with n names; None if the shapes cannot match."""
    if kind.tag == "tuple":
        return list(kind.items) if len(kind.items) == n else None
    if kind.tag == "list":
        return [kind.items[0]] * n
    if kind.tag == "state":
        return None
    return [kind] * n
