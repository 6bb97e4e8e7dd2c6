"""/metrics in Prometheus text: request and token counters, and the engine's state at scrape time.

`lmc_kv_tokens_in_use` counts KV slots neither free nor evictable (held by requests in flight or
pinned): it returns to 0 when the server is idle, which is how a leak would show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

DOCS = {
    "lmc_queue_length": "Requests waiting for admission",
    "lmc_running_requests": "Requests in the running batch",
    "lmc_inflight_requests": "Requests submitted and not finished",
    "lmc_cache_hit_rate": "Cached / (cached + computed) prompt tokens",
    "lmc_cached_tokens": "Prompt tokens read from the radix cache",
    "lmc_prefill_tokens": "Prompt positions the engine computed",
    "lmc_decode_tokens": "Positions the engine computed after prompts",
    "lmc_kv_tokens_capacity": "KV slots in the pool",
    "lmc_kv_tokens_free": "KV slots free",
    "lmc_kv_tokens_evictable": "KV slots cached and evictable",
    "lmc_kv_tokens_in_use": "KV slots held by requests in flight or pins",
    "lmc_engine_step_errors": "Engine steps that raised",
    "lmc_worker_routed_requests": "Requests the router sent to each data-parallel worker",
    "lmc_worker_inflight_requests": "Requests in flight on each data-parallel worker",
    "lmc_worker_cached_tokens": "Prompt tokens each worker read from its radix cache",
    "lmc_worker_prefill_tokens": "Prompt positions each worker computed",
}


class Gauges(Protocol):
    """What a worker (one engine, or routed data-parallel workers) shows at scrape time."""

    def gauges(self) -> dict[str, float]: ...

    def per_worker(self) -> list[dict[str, float]]: ...


class ServerMetrics:
    def __init__(self, worker: Gauges) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter("lmc_requests", "HTTP generation requests by endpoint and status",
                                 ["endpoint", "status"], registry=self.registry)
        self._prompt = Counter("lmc_prompt_tokens", "Prompt tokens of finished requests", registry=self.registry)
        self._generated = Counter("lmc_generation_tokens", "Tokens generated", registry=self.registry)
        self.registry.register(_State(worker))

    def request(self, endpoint: str, status: int) -> None:
        self._requests.labels(endpoint, str(status)).inc()

    def tokens(self, prompt: int, generated: int) -> None:
        self._prompt.inc(prompt)
        self._generated.inc(generated)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _State:
    """Gauges read from the worker when scraped; data-parallel ones also per worker."""

    def __init__(self, worker: Gauges) -> None:
        self.worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self.worker.gauges()
        total = values["lmc_cached_tokens"] + values["lmc_prefill_tokens"]
        values["lmc_cache_hit_rate"] = values["lmc_cached_tokens"] / total if total else 0.0
        for name, value in values.items():
            yield GaugeMetricFamily(name, DOCS[name], value=value)
        workers = self.worker.per_worker()
        for name in workers[0] if workers else ():
            family = GaugeMetricFamily(name, DOCS[name], labels=["worker"])
            for rank, row in enumerate(workers):
                family.add_metric([str(rank)], row[name])
            yield family
