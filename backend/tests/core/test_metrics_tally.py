"""The request tally hands prometheus-client exactly what `inc` and `observe` would have."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import CollectorRegistry, Histogram

from app.core import metrics


def _samples(histogram: Histogram, state: str) -> dict[tuple[str, str], float]:
    return {
        (sample.name.rsplit("_", 1)[-1], sample.labels.get("le", "")): sample.value
        for family in histogram.collect()
        for sample in family.samples
        if sample.labels.get("state") == state and not sample.name.endswith("_created")
    }


def test_a_flush_matches_observe_bucket_by_bucket() -> None:
    state = f"tally-{uuid.uuid4().hex[:8]}"
    # On each bound, between bounds, below the first and above the last (+Inf).
    durations = [0.0, 0.0005, 0.0007, 0.001, 0.003, 0.049, 0.05, 0.3, 2.5, 4.9, 5.0, 7.5, 60.0]
    reference = Histogram(
        "reference", "", ["state"], buckets=metrics.HANDLER_BUCKETS, registry=CollectorRegistry()
    )
    tally = metrics.RequestTally()
    for seconds in durations:
        tally.record(state, "ok", seconds)
        reference.labels(state).observe(seconds)
    tally.record(state, "invalid_data", 0.002)
    reference.labels(state).observe(0.002)

    assert metrics.REQUESTS.labels(state, "ok")._value.get() == 0  # nothing before a flush
    tally.flush()

    assert metrics.REQUESTS.labels(state, "ok")._value.get() == len(durations)
    assert metrics.REQUESTS.labels(state, "invalid_data")._value.get() == 1
    expected = _samples(reference, state)
    assert len(expected) == len(metrics.HANDLER_BUCKETS) + 3  # each bucket, +Inf, count, sum
    assert _samples(metrics.HANDLER_SECONDS, state) == expected
    tally.flush()  # a second flush adds nothing
    assert _samples(metrics.HANDLER_SECONDS, state) == expected


async def test_flush_every_hands_over_on_its_own_and_once_more_when_cancelled() -> None:
    state = f"tally-{uuid.uuid4().hex[:8]}"
    counter = metrics.REQUESTS.labels(state, "ok")
    flusher = asyncio.create_task(metrics.flush_every(0.01))
    try:
        metrics.REQUEST_TALLY.record(state, "ok", 0.001)
        async with asyncio.timeout(5):
            while counter._value.get() < 1:
                await asyncio.sleep(0.005)
        metrics.REQUEST_TALLY.record(state, "ok", 0.001)
    finally:
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
    assert counter._value.get() == 2  # the last record, flushed on the way out
