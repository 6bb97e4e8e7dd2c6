"""A state's prompt as token ids: text is tokenized in runs, generated ids are kept as generated.

Consecutive texts are encoded together, when a request needs them (a gen, a select, a pin, a
prefetch), not op by op: how the compiler cuts a text into pieces (hoisting a shared head) must not
change the tokens, so a plan with its passes on sends exactly the prompts of the plan with them
off, and the cache model (lmc.plan), which tokenizes the same runs, predicts the hits the engine
sees. A run is encoded with BOS at the start of a prompt and as a continuation after it.

With a chat template that cannot be cut per role, a state's prompt is instead its conversation
(`Conversation`), rendered whole by the template for every request: generated values are then
kept as text, and prefixes are shared only where the template's renderings agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lmc.plan.language import GenCall
from lmc.runtime.chat_template import render_conversation
from lmc.runtime.request import ConcatKV, FinishReason, RequestOutput
from lmc.runtime.tokenizer import Tokenizer


@dataclass
class Conversation:
    """The messages of a prompt that the chat template renders whole; `open_role` is the role
    of the last message while it is still being written."""

    messages: list[dict[str, str]] = field(default_factory=list)
    open_role: str | None = None


@dataclass
class StatePrompt:
    """`ids` are committed (encoded runs and generated ids); `text` is appended since.
    `conversation` replaces both where the template renders whole conversations. `concat`: the
    ids begin with branches joined by concate_and_append (every request made from this prompt
    carries it)."""

    ids: list[int] = field(default_factory=list)
    text: str = ""
    conversation: Conversation | None = None
    concat: ConcatKV | None = None

    def copy(self) -> StatePrompt:
        chat = self.conversation
        copied = None if chat is None else Conversation([dict(m) for m in chat.messages], chat.open_role)
        return StatePrompt(list(self.ids), self.text, copied, self.concat)

    def append(self, text: str) -> None:
        chat = self.conversation
        if chat is None:
            self.text += text
        elif chat.open_role is None:
            if text:
                raise ValueError("the chat template renders whole conversations, so text outside a "
                                 "system/user/assistant message cannot be placed; put it inside one")
        else:
            chat.messages[-1]["content"] += text

    def extend(self, ids: list[int], text: str) -> None:
        """A generated or selected value: its ids, or its text in a conversation."""
        if self.conversation is None:
            self.ids.extend(ids)
        else:
            self.append(text)

    def role(self, role: str, begin: bool) -> None:
        chat = self.conversation
        if chat is None:
            raise ValueError(f"cannot render the {role} role without role texts")
        if begin:
            if chat.open_role is not None:
                raise ValueError(f"a {role} message inside a {chat.open_role} message")
            chat.messages.append({"role": role, "content": ""})
        chat.open_role = role if begin else None


@dataclass(frozen=True)
class GenResult:
    """A gen's stored value and the ids that continue its state's prompt (the value's tokens:
    as generated, minus a final EOS/stop token and anything past a stop string)."""

    text: str
    ids: list[int]


class TokenCodec:
    """The tokenizer as the executor uses it: prompts from runs of text, values from ids."""

    def __init__(self, tokenizer: Tokenizer, eos_ids: frozenset[int], whole_conversations: bool = False) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.table = tokenizer.token_bytes()
        self.whole_conversations = whole_conversations

    def new_prompt(self) -> StatePrompt:
        return StatePrompt(conversation=Conversation() if self.whole_conversations else None)

    def encode(self, ids: list[int], text: str) -> list[int]:
        """`ids` followed by `text`: BOS and the tokenizer's start-of-text rules when `ids` is
        empty, a continuation otherwise."""
        return ids + self.tokenizer.encode_run(text, not ids)

    def peek(self, prompt: StatePrompt) -> list[int]:
        """The prompt's ids with its pending text encoded, leaving the prompt as it is."""
        chat = prompt.conversation
        if chat is not None:  # tokenized as apply_chat_template does: the template's text, no BOS added
            return self.tokenizer.encode(render_conversation(self.tokenizer.hf, chat.messages, chat.open_role))
        if not prompt.text and prompt.ids:
            return list(prompt.ids)
        return self.encode(prompt.ids, prompt.text)

    def commit(self, prompt: StatePrompt) -> list[int]:
        """Encode the pending text into the prompt (before a request is made from it)."""
        if prompt.conversation is not None:
            return self.peek(prompt)
        prompt.ids = self.peek(prompt)
        prompt.text = ""
        return list(prompt.ids)

    def continuation(self, text: str) -> list[int]:
        return self.tokenizer.encode_continuation(text)

    def decode(self, ids: list[int]) -> str:
        """The text `ids` add after earlier text (a generated leading space is kept)."""
        return b"".join(self.table[i] for i in ids).decode("utf-8", errors="replace")

    def gen_result(self, output: RequestOutput, call: GenCall) -> GenResult:
        """The value of a finished gen, and the ids its state goes on with."""
        ids = list(output.output_ids)
        params = call.sampling
        reason = output.finish_reason
        if ids and reason in (FinishReason.STOP, FinishReason.EOS) and (
            ids[-1] in params.stop_token_ids or (ids[-1] in self.eos_ids and not params.ignore_eos)
        ):
            ids.pop()
        text = self.decode(ids)
        if reason is FinishReason.STOP and params.stop:
            cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
                ids = self._ids_of(ids, text)
        return GenResult(text, ids)

    def _ids_of(self, ids: list[int], text: str) -> list[int]:
        """The longest run of `ids` that spells a prefix of `text`, then the rest encoded: the
        stop string's tokens leave the prompt, the value's own tokens stay as generated."""
        target = text.encode("utf-8")
        size = k = 0
        while k < len(ids) and target.startswith(self.table[ids[k]], size):
            size += len(self.table[ids[k]])
            k += 1
        while True:
            try:
                rest = target[size:].decode("utf-8")
                break
            except UnicodeDecodeError:  # a token boundary inside a character: back off
                k -= 1
                size -= len(self.table[ids[k]])
        return ids[:k] + (self.continuation(rest) if rest else [])
