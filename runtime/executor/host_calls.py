"""Host calls: the Python functions a plan's `call` nodes name, found and run by the executor.

A target is `module:qualname`. When the module is a compiled program file (the node's `source`),
it is that file, whose sha256 the plan recorded and `Plan.check_sources` compared: the module
already loaded from that path if there is one (the script that compiled and runs the program),
else the file imported from its path (not as `__main__`, so its script part does not run).
Other modules are imported by name. Everything a plan names is found before any row runs, so a
missing function fails the run at once rather than every row.

A call's function and arguments are resolved on the executor's thread (`bound`), and the call
runs on a `CallPool` worker, so a slow tool (an API call) holds up only the rows that wait for
its result; the executor records the result between engine steps, as it records a gen's. What
a call raises becomes its row's error, naming the function and the frame that raised.
"""

from __future__ import annotations

import importlib
import queue
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from lmc.plan.errors import PlanError, RowError
from lmc.plan.expr import Global, walk
from lmc.plan.instantiate import CallOp, RowProgram
from lmc.plan.ir import Graph, HostCall, Source, node_exprs
from lmc.plan.sources import import_file


class HostFunctions:
    """The objects a plan's host calls and `Global` arguments name, resolved once per run."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self._modules: dict[str, ModuleType] = {}
        self._objects: dict[tuple[str, int | None], Any] = {}

    @classmethod
    def for_graph(cls, graph: Graph) -> HostFunctions:
        """Resolve every target of `graph` now; PlanError names the first one that is missing."""
        host = cls(graph.sources)
        for node_id, node in graph.nodes_of(HostCall):
            assert isinstance(node, HostCall)
            for function, source in [(f, s) for _, f, s in node.table] or [(node.function, node.source)]:
                host.resolve(function, source, node_id)
        for node_id, _, _, _ in graph.walk():
            for expr in node_exprs(graph.node(node_id)):
                for e in walk(expr):
                    if isinstance(e, Global):
                        host.resolve(e.name, e.source, node_id)
        return host

    def resolve(self, target: str, source: int | None, node: str | None = None) -> Any:
        key = (target, source)
        if key not in self._objects:
            module_name, _, qualname = target.partition(":")
            try:
                obj: Any = self._module(module_name, source)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
            except Exception as exc:  # the user's module can raise anything while it is imported
                where = f" (node {node})" if node else ""
                raise PlanError(f"the plan calls {target}{where}, which cannot be found: "
                                f"{type(exc).__name__}: {exc}") from None
            self._objects[key] = obj
        return self._objects[key]

    def read_global(self, value: Global) -> Any:
        return self.resolve(value.name, value.source)

    def bound(self, program: RowProgram, op: CallOp) -> Callable[[], Any]:
        """One call op of `program`, its function and arguments resolved now (reading the row,
        so on the executor's thread): calling it runs the function, any thread, and turns an
        exception inside it into the row's error."""
        target, source = program.call_target(op)
        function = self.resolve(target, source, op.node)
        args, kwargs = program.call_arguments(op, self.read_global)
        row_id = program.row_id

        def run() -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                raise RowError(f"{target.partition(':')[2]}(...) raised {type(exc).__name__}: {exc}"
                               f"{last_frame(exc)}", row_id, op.node) from None

        return run

    def _module(self, name: str, source: int | None) -> ModuleType:
        if source is None:
            return importlib.import_module(name)
        path = str(Path(self.sources[source].path).resolve())
        if path not in self._modules:
            self._modules[path] = loaded_from(path) or import_file(Path(path), "lmc_host")
        return self._modules[path]


class CallPool:
    """Host calls on `threads` worker threads (started on the first call). A finished call waits
    in `finished()` with its key until the executor's thread takes it, so only that thread
    touches the rows."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"host_threads must be >= 1, got {threads}")
        self.threads = threads
        self.running = 0
        self._pool: ThreadPoolExecutor | None = None
        self._done: queue.SimpleQueue[tuple[Any, Future[Any]]] = queue.SimpleQueue()

    def submit(self, key: Any, run: Callable[[], Any]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="lmc-host")
        self.running += 1
        self._pool.submit(run).add_done_callback(lambda future: self._done.put((key, future)))

    def finished(self, wait: bool) -> list[tuple[Any, Future[Any]]]:
        """The calls done since the last look; with `wait`, blocks until one is (if any runs)."""
        out = []
        if wait and self.running:
            out.append(self._done.get())
        while True:
            try:
                out.append(self._done.get_nowait())
            except queue.Empty:
                break
        self.running -= len(out)
        return out

    def close(self) -> None:
        """Stop taking calls; one still running (of a failed row) finishes on its own."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def loaded_from(path: str) -> ModuleType | None:
    """A module already imported from `path` (`__main__` included), if any."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == Path(path):
            return module
    return None


def last_frame(exc: BaseException) -> str:
    """` (at file:line in function: source line)` for the frame that raised, if known."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    line = f": {frame.line.strip()}" if frame.line else ""
    return f" (at {frame.filename}:{frame.lineno} in {frame.name}{line})"


__all__ = ["CallPool", "HostFunctions"]
