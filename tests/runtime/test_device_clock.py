"""DeviceClock: the device's time on the engine's steps, beside the wall and the host's launch time."""

from __future__ import annotations

import time

import pytest
import torch

from lmc.runtime.config import EngineConfig
from lmc.runtime.device_clock import DeviceClock
from lmc.runtime.engine import Engine
from lmc.runtime.request import SamplingParams


def test_cpu_clock_sums_only_the_intervals():
    clock = DeviceClock(torch.device("cpu"))
    for _ in range(3):
        clock.start()
        time.sleep(0.02)
        clock.stop()
        time.sleep(0.05)  # between intervals: not counted
    assert 0.06 <= clock.seconds < 0.15


def _engine_seconds(device: str) -> tuple[float, float]:
    engine = Engine(EngineConfig(model="tiny", device=device))
    started = time.perf_counter()
    engine.generate(["a b c", "d e f g"], SamplingParams(max_tokens=6))
    wall = time.perf_counter() - started
    return engine.stats().device_seconds, wall


def test_engine_counts_device_time_within_the_wall():
    device_s, wall = _engine_seconds("cpu")
    assert 0 < device_s <= wall


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_clock_times_kernels_not_the_host():
    clock = DeviceClock(torch.device("cuda"))
    a = torch.randn(4096, 4096, device="cuda")
    a = a @ a / 64  # the process's first matmul loads cuBLAS: keep that out of the interval
    torch.cuda.synchronize()
    clock.start()
    for _ in range(20):
        a = a @ a / 64
    clock.stop()
    time.sleep(1.0)  # the host idles after the interval closed: not device time
    seconds = clock.seconds
    assert 0 < seconds < 1.0
    device_s, wall = _engine_seconds("cuda")
    assert 0 < device_s <= wall
