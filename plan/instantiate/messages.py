"""A state's chat messages as SGLang's `state.messages()` gives them: one {"role", "content"} per
role block, in order. The content is the text between the role's template texts, its leading
whitespace stripped as SGLang strips it; text outside any role block is in no message."""

from __future__ import annotations

from lmc.plan.instantiate.ops import TextOp
from lmc.plan.instantiate.row_program import RowProgram


def messages(row: RowProgram, state: int = 0) -> list[dict[str, str]]:
    """The finished messages of `state` (a role block still open at the end is left out). Role
    blocks do not nest, so a role text opens a block when none is open and closes it otherwise."""
    out: list[dict[str, str]] = []
    role: str | None = None
    parts: list[str] = []
    for op in row.history(state):
        if isinstance(op, TextOp) and op.role is not None:
            if role is None:
                role, parts = op.role, []
            else:
                out.append({"role": role, "content": "".join(parts).lstrip()})
                role = None
        elif role is not None:
            value = row.text(op) if isinstance(op, TextOp) else row.values.get(op.id, "")
            parts.append(value if isinstance(value, str) else str(value[0]) if value else "")  # n > 1: the first
    return out


__all__ = ["messages"]
