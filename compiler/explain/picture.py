"""The plan as a person reads it: numbered steps in order, forks as branches that join.

The IR keeps what the passes need (one node per appended piece, role markers, loop bodies);
the picture shows what the program does. Consecutive text and role pieces of one state become
one prompt step, role markers show the model's template text when its roles are known, steps
are numbered 1, 2, 3 in program order, and a loop over the branches of a fork is drawn as
parallel branch lanes that join where the parent state goes on: one lane per branch when the
fork's size is a constant up to MAX_LANES, else the first branch and one lane for the rest. Other loops, conditionals and dynamic regions are regions around their
steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from lmc.compiler.explain.describe import Label, describe
from lmc.plan.expr import Const, unparse
from lmc.plan.expr.render import render_pattern
from lmc.plan.instantiate.role_texts import RoleTexts as ChatRoleTexts
from lmc.plan.ir import ENTRY, Fork, Graph, Loop, Prefix, RoleBegin, RoleEnd, Text

RoleTexts = ChatRoleTexts | Mapping[str, tuple[str, str]]
TEXT_LIMIT = 160
MAX_LANES = 4  # more lanes side by side than this no longer fit a page


@dataclass
class Step:
    """One box: `key` is its number (with a lane letter inside fork lanes), `nodes` the IR
    nodes it stands for."""

    key: str
    category: str
    text: str
    nodes: tuple[str, ...]


@dataclass
class Region:
    """A box around steps: a loop body, an arm of a conditional, a dynamic region, a branch lane."""

    key: str
    title: str
    kind: str  # region | lane
    items: list[Step | Region] = field(default_factory=list)


@dataclass
class Lanes:
    """The branches of a fork, side by side; the next step joins them."""

    key: str
    lanes: list[Region]


Item = Step | Region | Lanes


def piece_text(node: Text | RoleBegin | RoleEnd | Prefix, roles: RoleTexts | None) -> str:
    """A prompt piece as the model will see it (`{expr}` for text known per row)."""
    if isinstance(node, Prefix):
        return "".join(piece_text(p, roles) for p in node.pieces)
    if isinstance(node, Text):
        return node.value.value if isinstance(node.value, Const) else "{" + unparse(node.value) + "}"
    begin = isinstance(node, RoleBegin)
    texts = None if roles is None else ChatRoleTexts.of(roles)
    if texts is not None and node.role in texts.before:  # the text of a message mid-conversation
        return texts.before[node.role] if begin else texts.after[node.role]
    return f"<{node.role}>" if begin else f"</{node.role}>"


def _clip(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= TEXT_LIMIT else f"{shown[:TEXT_LIMIT - 14]}…{shown[-12:]} ({len(text)} chars)"


class Picture:
    """Build with `Picture(graph, roles)`; `items` is the top level, `steps()` every box."""

    def __init__(self, graph: Graph, roles: RoleTexts | None = None) -> None:
        self.graph = graph
        self.roles = roles
        self._numbers = itertools.count(1)
        self.forks = {t: fork for fork, node in graph.nodes_of(Fork) if isinstance(node, Fork)
                      for t in _names(node)}
        self.items = self._block(ENTRY, "body")

    def steps(self) -> Iterator[Step]:
        yield from _steps(self.items)

    def _block(self, owner: str, arm: str) -> list[Item]:
        items: list[Item] = []
        run: list[str] = []
        for node_id in self.graph.block(owner, arm):
            node = self.graph.node(node_id)
            if isinstance(node, (Text, RoleBegin, RoleEnd)) and (not run or self._same_state(run[0], node_id)):
                run.append(node_id)
                continue
            if run:
                items.append(self._prompt(run))
                run = []
            if isinstance(node, (Text, RoleBegin, RoleEnd)):
                run.append(node_id)
                continue
            items.append(self._item(node_id))
        if run:
            items.append(self._prompt(run))
        return items

    def _same_state(self, a: str, b: str) -> bool:
        return unparse(self.graph.node(a).state) == unparse(self.graph.node(b).state)  # type: ignore[attr-defined]

    def _prompt(self, run: list[str]) -> Step:
        first = self.graph.node(run[0])
        text = "".join(piece_text(self.graph.node(n), self.roles) for n in run)  # type: ignore[arg-type]
        prefetch = any(getattr(self.graph.node(n), "prefetch", False) for n in run)
        flag = "  [prefetch: prefilled before the generated values it waits on]" if prefetch else ""
        return Step(str(next(self._numbers)), "text", f"{unparse(first.state)} += {_clip(text)}{flag}", tuple(run))  # type: ignore[attr-defined]

    def _item(self, node_id: str) -> Item:
        node = self.graph.node(node_id)
        if isinstance(node, Prefix):
            where = "every row" if node.scope == "rows" else "the branches"
            text = f"shared prefix ({where}) {unparse(node.state)} += {_clip(piece_text(node, self.roles))}"
            return Step(str(next(self._numbers)), "prefix", text, (node_id,))
        label: Label = describe(self.graph, node_id)
        text = label.text.split("  [group ")[0]  # the merge pass's group id means nothing to a reader
        if not node.arms:
            return Step(str(next(self._numbers)), label.category, text, (node_id,))
        fork = self._fork_of(node)
        if fork is not None:
            return self._lanes(node_id, fork)
        key = str(next(self._numbers))
        arms = node.arms
        if len(arms) == 1:
            return Region(key, f"{key}. {label.text}", "region", self._block(node_id, arms[0]))
        return Region(key, f"{key}. {label.text}", "region",
                      [Region(f"{key}{arm}", arm, "region", self._block(node_id, arm)) for arm in arms])

    def _fork_of(self, node: object) -> Fork | None:
        if not isinstance(node, Loop):
            return None
        names = {n for n in self.forks if n in unparse(node.iter)}
        if not names:
            return None
        fork = self.graph.node(self.forks[sorted(names)[0]])
        return fork if isinstance(fork, Fork) else None

    def _lanes(self, loop_id: str, fork: Fork) -> Lanes:
        size = fork.sizes[0] if len(fork.sizes) == 1 else None
        known = size.value if isinstance(size, Const) and isinstance(size.value, int) else None
        if known is not None and known <= MAX_LANES:
            titles = [f"branch {i}" for i in range(1, known + 1)]
        else:
            titles = ["branch 1", f"branches 2 to {known or (unparse(size) if size is not None else 'n')}, alike"]
        lanes = []
        start = next(self._numbers)
        after = start
        for letter, title in zip("abcdefghijklmnopqrstuvwxyz", titles):
            self._numbers = itertools.count(start)  # every lane numbers the same steps alike
            items = self._block(loop_id, "body")
            _letter(items, letter)
            lanes.append(Region(f"{start}{letter}", title, "lane", items))
            after = next(self._numbers)
        self._numbers = itertools.count(after)
        return Lanes(str(start), lanes)


def _names(fork: Fork) -> list[str]:
    return [render_pattern(t) for t in fork.targets]


def _letter(items: list[Item] | list[Step | Region] | list[Region], letter: str) -> None:
    """Mark the steps of a lane: step 7 of lane b is 7b (of lane a inside lane b: 7ba)."""
    for item in items:
        number = item.key.rstrip("abcdefghijklmnopqrstuvwxyz")
        item.key = number + letter + item.key[len(number):]
        if isinstance(item, Region):
            _letter(item.items, letter)
        elif isinstance(item, Lanes):
            _letter(item.lanes, letter)


def _steps(items: list[Item] | list[Step | Region]) -> Iterator[Step]:
    for item in items:
        if isinstance(item, Step):
            yield item
        elif isinstance(item, Region):
            yield from _steps(item.items)
        else:
            for lane in item.lanes:
                yield from _steps(lane.items)
