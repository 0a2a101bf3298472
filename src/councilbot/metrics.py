"""Prometheus metrics: requests, latency, checks by verdict, outbox depth and age, delivery failures."""

from __future__ import annotations

from typing import Callable

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


def render(depth: Callable[[], int], age: Callable[[], float]) -> bytes:
    OUTBOX_DEPTH.set(depth())
    OUTBOX_AGE.set(age())
    return generate_latest(REGISTRY)
