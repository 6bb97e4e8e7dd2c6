"""On-disk cache of compiled automata: one `.npz` of plain arrays per content hash.

Building token tables costs up to a second; the same (pattern, tokenizer) pair recurs across runs
and processes, so tables are written once under `$LMC_HOME/cache/fsm` (default `~/.cache/lmc`).
Files are written to a temporary name and renamed, so a concurrent reader never sees half a file.
No pickles: a cache file is data only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """Where tables go unless a caller names a folder: `$LMC_HOME/cache/fsm`."""
    home = os.environ.get("LMC_HOME") or str(Path.home() / ".cache" / "lmc")
    return Path(home) / "cache" / "fsm"


def content_key(*parts: str) -> str:
    """A stable hash of what a table depends on (including the cache format version)."""
    h = hashlib.sha256(f"lmc-fsm-v{FORMAT_VERSION}".encode())
    for part in parts:
        h.update(b"\x00" + part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:40]


def load_arrays(folder: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays saved under `key`, or None when absent or unreadable (then rebuilt)."""
    path = folder / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def save_arrays(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically; a cache that cannot be written is skipped, never fatal."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, folder / f"{key}.npz")
    except OSError:
        Path(tmp).unlink(missing_ok=True)
