"""Finding the programs in a .py file: import it (module level only; bodies never run)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from lmc.compiler.errors import CompileError
from lmc.compiler.language import Program


def load_programs(path: str | Path) -> dict[str, Program]:
    """Every @lmc.program defined in `path` (not merely imported there), in definition order."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CompileError(f"no such file: {path}")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"lmc_user_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CompileError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    programs = {}
    for value in vars(module).values():
        if isinstance(value, Program) and Path(inspect.getsourcefile(value.fn) or "").resolve() == path:
            programs[value.name] = value
    return programs
