"""Program files: a plan names each with its sha256 (checked before a run); the compiler and the
executor's host calls import them the same way."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    return sha256_hex(Path(path).read_bytes())


def import_file(path: Path, prefix: str) -> ModuleType:
    """Import the file at `path` as a module of its own name (`<prefix>_<stem>_<hash of the path>`),
    with its folder importable as when it runs as a script. What its top level raises propagates,
    the half-built module removed from `sys.modules`."""
    name = f"{prefix}_{path.stem}_{sha256_hex(str(path).encode())[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module
