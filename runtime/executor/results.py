"""What one row produced: its outputs and meta, or the error that stopped it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RowFailure:
    """Why a row failed: `type` names the kind of failure, `message` says where and why."""

    type: str
    message: str


@dataclass
class RowResult:
    """One row, finished. `index` is its position in the input; `id` its "id" field or line
    number. `meta` holds only deterministic facts (flags, generated tokens), so a rerun or a
    resumed run writes the same bytes. `text` is the final prompt of `s`, `messages` its chat
    messages and `meta_info` each gen's and select's `get_meta_info` (all kept for the Python API
    only)."""

    index: int
    id: Any
    outputs: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: RowFailure | None = None
    text: str | None = None
    messages: list[dict[str, str]] | None = None
    meta_info: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def record(self) -> dict[str, Any]:
        """The row's line in out.jsonl."""
        if self.error is not None:
            return {"id": self.id, "error": {"type": self.error.type, "message": self.error.message}}
        return {"id": self.id, "outputs": self.outputs, "meta": self.meta}
