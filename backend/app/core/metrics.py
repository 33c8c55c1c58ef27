"""Prometheus metrics of the socket engine, served at `/metrics`.

Labels are bounded: `state` is a registered state name or `unknown`, `code`
an error code of the protocol, so a client cannot grow the label space.
Several worker processes (WEB_CONCURRENCY > 1) aggregate through
prometheus-client's multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set
(the production start script sets it).
"""

from __future__ import annotations

import os
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

OPEN_SOCKETS = Gauge(
    "chat_open_sockets", "Authenticated sockets open now.", multiprocess_mode="livesum"
)
REQUESTS = Counter(
    "chat_socket_requests_total", "Socket requests by state and outcome.", ["state", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "chat_socket_handler_seconds",
    "Time from a request's arrival to its reply being queued.",
    ["state"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ERRORS = Counter("chat_socket_errors_total", "Error frames sent, by code.", ["code"])
EVENTS_PUBLISHED = Counter("chat_events_published_total", "Events published to a topic.")
EVENTS_DELIVERED = Counter(
    "chat_events_delivered_total", "Event frames queued for a socket (one per recipient)."
)
BROADCAST_UP = Gauge(
    "chat_broadcast_up", "1 when the broadcast backend is reachable.", multiprocess_mode="min"
)
CLOSES = Counter(
    "chat_socket_closes_total", "Sockets closed by the server, by close code.", ["code"]
)


@cache
def request_instruments(state: str, outcome: str) -> tuple[Counter, Histogram]:
    """The labelled children for one (state, outcome): looked up once, not per request."""
    return REQUESTS.labels(state, outcome), HANDLER_SECONDS.labels(state)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
