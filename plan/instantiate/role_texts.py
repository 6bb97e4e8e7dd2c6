"""The chat template's text around each message, as the per-row interpreter writes it.

A chat template is cut into the text that closes a message of each role (`after`) and the text
that opens one, which may depend on what came before it: the first message of a conversation
gets `opening[role]` (the template's start, such as BOS text, and for a first message that is
not a system message the template's default system prompt), a message right after one of role
`previous` gets `between[(previous, role)]` when the template writes something special there
(a system prompt folded into the first user turn), and any other gets `before[role]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoleTexts:
    before: Mapping[str, str]
    after: Mapping[str, str]
    opening: Mapping[str, str] = field(default_factory=dict)
    between: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, roles: RoleTexts | Mapping[str, tuple[str, str]]) -> RoleTexts:
        """Accept the plain form too: role -> (text before, text after) its content."""
        if isinstance(roles, RoleTexts):
            return roles
        return cls({r: b for r, (b, _) in roles.items()}, {r: a for r, (_, a) in roles.items()})

    def roles(self) -> list[str]:
        return sorted(self.before)

    def open(self, role: str, previous: str | None) -> str:
        """The text before a `role` message's content; `previous` is the role of the message
        before it (None: it is the conversation's first)."""
        self._check(role)
        if previous is None and role in self.opening:
            return self.opening[role]
        return self.between.get((previous or "", role), self.before[role])

    def close(self, role: str) -> str:
        self._check(role)
        return self.after[role]

    def _check(self, role: str) -> None:
        if role not in self.before:
            raise ValueError(f"the model's chat template has no {role} role; it has {', '.join(self.roles())}")
