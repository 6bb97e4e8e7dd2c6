"""How long the device spent on the engine's steps, as opposed to how long the host took to launch them.

With CUDA graphs and overlap scheduling, the host's time inside `forward` says little about the GPU:
a replay returns at once, and the host blocks later, reading tokens. A step's device time runs from
the stream reaching the step's first device work (the model runner opens the interval once the
step's inputs are planned, before their copy) to the stream finishing its sampling, timed by a pair
of CUDA events; events are read only once they have completed, so timing never makes the host wait.
Planning between steps (the GPU idle while the host decides) is outside every pair: wall time minus
device time is what the host cost. Inside a step, an eager forward whose launches are slower than
its kernels still counts its gaps: there the host is the device's pace. On a CPU the device is the host, and the pair is two clock readings.
"""

from __future__ import annotations

import time

import torch


class DeviceClock:
    """Sums the device time of intervals opened by `start()` and closed by `stop()`."""

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._open: object = None
        self._pending: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._seconds = 0.0

    def start(self) -> None:
        if self._cuda:
            self._open = torch.cuda.Event(enable_timing=True)
            self._open.record()
        else:
            self._open = time.perf_counter()

    def stop(self) -> None:
        if self._cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self._pending.append((self._open, end))
            self._collect(wait=False)
        else:
            self._seconds += time.perf_counter() - self._open

    @property
    def seconds(self) -> float:
        """Device seconds of every closed interval; waits for those still running."""
        self._collect(wait=True)
        return self._seconds

    def _collect(self, wait: bool) -> None:
        while self._pending and (wait or self._pending[0][1].query()):
            begin, end = self._pending.pop(0)
            end.synchronize()
            self._seconds += begin.elapsed_time(end) / 1000
