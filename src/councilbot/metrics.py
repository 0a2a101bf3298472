"""Prometheus metrics: requests, latency, checks by verdict, outbox depth and age (overall and per
platform), delivery failures, delivery health and the event loop's lag."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("councilbot_requests_total", "HTTP requests handled", ["route", "status"], registry=REGISTRY)
LATENCY = Histogram("councilbot_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
CHECKS = Counter("councilbot_checks_total", "Drafts checked, by verdict", ["verdict"], registry=REGISTRY)
EVENTS = Counter("councilbot_events_total", "Incoming events, by kind", ["kind"], registry=REGISTRY)
DUPLICATES = Counter("councilbot_duplicate_events_total", "Platform retries recognised and ignored", registry=REGISTRY)
DELIVERED = Counter("councilbot_deliveries_total", "Messages delivered by the outbox", ["platform"], registry=REGISTRY)
DELIVERY_FAILURES = Counter("councilbot_delivery_failures_total", "Failed delivery attempts", ["platform", "permanent"], registry=REGISTRY)
OUTBOX_DEPTH = Gauge("councilbot_outbox_depth", "Messages waiting to be delivered", registry=REGISTRY)
OUTBOX_AGE = Gauge("councilbot_outbox_oldest_seconds", "Age of the oldest waiting message", registry=REGISTRY)
PLATFORM_DEPTH = Gauge("councilbot_outbox_platform_depth", "Messages waiting to be delivered, per platform",
                       ["platform"], registry=REGISTRY)
PLATFORM_AGE = Gauge("councilbot_outbox_platform_oldest_seconds", "Age of the oldest waiting message, per platform",
                     ["platform"], registry=REGISTRY)
DELIVERY_HEALTHY = Gauge("councilbot_delivery_healthy",
                         "1 while no waiting message is older than the alert threshold, else 0", registry=REGISTRY)
DELIVERY_THRESHOLD = Gauge("councilbot_delivery_alert_seconds", "The delivery health threshold", registry=REGISTRY)
LOOP_LAG = Gauge("councilbot_event_loop_lag_seconds", "Event loop lag, p99 over the last minute", registry=REGISTRY)

LAG_SAMPLE_SECONDS = 0.5  # how often the loop-lag probe wakes: cheap, and 120 samples a minute for the p99

Platforms = Mapping[str, Mapping[str, float]]


def delivery(platforms: Platforms, threshold: float) -> bool:
    """Set the per-platform gauges; whether delivery is healthy (nothing waits longer than ``threshold``)."""
    PLATFORM_DEPTH.clear()  # a platform no longer present must not keep its last value
    PLATFORM_AGE.clear()
    for platform, entry in platforms.items():
        PLATFORM_DEPTH.labels(platform).set(entry["depth"])
        PLATFORM_AGE.labels(platform).set(entry["oldest_seconds"])
    healthy = all(entry["oldest_seconds"] <= threshold for entry in platforms.values())
    DELIVERY_HEALTHY.set(1 if healthy else 0)
    DELIVERY_THRESHOLD.set(threshold)
    return healthy


def render(platforms: Platforms, threshold: float = 300.0) -> bytes:
    """The metrics page, with the outbox gauges set from ``platforms`` (depth and oldest age of
    what waits, per platform, across every council served)."""
    OUTBOX_DEPTH.set(sum(entry["depth"] for entry in platforms.values()))
    OUTBOX_AGE.set(max((entry["oldest_seconds"] for entry in platforms.values()), default=0.0))
    delivery(platforms, threshold)
    return generate_latest(REGISTRY)


def combined(per_council: list[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, float]]:
    """Several councils' outboxes as one: depths added, the oldest age kept (no council named)."""
    out: dict[str, dict[str, float]] = {}
    for platforms in per_council:
        for platform, entry in platforms.items():
            into = out.setdefault(platform, {"depth": 0, "oldest_seconds": 0.0})
            into["depth"] += entry["depth"]
            into["oldest_seconds"] = max(into["oldest_seconds"], entry["oldest_seconds"])
    return out


class LoopLag:
    """Measures how late the event loop wakes a sleeping task: a stall (CPU work or a blocking call
    on the loop) holds up every request, and this makes it visible in production. Samples every
    ``interval`` seconds and keeps the last ``window`` seconds; the gauge is their p99."""

    def __init__(self, interval: float | None = None, window: float = 60.0) -> None:
        self.interval = LAG_SAMPLE_SECONDS if interval is None else interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def record(self, at: float, lag: float) -> None:
        self._samples.append((at, lag))
        while self._samples and self._samples[0][0] < at - self.window:
            self._samples.popleft()
        LOOP_LAG.set(self.p99())

    def p99(self) -> float:
        lags = sorted(lag for _, lag in self._samples)
        if not lags:
            return 0.0
        return lags[min(len(lags) - 1, int(0.99 * len(lags)))]

    async def run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self.record(now, max(0.0, now - start - self.interval))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="councilbot-loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
