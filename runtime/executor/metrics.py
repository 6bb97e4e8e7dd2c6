"""What a run measured: per plan node, the requests it made, their latency and cache reuse."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lmc.runtime.request import RequestOutput


@dataclass
class NodeMetrics:
    """The requests made for one plan node (over all rows); latency is submit -> finish."""

    node: str
    kind: str
    requests: int = 0
    latency_s: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "kind": self.kind,
            "requests": self.requests,
            "mean_latency_s": self.latency_s / self.requests if self.requests else 0.0,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "hit_rate": self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0,
        }


@dataclass
class RunMetrics:
    """Counters the driver keeps while it runs (engine counters are read from the engine)."""

    nodes: dict[tuple[str, str], NodeMetrics] = field(default_factory=dict)
    rows_done: int = 0
    rows_failed: int = 0
    rows_flagged: int = 0
    flags: Counter[str] = field(default_factory=Counter)  # flag type -> rows that have it
    generated_tokens: int = 0
    modeled_prompt_tokens: int = 0
    modeled_computed_tokens: int = 0

    @property
    def modeled_hit_rate(self) -> float:
        """The prompt tokens of the gens and selects the cache model (lmc.plan) covers that did
        not have to be computed, counting what pins and select prompts computed for them: the
        measured counterpart of its prediction."""
        total = self.modeled_prompt_tokens
        return 1.0 - self.modeled_computed_tokens / total if total else 0.0

    def request_done(self, node: str, kind: str, output: RequestOutput, latency: float,
                     modeled: str | None = None) -> None:
        entry = self.nodes.get((node, kind))
        if entry is None:
            entry = self.nodes[(node, kind)] = NodeMetrics(node, kind)
        entry.requests += 1
        entry.latency_s += latency
        entry.prompt_tokens += output.prompt_len
        entry.cached_tokens += output.cached_tokens
        entry.output_tokens += len(output.output_ids)
        self.generated_tokens += len(output.output_ids)
        if modeled is not None:
            self.modeled_computed_tokens += output.prompt_len - output.cached_tokens
        if modeled == "request":
            self.modeled_prompt_tokens += output.prompt_len

    def add(self, other: RunMetrics) -> None:
        """Count `other`'s rows and requests in too (a data-parallel worker's part of a run)."""
        for key, part in other.nodes.items():
            entry = self.nodes.setdefault(key, NodeMetrics(part.node, part.kind))
            for name in ("requests", "latency_s", "prompt_tokens", "cached_tokens", "output_tokens"):
                setattr(entry, name, getattr(entry, name) + getattr(part, name))
        for name in ("rows_done", "rows_failed", "rows_flagged", "generated_tokens", "modeled_prompt_tokens",
                     "modeled_computed_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def node_table(self) -> list[dict[str, Any]]:
        return [m.as_dict() for m in sorted(self.nodes.values(), key=lambda m: (_natural(m.node), m.kind))]


def _natural(node: str) -> tuple[str, int]:
    head = node.rstrip("0123456789")
    tail = node[len(head):]
    return head, int(tail) if tail else -1
