"""Several workers sharing PostgreSQL and Redis: one killed mid-burst, Redis stopping
and coming back mid-burst. Nothing acknowledged is lost, nothing is stored twice,
every member ends up holding exactly what the database holds, and presence heals.

(tests/chat/test_redis.py has the single-message versions; these add the bursts,
the retries and presence.)
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chat.test_redis import private_redis, redis_url, shared_database, wait_status
from tests.hardening.support import (
    PRESENCE_LIMIT,
    check_nothing_lost,
    members_on,
    stored,
    until_online,
    workers,
)
from tests.process import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]
__all__ = ["shared_database"]  # the fixture, imported to be used here


async def test_killing_one_of_two_workers_mid_burst_loses_nothing(
    tmp_path: Path, shared_database: str, figures: dict[str, Any]
) -> None:
    async with workers(tmp_path, shared_database, redis_url()) as (a, b):
        members, room = await members_on([a, a, b, b, b], f"kill-{uuid.uuid4().hex[:8]}")
        talkers = members[:4]  # the fifth, on b, is a lurker who never comes back
        on_b = talkers[2:]
        await until_online(talkers[0], 5, 10)
        bursts = [m.burst(30, "worker") for m in talkers]
        drains = [asyncio.create_task(m.drain()) for m in talkers]
        await asyncio.sleep(0)
        async with asyncio.timeout(30):
            while sum(len(m.acked) for m in talkers) < 30:
                await asyncio.sleep(0.002)
        b.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await b.wait()
        await asyncio.gather(*bursts, *drains)  # a's members finish; b's drop
        acked_before = {cid: msg["id"] for m in talkers for cid, msg in m.acked.items()}
        unacked_on_b = sum(len(m.unacked) for m in on_b)

        for member in on_b:  # fail over to the surviving worker
            member.client = None
            await member.connect(a.socket_url)
        recovered = [await m.resume() for m in talkers]
        retried = [await m.retry_unacked() for m in on_b]
        rows = await stored(shared_database, room)
        for member in talkers:
            await member.converge(len(rows))
        outcome = check_nothing_lost(talkers, rows, acked_before)

        # the crashed worker's sockets stop counting as online (the lurker's among them)
        expired_after = await until_online(talkers[0], 4, PRESENCE_LIMIT)
        for member in members:
            await member.close()
    figures.update(
        {
            "members": len(talkers),
            "messages_sent": sum(len(m.sent) for m in talkers),
            "acknowledged_before_the_kill": len(acked_before),
            "unacknowledged_on_the_killed_worker": unacked_on_b,
            "live_messages_out_of_seq_order": sum(m.out_of_order for m in talkers),
            "recovered_with_since": sum(recovered),
            "retried": sum(retried),
            "crashed_workers_users_offline_after_seconds": round(time.monotonic() - killed_at, 1),
            "waited_for_presence_seconds": round(expired_after, 1),
            **outcome,
        }
    )


async def test_redis_stopping_mid_burst_loses_nothing_and_presence_heals(
    tmp_path: Path, shared_database: str, figures: dict[str, Any]
) -> None:
    redis_url()  # only where Redis tests are enabled
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    shared = shared_database
    async with private_redis(port) as first_redis, workers(tmp_path, shared, url) as (a, b):
        members, room = await members_on([a, a, b, b], f"redis-{uuid.uuid4().hex[:8]}")
        m0, m1, m2, m3 = members
        await until_online(m0, 4, 10)
        await until_online(m2, 4, 10)

        first_redis.kill()
        first_redis.wait(10)
        await wait_status(a, "unavailable")
        bursts = [m.burst(20, "outage") for m in members]
        drains = [asyncio.create_task(m.drain()) for m in members]
        await asyncio.gather(*bursts, *drains)
        acked = {cid: msg["id"] for m in members for cid, msg in m.acked.items()}
        assert len(acked) == 80  # every message was acknowledged during the outage
        # local delivery never stopped: each member got its process-mate's messages
        await m1.sees({msg["id"] for msg in m0.acked.values()})
        await m3.sees({msg["id"] for msg in m2.acked.values()})
        async with httpx.AsyncClient(base_url=a.url) as http:
            health = (await http.get("/api/v1/health")).json()
        assert health["status"] == "degraded" and health["broadcast"] == "unavailable"

        async with private_redis(port):  # an empty Redis: presence must be rebuilt
            started = time.monotonic()
            await wait_status(a, "ok")
            await wait_status(b, "ok")
            reconnected = time.monotonic() - started
            healed = max(await until_online(m0, 4, 20), await until_online(m2, 4, 20))
            recovered = [await m.resume() for m in members]
            rows = await stored(shared, room)
            for member in members:
                await member.converge(len(rows))
            outcome = check_nothing_lost(members, rows, acked)
            assert m0.client is not None and m2.client is not None
            live = (await m0.client.request("sendMessage", {"room": room, "text": "back"}))[
                "message"
            ]
            assert await m2.client.expect("message", where=lambda m: m["id"] == live["id"])
        for member in members:
            await member.close()
    figures.update(
        {
            "members": len(members),
            "messages_sent_during_the_outage": len(acked),
            "live_messages_out_of_seq_order": sum(m.out_of_order for m in members),
            "recovered_with_since": sum(recovered),
            "redis_reconnected_after_seconds": round(reconnected, 1),
            "presence_rebuilt_after_seconds": round(reconnected + healed, 1),
            **outcome,
        }
    )


async def test_resuming_from_the_highest_seq_held_misses_what_did_not_cross(
    tmp_path: Path, shared_database: str, figures: dict[str, Any]
) -> None:
    """Across processes, messages can arrive out of seq order, and some never arrive
    live at all (Redis was away). A client that resumes from the highest seq it holds,
    as docs/protocol.md words it, skips the hole; one that resumes from the highest seq
    up to which it holds everything (seq is gap-free, so holes show) gets it back."""
    redis_url()
    port = free_port()
    async with (
        private_redis(port) as first_redis,
        workers(tmp_path, shared_database, f"redis://127.0.0.1:{port}/0") as (a, b),
    ):
        (reader, poster_b, poster_a), room = await members_on(
            [a, b, a], f"hole-{uuid.uuid4().hex[:8]}"
        )
        assert reader.client and poster_b.client and poster_a.client
        first_redis.kill()
        first_redis.wait(10)
        await wait_status(b, "unavailable")
        stuck = (await poster_b.client.request("sendMessage", {"room": room, "text": "on b"}))[
            "message"
        ]
        crossed = (await poster_a.client.request("sendMessage", {"room": room, "text": "on a"}))[
            "message"
        ]
        assert crossed["seq"] == stuck["seq"] + 1
        await reader.sees({crossed["id"]})  # delivered locally; the one from b never comes
        held = {m["seq"] for m in reader.seen.values()}
        assert stuck["seq"] not in held

        highest = await reader.client.request("joinRoom", {"room": room, "since": max(held)})
        assert highest["messages"] == []  # the literal recipe: the hole stays a hole
        contiguous = await reader.client.request(
            "joinRoom", {"room": room, "since": reader.contiguous_seq()}
        )
        assert stuck in contiguous["messages"]
        for member in (reader, poster_b, poster_a):
            await member.close()
    figures.update({"hole_at_seq": stuck["seq"], "highest_seq_held": max(held)})
