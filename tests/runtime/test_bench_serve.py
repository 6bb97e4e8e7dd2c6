"""`lmc bench serve` end to end on the small model: every level and the in-process row reported."""

from __future__ import annotations

import json
import socket

from lmc.benchmarks.serve import bench_serve


def test_bench_serve_reports_each_level_and_the_overhead_ratio(small_model_dir, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = bench_serve(str(small_model_dir), "cpu", "auto", (1, 4), 1, 4, 16, 4, 3, port, str(tmp_path), "serve_test",
                       ("--engine-process",))  # the server side of the one-engine-process path
    report = json.loads(path.read_text())
    rows = report["rows"]
    assert [r["clients"] for r in rows] == [1, 4]
    for row in rows:
        assert row["server_tokens_per_s"] > 0 and row["engine_tokens_per_s"] > 0
        assert row["overhead"] == round(row["engine_tokens_per_s"] / row["server_tokens_per_s"], 3)
        assert 0 < row["server_ttft_p50_ms"] <= row["server_ttft_p99_ms"]
        assert 0 < row["engine_ttft_p50_ms"] <= row["engine_ttft_p99_ms"]
