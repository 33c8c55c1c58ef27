"""Prometheus metrics of the socket engine, served at `/metrics`.

Labels are bounded: `state` is a registered state name or `unknown`, `code`
an error code of the protocol, so a client cannot grow the label space.
Several worker processes (WEB_CONCURRENCY > 1) aggregate through
prometheus-client's multiprocess mode when `PROMETHEUS_MULTIPROC_DIR` is set
(the production start script sets it).
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_left

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
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
HANDLER_SECONDS = Histogram(
    "chat_socket_handler_seconds",
    "Time from a request's arrival to its reply being queued.",
    ["state"],
    buckets=HANDLER_BUCKETS,
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


#: At most this long between a request and its figures reaching prometheus-client.
FLUSH_SECONDS = 1.0


class RequestTally:
    """Requests counted in plain Python, handed to prometheus-client in bulk.

    Counting a request through prometheus-client takes three locked updates
    (the counter, the histogram's sum and one bucket; in multiprocess mode,
    writes to a file); on a `ping` that was a tenth of the engine's cost.
    Here a request is a few additions to dicts, and `flush` hands the totals
    over: before every scrape, and every `FLUSH_SECONDS` from the app's
    lifespan (`flush_every`), so other workers' files are never further behind.
    """

    __slots__ = ("_counts", "_times")

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        #: per state: a count per bucket (the last one +Inf), then the sum of the seconds
        self._times: dict[str, list[float]] = {}

    def record(self, state: str, outcome: str, seconds: float) -> None:
        key = (state, outcome)
        self._counts[key] = self._counts.get(key, 0) + 1
        times = self._times.get(state)
        if times is None:
            times = self._times[state] = [0.0] * (len(HANDLER_BUCKETS) + 2)
        times[bisect_left(HANDLER_BUCKETS, seconds)] += 1  # the first bucket with seconds <= le
        times[-1] += seconds

    def flush(self) -> None:
        counts, self._counts = self._counts, {}
        times, self._times = self._times, {}
        for (state, outcome), count in counts.items():
            REQUESTS.labels(state, outcome).inc(count)
        for state, buckets in times.items():
            histogram = HANDLER_SECONDS.labels(state)
            # What `observe` updates, a bucket's worth at a time (prometheus-client's own
            # fields; tests/core/test_metrics_tally.py checks the result against `observe`).
            for value, observed in zip(histogram._buckets, buckets[:-1], strict=True):
                if observed:
                    value.inc(observed)
            histogram._sum.inc(buckets[-1])


REQUEST_TALLY = RequestTally()


async def flush_every(seconds: float = FLUSH_SECONDS) -> None:
    """Hand the tallies to prometheus-client until cancelled (then once more)."""
    try:
        while True:
            await asyncio.sleep(seconds)
            REQUEST_TALLY.flush()
    finally:
        REQUEST_TALLY.flush()


def render() -> tuple[bytes, str]:
    REQUEST_TALLY.flush()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
