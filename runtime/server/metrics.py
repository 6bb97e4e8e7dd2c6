"""/metrics in Prometheus text: request and token counters, and the engine's state at scrape time.

`lmc_kv_tokens_in_use` counts KV slots neither free nor evictable (held by requests in flight or
pinned): it returns to 0 when the server is idle, which is how a leak would show.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lmc.runtime.engine import Engine
from lmc.runtime.server.worker import EngineWorker


class ServerMetrics:
    def __init__(self, engine: Engine, worker: EngineWorker) -> None:
        self.engine = engine
        self.worker = worker
        self.registry = CollectorRegistry()
        self._requests = Counter("lmc_requests", "HTTP generation requests by endpoint and status",
                                 ["endpoint", "status"], registry=self.registry)
        self._prompt = Counter("lmc_prompt_tokens", "Prompt tokens of finished requests", registry=self.registry)
        self._generated = Counter("lmc_generation_tokens", "Tokens generated", registry=self.registry)
        self.registry.register(_EngineState(engine, worker))

    def request(self, endpoint: str, status: int) -> None:
        self._requests.labels(endpoint, str(status)).inc()

    def tokens(self, prompt: int, generated: int) -> None:
        self._prompt.inc(prompt)
        self._generated.inc(generated)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _EngineState:
    """Gauges read from the engine when scraped (plain counters; no lock with its thread)."""

    def __init__(self, engine: Engine, worker: EngineWorker) -> None:
        self.engine = engine
        self.worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine
        stats = engine.stats()
        pool, cache = engine.pool, engine.cache
        values = {
            "lmc_queue_length": ("Requests waiting for admission", len(engine.scheduler.waiting)),
            "lmc_running_requests": ("Requests in the running batch", len(engine.scheduler.running)),
            "lmc_inflight_requests": ("Requests submitted and not finished", self.worker.inflight),
            "lmc_cache_hit_rate": ("Cached / (cached + computed) prompt tokens", stats.hit_rate),
            "lmc_cached_tokens": ("Prompt tokens read from the radix cache", stats.cached_tokens),
            "lmc_decode_tokens": ("Positions the engine computed after prompts", stats.decode_tokens),
            "lmc_kv_tokens_capacity": ("KV slots in the pool", pool.capacity),
            "lmc_kv_tokens_free": ("KV slots free", pool.num_free),
            "lmc_kv_tokens_evictable": ("KV slots cached and evictable", cache.evictable_size),
            "lmc_kv_tokens_in_use": ("KV slots held by requests in flight or pins",
                                     pool.capacity - pool.num_free - cache.evictable_size),
            "lmc_engine_step_errors": ("Engine steps that raised", self.worker.step_errors),
        }
        for name, (doc, value) in values.items():
            yield GaugeMetricFamily(name, doc, value=value)
