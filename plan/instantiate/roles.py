"""Chat-role rendering: text before and after the content of each role.

The compiler stays tokenizer-free: the executor passes the model's role texts (from its
tokenizer's chat template) as a plain mapping `{"user": ("<before>", "<after>"), ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RoleTexts = Mapping[str, tuple[str, str]]


def role_texts(source: Any) -> RoleTexts:
    """Accept a mapping role -> (before, after), or an object with `.roles` giving one, or with
    per-role `prefix(role)`/`suffix(role)` methods."""
    if isinstance(source, Mapping):
        return {role: (str(v[0]), str(v[1])) for role, v in source.items()}
    roles = getattr(source, "roles", None)
    if roles is not None and roles is not source:
        return role_texts(roles)
    if hasattr(source, "prefix") and hasattr(source, "suffix"):
        return {r: (source.prefix(r), source.suffix(r)) for r in ("system", "user", "assistant")}
    raise TypeError(f"cannot read role texts from {type(source).__name__}; pass {{role: (before, after)}}")
