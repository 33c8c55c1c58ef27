"""Faults with nothing lost: kill -9 mid-burst, SIGTERM under load, the database going
away mid-session. (Several workers and Redis outages: test_redis_faults.py.)

The members of these tests behave as the protocol asks of a client: every
`sendMessage` carries a `client_id`; after a reconnect a member resumes each room
with `joinRoom {since}` from the highest seq up to which it holds every message,
then retries, with the same `client_id`, whatever got no reply. The checks:
every acknowledged message is in the database, every intended message is stored
exactly once, and every member ends up holding exactly what the database holds.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.client import SocketClient
from tests.conftest import RunningServer, create_account, make_settings, migrate, run_server
from tests.hardening.support import (
    UNLIMITED,
    Member,
    check_nothing_lost,
    members_on,
    private_postgres,
    stored,
)
from tests.process import free_port, server_process

pytestmark = pytest.mark.slow


async def until_acked(members: list[Member], count: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while sum(len(m.acked) for m in members) < count:
            await asyncio.sleep(0.002)


async def recover(members: list[Member], socket_url: str) -> dict[str, int]:
    """Reconnect, resume, retry: what a client does after losing its server."""
    for member in members:
        member.client = None
        await member.connect(socket_url)
    recovered = [await member.resume() for member in members]
    retried = [await member.retry_unacked() for member in members]
    return {"recovered_with_since": sum(recovered), "retried": sum(retried)}


async def test_kill_9_mid_burst_loses_no_acknowledged_message(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """Four members pipeline 60 messages each; the server is killed (SIGKILL) once 40
    replies are in, restarted on the same port; the members come back, resume and retry."""
    port, per_member = free_port(), 60
    env = {"DATABASE_URL": settings.DATABASE_URL, **UNLIMITED}
    async with server_process(tmp_path, app="app.main:create_app", port=port, **env) as first:
        members, room = await members_on([first] * 4, f"faults-{uuid.uuid4().hex[:8]}")
        bursts = [m.burst(per_member, "kill") for m in members]
        pumps = [asyncio.create_task(m.drain()) for m in members]
        await until_acked(members, 40)
        first.signal(signal.SIGKILL)
        await first.wait()
        await asyncio.gather(*pumps, *bursts)
    acked_before = {cid: msg["id"] for m in members for cid, msg in m.acked.items()}
    unacked_before = {(m.account.id, cid) for m in members for cid in m.unacked}
    at_restart = await stored(settings.DATABASE_URL, room)
    committed_unacked = [row for row in at_restart if (row[2], row[3]) in unacked_before]

    async with server_process(tmp_path, app="app.main:create_app", port=port, **env) as second:
        recovery = await recover(members, second.socket_url)
        rows = await stored(settings.DATABASE_URL, room)
        for member in members:
            await member.converge(len(rows))
        for member in members:
            await member.close()
    outcome = check_nothing_lost(members, rows, acked_before)
    figures.update(
        {
            "members": len(members),
            "messages_sent": sum(len(m.sent) for m in members),
            "acknowledged_before_the_kill": len(acked_before),
            "stored_but_unacknowledged_at_the_kill": len(committed_unacked),
            "live_messages_out_of_seq_order": sum(m.out_of_order for m in members),
            **recovery,
            **outcome,
        }
    )


async def test_sigterm_under_load_flushes_replies_and_closes_with_1001(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """SIGTERM while four members send and 100 idle sockets wait: every socket gets
    1001, the process is gone within seconds, and, unlike after kill -9, nothing is
    stored without its reply having been sent."""
    port, per_member, idle_count = free_port(), 60, 100
    env = {
        "DATABASE_URL": settings.DATABASE_URL,
        "SOCKET_MAX_CONNECTIONS_PER_USER": "50",
        **UNLIMITED,
    }
    async with server_process(tmp_path, app="app.main:create_app", port=port, **env) as first:
        members, room = await members_on([first] * 4, f"faults-{uuid.uuid4().hex[:8]}")
        idle = [
            await SocketClient.connect(first.socket_url, members[n % 4].account.token)
            for n in range(idle_count)
        ]
        codes: list[int | None] = []

        async def pump(member: Member) -> None:
            assert member.client is not None
            await member.drain()
            codes.append(await member.client.closed(timeout=15))

        bursts = [m.burst(per_member, "term") for m in members]
        pumps = [asyncio.create_task(pump(m)) for m in members]
        await until_acked(members, 40)
        first.signal(signal.SIGTERM)
        started = time.monotonic()
        idle_codes = await asyncio.gather(*(client.closed(timeout=15) for client in idle))
        await asyncio.gather(*pumps, *bursts)
        exit_code = await first.wait(timeout=15)
        exited_after = time.monotonic() - started
    assert Counter(idle_codes) == {1001: idle_count}
    assert Counter(codes) == {1001: len(members)}
    assert exit_code in (0, -signal.SIGTERM)
    assert exited_after < 10
    at_exit = await stored(settings.DATABASE_URL, room)
    acked_before = {cid: msg["id"] for m in members for cid, msg in m.acked.items()}
    # every message stored was acknowledged: the in-flight replies were all sent
    assert {row[3] for row in at_exit} == set(acked_before)

    async with server_process(tmp_path, app="app.main:create_app", port=port, **env) as second:
        recovery = await recover(members, second.socket_url)
        rows = await stored(settings.DATABASE_URL, room)
        for member in members:
            await member.converge(len(rows))
            await member.close()
    outcome = check_nothing_lost(members, rows, acked_before)
    figures.update(
        {
            "members": len(members),
            "idle_sockets": idle_count,
            "messages_sent": sum(len(m.sent) for m in members),
            "acknowledged_before_sigterm": len(acked_before),
            "exit_seconds": round(exited_after, 2),
            **recovery,
            **outcome,
        }
    )


# the database going away


async def outage_round_trip(
    srv: RunningServer,
    stop: Callable[[], Any],
    start: Callable[[], Any],
    figures: dict[str, Any],
    request_timeout: float = 10,
    check_health: bool = True,
) -> None:
    """Alice posts while the database is away; Bob, on another socket, is not held up;
    both sockets survive; everything works again once the database is back."""
    async with httpx.AsyncClient(base_url=srv.url) as http:
        alice_account, bob_account = await create_account(http), await create_account(http)
        alice = await srv.connect(alice_account.token)
        bob = await srv.connect(bob_account.token)
        room = (await alice.request("createRoom", {"name": f"outage-{uuid.uuid4().hex[:8]}"}))[
            "room"
        ]["id"]
        await alice.request("joinRoom", {"room": room})
        await bob.request("joinRoom", {"room": room})
        before = (await alice.request("sendMessage", {"room": room, "text": "before"}))["message"]
        await bob.expect("message")

        await stop()
        started = time.monotonic()
        sending = asyncio.create_task(
            alice.request_frame(
                "sendMessage",
                {"room": room, "text": "during", "client_id": "during"},
                timeout=request_timeout + 30,
            )
        )
        assert (await bob.request("ping"))["time"]  # another socket is not held up
        failed = await sending
        failed_after = time.monotonic() - started
        assert failed["code"] == "internal_error", failed
        assert (await alice.request("ping"))["time"]  # the socket survived
        if check_health:
            health = await http.get("/api/v1/health")
            assert health.status_code == 503 and health.json()["database"] == "unavailable"

        await start()
        started = time.monotonic()
        async with asyncio.timeout(30):
            while (await http.get("/api/v1/health")).status_code != 200:
                await asyncio.sleep(0.1)
        retried = (
            await alice.request(
                "sendMessage", {"room": room, "text": "during", "client_id": "during"}
            )
        )["message"]
        recovered_after = time.monotonic() - started
        assert retried["seq"] == before["seq"] + 1  # the failed attempt left no gap
        assert await bob.expect("message") == retried
        again = await alice.request(
            "sendMessage", {"room": room, "text": "during", "client_id": "during"}
        )
        assert again["message"] == retried  # stored once
    figures.update(
        {
            "request_failed_after_seconds": round(failed_after, 2),
            "working_again_after_seconds": round(recovered_after, 2),
        }
    )


@pytest.mark.postgres
async def test_postgres_stopping_mid_session(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """A private PostgreSQL cluster, stopped (`pg_ctl -m immediate`) and started again."""
    if settings.is_sqlite:
        pytest.skip("the PostgreSQL variant")
    async with private_postgres() as pg:
        await asyncio.to_thread(migrate, pg.url)
        async with run_server(make_settings(tmp_path, pg.url)) as srv:
            await outage_round_trip(srv, pg.stop, pg.start, figures)


async def test_sqlite_locked_mid_session(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """SQLite's way of being unavailable: another process holds the write lock (a
    backup, a migration, a stuck sqlite3 shell). Requests wait out the busy timeout
    (15 s), then fail; the lock released, all is well.

    (Making the file read-only would need a non-root user: root ignores file modes.)
    """
    if not settings.is_sqlite:
        pytest.skip("the SQLite variant")
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    holder: list[sqlite3.Connection] = []

    async def lock() -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        holder.append(connection)

    async def unlock() -> None:
        connection = holder.pop()
        connection.execute("ROLLBACK")
        connection.close()

    async with run_server(make_settings(tmp_path, url)) as srv:
        # (the health check would wait out the busy timeout too: not asked here)
        await outage_round_trip(srv, lock, unlock, figures, request_timeout=15, check_health=False)
