"""`program.run(stream=True)`: the row runs on a thread while `state.text_iter(name)` (or `async
for` over `state.text_async_iter(name)`) yields a gen's text as tokens arrive, from the local
engine or an API backend alike; `state.text_iter()` yields the whole text of `s` as SGLang's
does: prompt text as the row appends it, `s`'s gens token by token, so the chunks add up to
`state.text()`.

Every iterator reads the whole stream from its start, so it may be started late or twice; once
the row is done the state acts as its finished `ProgramState`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lmc.runtime.executor.execute import RunOptions
from lmc.runtime.text_stream import TextStream

if TYPE_CHECKING:
    from lmc.plan.file import Plan


@dataclass(frozen=True)
class _Event:
    """A gen's `text` (`kind` "token", or "rest": what its tokens had not shown when the row
    ended) or the whole text of `s` so far ("snapshot", after each of its ops)."""

    kind: str
    text: str
    name: str | None = None
    state: int = 0


class _WholeText:
    """The text of `s` as an append-only stream: its last snapshot plus the tokens of the gen of
    `s` running since. Text that would take back what was sent (it does not extend it) waits for
    a snapshot that does."""

    def __init__(self) -> None:
        self.committed = self.live = self.sent = ""

    def take(self, event: _Event) -> str:
        if event.kind == "snapshot":
            self.committed, self.live = event.text, ""
        elif event.kind == "token" and event.state == 0:
            self.live += event.text
        else:
            return ""
        text = self.committed + self.live
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        delta, self.sent = text[len(self.sent):], text
        return delta


class StreamingState:
    """A row in flight; `text_iter(name)` streams one gen's text, `text_iter()` the whole text."""

    def __init__(self, plan: Plan, inputs: dict[str, Any], runtime: Any, options: RunOptions | None = None) -> None:
        from lmc.runtime.api import default_backend

        self._runtime = runtime or default_backend()
        self._tokenizer = self._runtime.engine.tokenizer
        self._streams: dict[str, tuple[str, TextStream]] = {}  # rid -> (gen name, its stream)
        self._events: list[_Event] = []
        self._changed = threading.Condition()
        self._state: Any = None
        self._error: BaseException | None = None
        self._options = replace(options or RunOptions(), keep_text=True, token_sink=self._token,
                                text_sink=lambda _row, text: self._push(_Event("snapshot", text)))
        self._thread = threading.Thread(target=self._run, args=(plan, inputs), name="lmc-stream", daemon=True)
        self._thread.start()

    def text_iter(self, name: str | None = None, *, var_name: str | None = None) -> Iterator[str]:
        """The gen `name`'s text as it arrives; without a name the whole text of `s` (prompt
        and generated text, as SGLang's `text_iter()`); `var_name=` is SGLang's spelling of `name`."""
        name = name if var_name is None else var_name
        whole = _WholeText() if name is None else None
        seen = 0
        while True:
            with self._changed:
                while seen == len(self._events) and self._state is None and self._error is None:
                    self._changed.wait()
                fresh, finished = self._events[seen:], self._state is not None or self._error is not None
                seen = len(self._events)
            for event in fresh:
                delta = whole.take(event) if whole is not None else event.text if event.name == name else ""
                if delta:
                    yield delta
            if finished and seen == len(self._events):
                if self._error is not None:
                    raise self._error
                return

    async def text_async_iter(self, name: str | None = None, *, var_name: str | None = None) -> AsyncIterator[str]:
        """`text_iter` for `async for` (SGLang's spelling): each wait for text runs on a worker
        thread, so the event loop goes on meanwhile."""
        chunks = self.text_iter(name, var_name=var_name)
        end = object()
        while (chunk := await asyncio.to_thread(next, chunks, end)) is not end:
            yield chunk

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> Any:
        """The finished `ProgramState` (waits for the row)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._state

    def __getitem__(self, name: str) -> Any:
        return self.result()[name]

    def __getattr__(self, attr: str) -> Any:  # ok, error, outputs, text(), ... of the finished state
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.result(), attr)

    def _token(self, rid: str, state: int, name: str, stop: tuple[str, ...], token: int) -> None:
        if rid not in self._streams:
            self._streams[rid] = (name, TextStream(self._tokenizer, stop))
        delta = self._streams[rid][1].add(token)
        if delta:
            self._push(_Event("token", delta, name, state))

    def _push(self, event: _Event) -> None:
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def _run(self, plan: Plan, inputs: dict[str, Any]) -> None:
        from lmc.runtime.executor.program_api import run_plan

        try:
            (state,) = run_plan(plan, [inputs], progress=False, runtime=self._runtime,
                                   options=self._options)
            if state.ok:  # what the tokens did not show yet (a stop string's cut, a jump-forward)
                for name, stream in self._streams.values():
                    value = state.outputs.get(name)
                    rest = stream.finish(value) if isinstance(value, str) else ""
                    if rest:
                        self._push(_Event("rest", rest, name))
                self._push(_Event("snapshot", state.text()))
        except BaseException as exc:  # handed to the reader
            with self._changed:
                self._error = exc
                self._changed.notify_all()
            return
        with self._changed:
            self._state = state
            self._changed.notify_all()
