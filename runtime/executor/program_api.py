"""`program.run(**inputs)` and `program.run_batch(rows)`: the executor behind the Python API
(`lmc/api.py` compiles the program; this runs its plan).

Rows run together exactly as under `lmc run` (shared prefixes, batched forks, the plan's order);
each comes back as a `ProgramState`, in input order. A failed row does not stop the batch: its
state holds the error and raises it when a value is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lmc.plan.file import Plan
from lmc.runtime.executor.execute import RunOptions, execute
from lmc.runtime.executor.inputs import jobs_from_rows
from lmc.runtime.executor.progress import RunProgress
from lmc.runtime.executor.results import RowResult


class RowFailed(RuntimeError):
    """A value was read from a row that failed; the message says which row, where and why."""


class ProgramState:
    """A finished row: `state["name"]` reads a generated value, `state.text()` the final prompt."""

    def __init__(self, result: RowResult) -> None:
        self._result = result

    @property
    def id(self) -> Any:
        return self._result.id

    @property
    def ok(self) -> bool:
        return self._result.ok

    @property
    def error(self) -> str | None:
        e = self._result.error
        return None if e is None else f"{e.type}: {e.message}"

    @property
    def outputs(self) -> dict[str, Any]:
        if self._result.error is not None:
            raise RowFailed(self.error)
        return dict(self._result.outputs or {})

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self._result.meta)

    def __getitem__(self, name: str) -> Any:
        outputs = self.outputs
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise KeyError(f"this row has no output {name!r} (it has: {known})")
        return outputs[name]

    @property
    def ret_value(self) -> Any:
        """What the program returned, as SGLang's `state.ret_value` (None without a return)."""
        outputs = self.outputs
        return outputs.get("ret_value") if "ret_value" in outputs else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.outputs.get(name, default)

    def get_meta_info(self, name: str) -> Any:
        """SGLang's meta info of a gen or select: token counts and finish reason; logprobs with
        `return_logprob=True`; a select's choice scores. A list for a gen with n > 1 (and, as for
        values, per fork for names stored only on forks)."""
        if self._result.error is not None:
            raise RowFailed(self.error)
        info = self._result.meta_info or {}
        if name not in info:
            known = ", ".join(sorted(info)) or "none"
            raise KeyError(f"this row has no gen or select {name!r} (it has: {known})")
        return info[name]

    def json(self, name: str) -> Any:
        """A value parsed as JSON (for gens with json_schema=)."""
        return json.loads(self[name])

    def text(self) -> str:
        """The whole prompt of `s` at the end of the row, generated text included."""
        if self._result.error is not None:
            raise RowFailed(self.error)
        return self._result.text or ""

    def text_iter(self, name: str | None = None, *, var_name: str | None = None) -> Iterator[str]:
        """SGLang's `text_iter` on a state run without `stream=True`: the whole text of `s` (or
        the value `name`, SGLang's `var_name=`) in one chunk."""
        name = name if var_name is None else var_name
        yield self.text() if name is None else self[name]

    def messages(self) -> list[dict[str, str]]:
        """The chat messages of `s`, as SGLang's `state.messages()`: [{"role", "content"}, ...],
        one per role block, the content without the chat template's texts."""
        if self._result.error is not None:
            raise RowFailed(self.error)
        return [dict(m) for m in self._result.messages or []]

    def __repr__(self) -> str:
        body = f"error={self.error!r}" if not self.ok else f"outputs={self._result.outputs!r}"
        return f"ProgramState(id={self.id!r}, {body})"


def run_plan(plan: Plan, rows: list[dict[str, Any]], progress: bool = True,
             runtime: Any = None, options: RunOptions | None = None) -> list[ProgramState]:
    """Run `rows` through `plan` on `runtime` (default: `lmc.runtime.api.default_backend()`)."""
    from lmc.runtime.api import default_backend

    engine = (runtime or default_backend()).engine
    jobs = list(jobs_from_rows(rows))
    results: list[RowResult | None] = [None] * len(jobs)

    with RunProgress(len(jobs), engine, enabled=progress) as bar:

        def on_result(result: RowResult) -> None:
            results[result.index] = result
            bar.row(result)

        execute(engine, plan, jobs, on_result, options or RunOptions(keep_text=True), bar.step)
    return [ProgramState(r) for r in results if r is not None]
