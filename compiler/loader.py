"""Finding the programs in a .py file: import it (module level only; bodies never run)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from lmc.plan.errors import CompileError, Location
from lmc.plan.program import Program


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
    except SyntaxError as exc:
        loc = Location(str(path), exc.lineno or 1, max(0, (exc.offset or 1) - 1), None, exc.text or "")
        raise CompileError(f"syntax error: {exc.msg}", loc) from None
    except Exception as exc:  # the user's module failed at import: say so, without our traceback
        raise CompileError(f"importing {path} failed: {type(exc).__name__}: {exc}",
                           hint="the module's top level runs when it is compiled; fix it so `python "
                                f"{path.name}` imports cleanly") from None
    finally:
        sys.path.remove(str(path.parent))
    programs = {}
    for value in vars(module).values():
        if isinstance(value, Program) and Path(inspect.getsourcefile(value.fn) or "").resolve() == path:
            programs[value.name] = value
    return programs
