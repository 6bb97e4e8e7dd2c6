"""A real `lmc serve` process on loopback, shared by the server and API-backend tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_S = 120


@dataclass(frozen=True)
class Served:
    base_url: str  # http://127.0.0.1:PORT/v1
    model: str  # the id clients send
    model_dir: Path
    process: subprocess.Popen

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def metrics(self) -> dict[str, float]:
        text = httpx.get(self.root + "/metrics", timeout=10).text
        return {k: float(v) for k, v in (line.split(" ") for line in text.splitlines()
                                         if line.startswith("lmc_") and "{" not in line)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, *extra: str, startup_s: float = STARTUP_S) -> Served:
    """`python -m lmc serve` on a free port; returns once /health answers (bounded wait)."""
    port = free_port()
    command = [sys.executable, "-m", "lmc", "serve", "--model", str(model_dir), "--served-model-name", "small",
               "--port", str(port), "--kv-cache-tokens", "16384", *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lmc serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(root + "/health", timeout=2).status_code == 200:
                return Served(root + "/v1", "small", model_dir, process)
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"lmc serve did not answer /health within {startup_s} s")


@pytest.fixture(scope="session")
def served(small_model_dir: Path) -> Iterator[Served]:
    server = start_server(small_model_dir)
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
