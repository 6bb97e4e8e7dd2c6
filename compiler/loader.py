"""Finding the programs in a .py file: import it (module level only; bodies never run)."""

from __future__ import annotations

import inspect
from pathlib import Path

from lmc.plan.errors import CompileError, Location
from lmc.plan.program import Program
from lmc.plan.sources import import_file


def load_programs(path: str | Path) -> dict[str, Program]:
    """Every @lmc.program defined in `path` (not merely imported there), in definition order."""
    path = Path(path).resolve()
    if not path.is_file():
        raise CompileError(f"no such file: {path}")
    try:
        module = import_file(path, "lmc_user")
    except SyntaxError as exc:
        loc = Location(str(path), exc.lineno or 1, max(0, (exc.offset or 1) - 1), None, exc.text or "")
        raise CompileError(f"syntax error: {exc.msg}", loc) from None
    except Exception as exc:  # the user's module failed at import: say so, without our traceback
        raise CompileError(f"importing {path} failed: {type(exc).__name__}: {exc}",
                           hint="the module's top level runs when it is compiled; fix it so `python "
                                f"{path.name}` imports cleanly") from None
    programs = {}
    for value in vars(module).values():
        if isinstance(value, Program) and Path(inspect.getsourcefile(value.fn) or "").resolve() == path:
            programs[value.name] = value
    return programs
