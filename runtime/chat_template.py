"""A chat template cut into per-role text, so prompts can be built one message at a time.

Chat templates are Jinja programs that render a whole conversation at once, but an LM program
writes `system(...)`, `user(...)`, `assistant(gen(...))` as separate steps and must know the
text that goes before and after each role's content. `RoleTemplate` finds that text by rendering
conversations whose contents are unique sentinel strings, then cutting the rendered text at the
sentinels: whatever lies between two sentinels is template text. Several conversations are
rendered (with and without a system message, with two rounds) so that the pieces are pinned
down, and the result is checked to rebuild every rendering exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class RolePieces:
    """The text around one message's content: `prefix + content + suffix`."""

    prefix: str
    suffix: str


@dataclass(frozen=True)
class RoleTemplate:
    """`start` opens a conversation (e.g. the BOS text); then each message is
    `pieces[role].prefix + content + pieces[role].suffix`. Generating an assistant turn means
    writing its prefix, then generating until EOS (its suffix is usually the EOS token)."""

    start: str
    pieces: dict[str, RolePieces]

    def prefix(self, role: str) -> str:
        return self._role(role).prefix

    def suffix(self, role: str) -> str:
        return self._role(role).suffix

    def _role(self, role: str) -> RolePieces:
        if role not in self.pieces:
            raise ValueError(f"the chat template has no role {role!r}; it has {sorted(self.pieces)}")
        return self.pieces[role]

    def render(self, messages: list[dict[str, str]]) -> str:
        """The conversation as the chat template would render it (no generation prompt)."""
        parts = [self.start]
        for message in messages:
            pieces = self._role(message["role"])
            parts += [pieces.prefix, message["content"], pieces.suffix]
        return "".join(parts)

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> RoleTemplate:
        """Derive the pieces from `tokenizer.chat_template`; raise if it cannot be cut per role."""
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "this tokenizer has no chat template, so system/user/assistant roles cannot be "
                "used; add a chat_template.jinja to the model directory or write the prompt as text"
            )
        return _derive(tokenizer)


class ChatTemplateError(ValueError):
    """The chat template does not treat each message as prefix + content + suffix."""


def _sentinel(role: str, turn: int) -> str:
    # Letters and digits only: survives templates that strip or trim message content.
    return f"LMCSENTINEL{role.upper()}{turn}X"


def _render(tokenizer: PreTrainedTokenizerBase, roles: list[str]) -> list[str]:
    """Render sentinel messages and return the template text between them (len(roles) + 1 gaps)."""
    messages = [{"role": r, "content": _sentinel(r, i)} for i, r in enumerate(roles)]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    except Exception as exc:  # templates raise arbitrary errors (raise_exception, TypeError)
        raise ChatTemplateError(f"the chat template cannot render roles {roles}: {exc}") from exc
    sentinels = [m["content"] for m in messages]
    pattern = "|".join(map(re.escape, sentinels))
    gaps = re.split(pattern, text)
    if re.findall(pattern, text) != sentinels:
        raise ChatTemplateError(
            f"the chat template does not render each message's content once and in order "
            f"(roles {roles}); lmc cannot split it per role"
        )
    return gaps


def _strip_prefix(text: str, prefix: str, what: str) -> str:
    if not text.startswith(prefix):
        raise ChatTemplateError(f"cannot split the chat template per role: {what}")
    return text[len(prefix) :]


def _strip_suffix(text: str, suffix: str, what: str) -> str:
    if not text.endswith(suffix):
        raise ChatTemplateError(f"cannot split the chat template per role: {what}")
    return text[: len(text) - len(suffix)]


def _derive(tokenizer: PreTrainedTokenizerBase) -> RoleTemplate:
    """Solve for start and per-role prefix/suffix from three renderings, then verify.

    With U/A for user/assistant contents: [U A U A] gives g0=start+Pu, g1=Su+Pa, g2=Sa+Pu, g4=Sa;
    [U] gives Su as its last gap; [S U A] gives start+Ps and Ss+Pu.
    """
    chat = _render(tokenizer, ["user", "assistant", "user", "assistant"])
    assistant_suffix = chat[4]
    user_prefix = _strip_prefix(chat[2], assistant_suffix, "text between turns varies")
    start = _strip_suffix(chat[0], user_prefix, "the first user turn is wrapped unlike later ones")
    user_suffix = _render(tokenizer, ["user"])[1]
    assistant_prefix = _strip_prefix(chat[1], user_suffix, "the user turn ends differently mid-chat")
    pieces = {
        "user": RolePieces(user_prefix, user_suffix),
        "assistant": RolePieces(assistant_prefix, assistant_suffix),
    }
    try:
        with_system = _render(tokenizer, ["system", "user", "assistant"])
    except ChatTemplateError:
        with_system = None  # the template has no system role: leave it out
    if with_system is not None:
        system_prefix = _strip_prefix(with_system[0], start, "a system message changes the opening")
        system_suffix = _strip_suffix(with_system[1], user_prefix, "the user turn after a system message differs")
        pieces["system"] = RolePieces(system_prefix, system_suffix)
    template = RoleTemplate(start, pieces)
    _verify(tokenizer, template)
    return template


def _verify(tokenizer: PreTrainedTokenizerBase, template: RoleTemplate) -> None:
    """Rebuild a few conversations from the pieces and compare with the template's own output."""
    conversations = [["user"], ["user", "assistant", "user"], ["user", "assistant", "user", "assistant", "user"]]
    if "system" in template.pieces:
        conversations += [["system", "user"], ["system", "user", "assistant", "user", "assistant"]]
    for roles in conversations:
        messages = [{"role": r, "content": _sentinel(r, i)} for i, r in enumerate(roles)]
        expected = tokenizer.apply_chat_template(messages, tokenize=False)
        if template.render(messages) != expected:
            raise ChatTemplateError(
                f"the chat template renders roles {roles} in a way that depends on more than the "
                "message itself (e.g. a system prompt folded into the first user turn), so lmc "
                "cannot build it message by message; write the prompt as plain text instead"
            )
    messages = [{"role": "user", "content": _sentinel("user", 0)}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if prompt != template.render(messages) + template.prefix("assistant"):
        raise ChatTemplateError(
            "the chat template's generation prompt differs from the assistant prefix found in "
            "full conversations, so lmc cannot tell which text starts a generated turn"
        )
