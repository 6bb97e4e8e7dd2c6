"""On-disk cache of compiled automata: one file of plain arrays per content hash.

Building token tables costs milliseconds to a second; the same (pattern, tokenizer) pair recurs
across runs and processes, so tables are written once under `$LMC_HOME/cache/fsm` (default
`~/.cache/lmc`). Files are written to a temporary name and renamed, so a concurrent reader never
sees half a file. No pickles: a cache file is data only. The layout is a JSON header (name,
dtype, shape of each array) followed by the raw bytes: unlike `.npz`, writing it computes no
checksums and copies nothing, which halves the cost of the one write of a cold compile.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 2
SUFFIX = ".fsm"
_MAGIC = b"LMCFSM2\n"


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
    try:
        data = bytearray((folder / f"{key}{SUFFIX}").read_bytes())
    except OSError:
        return None
    try:
        if not data.startswith(_MAGIC):
            return None
        size = int.from_bytes(data[len(_MAGIC) : len(_MAGIC) + 8], "little")
        start = len(_MAGIC) + 8
        arrays: dict[str, np.ndarray] = {}
        offset = start + size
        for name, dtype, shape in json.loads(data[start : start + size]):
            count = int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset).reshape(shape)
            offset += arrays[name].nbytes
        return arrays if offset == len(data) else None
    except (ValueError, TypeError):
        return None


def save_arrays(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically; a cache that cannot be written is skipped, never fatal."""
    plain = {name: a if a.flags.c_contiguous else a.copy(order="C") for name, a in arrays.items()}
    header = json.dumps([[name, a.dtype.str, list(a.shape)] for name, a in plain.items()]).encode()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + len(header).to_bytes(8, "little") + header)
            for a in plain.values():
                f.write(a.data)
        os.replace(tmp, folder / f"{key}{SUFFIX}")
    except OSError:
        Path(tmp).unlink(missing_ok=True)
