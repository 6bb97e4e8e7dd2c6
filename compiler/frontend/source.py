"""Finding a program's source: the file, its sha256, and the `def` node the function came from."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmc.plan.errors import CompileError, Location
from lmc.plan.sources import sha256_hex


@dataclass
class SourceFile:
    path: str
    text: str
    sha256: str
    tree: ast.Module
    lines: list[str] = field(default_factory=list)

    def location(self, node: ast.AST) -> Location:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        end_line = getattr(node, "end_lineno", line)
        end_col = getattr(node, "end_col_offset", None) if end_line == line else None
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Location(self.path, line, col, end_col, text)


class SourceCache:
    """Files read once per compilation, so every program inlined from one file sees one text."""

    def __init__(self) -> None:
        self._files: dict[str, SourceFile] = {}

    def load(self, path: str) -> SourceFile:
        if path not in self._files:
            data = Path(path).read_bytes()
            text = data.decode("utf-8")
            tree = ast.parse(text, filename=path)
            self._files[path] = SourceFile(path, text, sha256_hex(data), tree,
                                           text.splitlines())
        return self._files[path]

    def function(self, fn: Callable[..., Any]) -> tuple[SourceFile, ast.FunctionDef]:
        """The file and the `def` node of `fn`, matched by name and first line."""
        path = inspect.getsourcefile(fn)
        if path is None or not Path(path).is_file():
            raise CompileError(
                f"the source of program {fn.__name__!r} is not available",
                hint="define lmc programs in a .py file (not in a REPL or exec'd string)",
            )
        source = self.load(str(Path(path).resolve()))
        first = fn.__code__.co_firstlineno
        for node in ast.walk(source.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == fn.__name__:
                lines = {node.lineno, *(d.lineno for d in node.decorator_list)}
                if first in lines:
                    if isinstance(node, ast.AsyncFunctionDef):
                        raise CompileError(
                            "an lmc program cannot be `async def`", source.location(node),
                            "write `def`: the executor already runs many rows concurrently",
                        )
                    return source, node
        raise CompileError(
            f"cannot find the definition of {fn.__name__!r} in {source.path} (was the file edited "
            "after it was imported?)",
            hint="re-import the module, or run `lmc compile` on the file",
        )

