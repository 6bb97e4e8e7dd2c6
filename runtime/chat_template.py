"""A chat template cut into per-role text, so prompts can be built one message at a time.

Chat templates are Jinja programs that render a whole conversation at once, but an LM program
writes `system(...)`, `user(...)`, `assistant(gen(...))` as separate steps and must know the
text that goes before and after each message. `derive` finds it by rendering conversations
whose contents are unique sentinel strings and reading the text between the sentinels: the
opening of a conversation by its first role (the template's start, such as BOS text, and the
default system prompt a template adds when there is no system message), the text between two
messages by their roles (which is where a system prompt folded into the first user turn shows),
and the generation prompt. It then rebuilds more conversations from the pieces and compares
them with the template's own output. What it renders is what the executor sends: conversations
that end with the generation prompt, never a closed conversation's end-of-text marker.

A template that fails (one that moves the system prompt to the last user turn, or whose
generation prompt is not the assistant opening it writes mid-conversation) raises
`ChatTemplateError`; the executor then renders each call's whole conversation with the
template itself (`render_conversation`), which is correct but shares fewer prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from transformers import PreTrainedTokenizerBase

from lmc.plan.instantiate.role_texts import RoleTexts

Render = Callable[[list[str], bool], list[str]]  # roles, generation prompt -> text between contents


class ChatTemplateError(ValueError):
    """The chat template does not build a conversation message by message."""


def role_texts_of(tokenizer: PreTrainedTokenizerBase) -> RoleTexts:
    """The role texts of `tokenizer.chat_template`; raise if there is none or it cannot be cut."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            "this tokenizer has no chat template, so system/user/assistant roles cannot be "
            "used; add a chat_template.jinja to the model directory or write the prompt as text"
        )
    specials = [t for t in tokenizer.get_added_vocab() if t] + [t for t in tokenizer.all_special_tokens if t]
    return derive(lambda roles, generation: _render(tokenizer, roles, generation), specials)


def _sentinel(role: str, turn: int) -> str:
    # Letters and digits only: survives templates that strip or trim message content.
    return f"LMCSENTINEL{role.upper()}{turn}X"


def _render(tokenizer: PreTrainedTokenizerBase, roles: list[str], generation: bool) -> list[str]:
    """Render sentinel messages and return the template text around them (len(roles) + 1 gaps)."""
    messages = [{"role": r, "content": _sentinel(r, i)} for i, r in enumerate(roles)]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    except Exception as exc:  # templates raise arbitrary errors (raise_exception, TypeError)
        raise ChatTemplateError(f"the chat template cannot render roles {roles}: {exc}") from exc
    sentinels = [m["content"] for m in messages]
    pattern = "|".join(map(re.escape, sentinels))
    if re.findall(pattern, text) != sentinels:
        raise ChatTemplateError(
            f"the chat template does not render each message's content once and in order (roles {roles})"
        )
    return re.split(pattern, text)


def _closing(gap: str, end: str | None, specials: list[str]) -> str:
    """The text that closes a message: what the gap to the next message shares with the end of a
    conversation after it, cut back to a newline or a special token so no token is split."""
    if end is None:
        return gap
    size = 0
    while size < min(len(gap), len(end)) and gap[size] == end[size]:
        size += 1
    if size in (len(gap), len(end)):
        return gap[:size]
    while size > 0 and gap[size - 1] != "\n" and not any(gap[:size].endswith(s) for s in specials):
        size -= 1
    return gap[:size]


def derive(render: Render, specials: list[str]) -> RoleTexts:
    """Solve for the role texts from a few renderings, then verify them on more.

    [u a u a u] + generation prompt gives the user opening and the gaps u->a and a->u twice
    (they must agree: no position dependence) and the generation prompt (it must be the u->a
    gap: a generated turn starts where a written one does); [s u a u] gives the system opening
    and the s->u gap. A message's closing is the part of its gap that a closed conversation
    also ends with."""
    chat = render(["user", "assistant", "user", "assistant", "user"], True)
    if chat[1] != chat[3] or chat[2] != chat[4]:
        raise ChatTemplateError("the text between turns depends on the turn's position")
    if chat[5] != chat[1]:
        raise ChatTemplateError(
            "the generation prompt differs from the assistant opening written mid-conversation")
    user_close = _closing(chat[1], _end(render, ["user"]), specials)
    assistant_close = _closing(chat[2], _end(render, ["user", "assistant"]), specials)
    before = {"user": chat[2][len(assistant_close):], "assistant": chat[1][len(user_close):]}
    after = {"user": user_close, "assistant": assistant_close}
    opening = {"user": chat[0]}
    between: dict[tuple[str, str], str] = {}
    try:
        with_system = render(["system", "user", "assistant", "user"], True)
    except ChatTemplateError:
        with_system = None  # the template has no system role: leave it out
    if with_system is not None:
        if with_system[2] != chat[1] or with_system[3] != chat[2] or with_system[4] != chat[5]:
            raise ChatTemplateError("a system message changes the text of later turns")
        system_close = _closing(with_system[1], _end(render, ["system"]), specials)
        before["system"] = ""  # a system message is only ever the first one
        after["system"] = system_close
        opening["system"] = with_system[0]
        if with_system[1][len(system_close):] != before["user"]:
            between[("system", "user")] = with_system[1][len(system_close):]
    texts = RoleTexts(before, after, opening, between)
    _verify(render, texts)
    return texts


def _end(render: Render, roles: list[str]) -> str | None:
    """The text after the last message of a closed conversation, None if it cannot be rendered."""
    try:
        return render(roles, False)[-1]
    except ChatTemplateError:
        return None


def rebuild(texts: RoleTexts, roles: list[str]) -> list[str]:
    """The gaps `texts` put around sentinel messages of `roles`, ending with a generation prompt."""
    gaps, previous, closing = [], None, ""
    for role in roles:
        gaps.append(closing + texts.open(role, previous))
        closing, previous = texts.close(role), role
    return [*gaps, closing + texts.open("assistant", previous)]


def _verify(render: Render, texts: RoleTexts) -> None:
    """Rebuild conversations from the pieces and compare with the template's own renderings."""
    conversations = [["user"], ["user", "assistant", "user"], ["user", "assistant", "user", "assistant", "user"]]
    if "system" in texts.before:
        conversations += [["system", "user"], ["system", "user", "assistant", "user", "assistant", "user"]]
    for roles in conversations:
        if rebuild(texts, roles) != render(roles, True):
            raise ChatTemplateError(
                f"the chat template renders roles {roles} in a way that depends on more than each "
                "message and the one before it")


def render_conversation(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], open_role: str | None,
                        generation: bool = True) -> str:
    """A whole conversation as the template renders it: ending with the generation prompt
    (`generation`) when every message is closed or an assistant message was just opened, or
    inside the last message while it is being written (a gen in the middle of a turn)."""
    if open_role is None or (open_role == "assistant" and not messages[-1]["content"]):
        closed = messages if open_role is None else messages[:-1]
        return tokenizer.apply_chat_template(closed, tokenize=False, add_generation_prompt=generation)
    return tokenizer.apply_chat_template(messages, tokenize=False, continue_final_message=True)
