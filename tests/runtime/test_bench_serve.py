"""`lmc bench serve` end to end on the small model: every level and the in-process row reported."""

from __future__ import annotations

import json
import socket

from lmc.benchmarks.serve import bench_serve


def test_bench_serve_reports_each_level_and_the_overhead_ratio(small_model_dir, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = bench_serve(str(small_model_dir), "cpu", "auto", (1, 4), 1, 4, 16, 4, 3, port, str(tmp_path), "serve_test")
    report = json.loads(path.read_text())
    rows = report["rows"]
    assert [r["clients"] for r in rows] == [1, 4, "in-process"]
    assert all(r["tokens_per_s"] > 0 for r in rows)
    assert all(0 < r["ttft_p50_ms"] <= r["ttft_p99_ms"] for r in rows[:2])
    assert report["overhead_ratio_at_top_level"] > 0
