"""The radix cache's data: a tree node, usage counters, and a readable rendering for debugging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass(eq=False)
class TreeNode:
    """One edge of the tree and the node it leads to; `slots[i]` holds the KV of `key[i]`.

    `lock_ref` counts running requests reading this node (directly or through a descendant);
    `last_access` is a logical clock, so eviction order is deterministic.
    """

    key: tuple[int, ...]
    slots: torch.Tensor  # int64, CPU, len(key)
    parent: TreeNode | None = field(repr=False)
    children: dict[int, TreeNode] = field(default_factory=dict, repr=False)  # by key[0]
    lock_ref: int = 0
    last_access: int = 0


@dataclass
class RadixStats:
    match_calls: int = 0
    matched_tokens: int = 0
    inserted_tokens: int = 0
    evicted_tokens: int = 0
    evicted_for_host_loads: int = 0  # of those, evicted to make room for KV coming back from the host


def format_tree(
    root: TreeNode,
    decode: Callable[[list[int]], str] | None = None,
    max_depth: int | None = None,
) -> list[str]:
    """One indented line per node below `root`: its key (decoded if given), length, locks, clock."""
    lines: list[str] = []

    def visit(node: TreeNode, depth: int) -> None:
        if max_depth is not None and depth > max_depth:
            return
        for first in sorted(node.children):
            child = node.children[first]
            text = repr(decode(list(child.key))) if decode else str(list(child.key))
            lines.append(
                f"{'  ' * depth}{text} len={len(child.key)} lock={child.lock_ref} t={child.last_access}"
            )
            visit(child, depth + 1)

    visit(root, 1)
    return lines
