"""Abuse: floods, oversize frames, silent and half-open connections, dead peers, a
reader that stopped, too many sockets at once. Each gets its documented outcome
while an honest client beside it keeps its normal latency.

(The single-connection versions are in tests/realtime/test_socket.py; these are
the crowds, the races and the recoveries.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.client import SocketClient, slow_link
from tests.conftest import RunningServer, create_account
from tests.hardening.support import Prober, RawPeer
from tests.process import server_process

CustomServer = Callable[..., AbstractAsyncContextManager[RunningServer]]
UNAUTHORIZED = {
    "state": "error",
    "error": "Could not validate credentials.",
    "code": "unauthorized",
    "request": None,
}
#: An honest client's pings while the server is under attack: the median and the
#: slowest must stay under these (generous: CI has two cores, shared with the attack).
MEDIAN_LIMIT = 0.1
#: Frames a flooder keeps in flight. More than SOCKET_SEND_QUEUE (1000) in one burst
#: gets even a reading client closed with 1013: bug 5 in test_findings.py.
WINDOW = 200
MAX_LIMIT = 2.0


def once(settings: Settings) -> None:
    """For the cases that do not depend on the database: run them on one of them."""
    if not settings.is_sqlite:
        pytest.skip("independent of the database: runs once, with SQLite")


def assert_normal(prober: Prober) -> dict[str, float | int]:
    summary = prober.summary()
    assert summary["p50_ms"] < MEDIAN_LIMIT * 1000, summary
    assert summary["max_ms"] < MAX_LIMIT * 1000, summary
    return summary


async def accounts(server_url: str, count: int, prefix: str = "User") -> list[Any]:
    async with httpx.AsyncClient(base_url=server_url, timeout=30) as http:
        return [await create_account(http, f"{prefix} {n}") for n in range(count)]


# floods


async def test_floods_are_answered_in_place_while_others_keep_their_latency(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """Four clients fire 2500 frames each, as fast as they can (with at most 200 in
    flight), at the default rate limit (20/s, burst 40): every frame gets exactly one
    answer, in order, almost all `rate_limited`; no flooder is disconnected; an honest
    client does not notice. The server runs in its own process, so the flood's own cost
    is not counted."""
    once(settings)
    flooders_count, frames_each = 4, 2500
    async with server_process(
        tmp_path, app="app.main:create_app", DATABASE_URL=settings.DATABASE_URL
    ) as srv:
        honest, *floods = await accounts(srv.url, 1 + flooders_count)
        flooders = [await SocketClient.connect(srv.socket_url, who.token) for who in floods]
        async with Prober(await SocketClient.connect(srv.socket_url, honest.token)) as baseline:
            await asyncio.sleep(1.0)  # a second of pings before the flood, for comparison
        outcome: Counter[str] = Counter()

        async def flood(client: SocketClient) -> float:
            started = time.monotonic()

            async def send_all() -> None:
                for n in range(frames_each):
                    while n - len(answers) >= WINDOW:  # see test_findings.py, bug 5
                        await asyncio.sleep(0.001)
                    kind = n % 10
                    if kind < 7:
                        await client.send({"state": "ping", "id": n})
                    elif kind < 9:
                        await client.send("{oops" + str(n))
                    else:
                        await client.send({"state": 5, "id": n})

            answers: list[dict[str, Any]] = []
            sending = asyncio.create_task(send_all())
            while len(answers) < frames_each:
                answers.append(await client.recv(timeout=30))
            await sending
            elapsed = time.monotonic() - started
            ids = [a["id"] for a in answers if "id" in a]
            assert ids == sorted(ids) and len(answers) == frames_each  # one each, in order
            served = [a for a in answers if a.get("code") != "rate_limited"]
            outcome.update(a.get("code", "reply") for a in answers)
            # the bucket: a burst of 40, then 20 a second
            assert len(served) <= 40 + 20 * elapsed + 2, (len(served), elapsed)
            return elapsed

        async with Prober(await SocketClient.connect(srv.socket_url, honest.token)) as during:
            elapsed = await asyncio.gather(*(flood(client) for client in flooders))
        await asyncio.sleep(0.2)  # the buckets refill: every flooder is still connected
        for client in flooders:
            assert (await client.request("ping"))["time"]
            await client.close()
        figures.update(
            {
                "flooders": flooders_count,
                "frames_flooded": flooders_count * frames_each,
                "answers": dict(sorted(outcome.items())),
                "flood_seconds": round(max(elapsed), 2),
                "honest_before": baseline.summary(),
                "honest_during": assert_normal(during),
            }
        )


# oversize frames


async def test_oversize_frames_close_only_their_own_connection(
    settings: Settings, custom_server: CustomServer, figures: dict[str, Any]
) -> None:
    """Over SOCKET_MAX_MESSAGE_BYTES: the first message is refused as a handshake
    (unauthorized, 1008); after it, 1009. Past the server's hard frame cap (4x the
    setting) uvicorn closes with 1009 before the app sees a byte. Others carry on."""
    once(settings)
    limit = 4096
    cases = [
        ("first", "text", limit + 1, 1008),
        ("first", "binary", limit + 1, 1008),
        ("first", "text", 4 * limit + 1, 1009),
        ("after", "binary", limit + 1, 1009),
        ("after", "text", 4 * limit + 1, 1009),
        ("after", "binary", 64 * limit, 1009),
    ]
    async with custom_server(SOCKET_MAX_MESSAGE_BYTES=limit) as srv:
        honest, attacker = await accounts(srv.url, 2)
        seen = []
        async with Prober(await srv.connect(honest.token), every=0.05) as prober:
            for _ in range(5):  # each case several times, concurrently
                await asyncio.gather(*(oversize(srv, attacker.token, *case) for case in cases))
                seen += cases
        figures.update({"oversize_frames": len(seen), "honest_during": assert_normal(prober)})


async def oversize(
    srv: RunningServer, token: str, when: str, kind: str, size: int, code: int
) -> None:
    client = await SocketClient.connect(srv.socket_url, token if when == "after" else None)
    frame = "x" * size  # the size is checked before anything is parsed
    await client.send(frame.encode() if kind == "binary" else frame)
    if code == 1008:
        assert await client.recv() == UNAUTHORIZED
    assert await client.closed() == code, (when, kind, size)


# connections that never authenticate, or never finish anything


@pytest.mark.slow
async def test_a_crowd_of_silent_and_half_open_connections(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """600 sockets that never send a token, 300 upgraded TCP connections that then go
    completely silent (no reads, no pongs), 100 half-sent HTTP requests. The first two
    kinds are all closed at the auth timeout with unauthorized/1008; the honest client's
    pings and a newcomer's handshake stay fast throughout."""
    once(settings)
    silent_count, frozen_count, partial_count = 600, 300, 100
    auth_timeout = 3.0
    async with server_process(
        tmp_path,
        app="app.main:create_app",
        DATABASE_URL=settings.DATABASE_URL,
        SOCKET_AUTH_TIMEOUT=str(auth_timeout),
    ) as srv:
        honest, newcomer = await accounts(srv.url, 2)
        rss_before = rss_kib(srv.process.pid)
        gate = asyncio.Semaphore(100)

        async def silent() -> SocketClient:
            async with gate:
                return await SocketClient.connect(srv.socket_url)

        async def frozen() -> RawPeer:
            async with gate:
                return await RawPeer.open(srv.socket_url)

        async def partial() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            async with gate:
                reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
                writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                await writer.drain()
                return reader, writer

        honest_client = await SocketClient.connect(srv.socket_url, honest.token)
        async with Prober(honest_client, every=0.1) as prober:
            started = time.monotonic()
            crowd = await asyncio.gather(
                asyncio.gather(*(silent() for _ in range(silent_count))),
                asyncio.gather(*(frozen() for _ in range(frozen_count))),
                asyncio.gather(*(partial() for _ in range(partial_count))),
            )
            opened = time.monotonic() - started
            silent_clients, frozen_peers, partials = crowd
            held = silent_count + frozen_count + partial_count
            rss_held = rss_kib(srv.process.pid)
            handshake_started = time.monotonic()
            late = await SocketClient.connect(srv.socket_url, newcomer.token)
            handshake = time.monotonic() - handshake_started
            assert handshake < MAX_LIMIT, handshake

            async def refused(client: SocketClient) -> None:
                assert await client.recv(timeout=auth_timeout + 15) == UNAUTHORIZED
                assert await client.closed(timeout=10) == 1008

            await asyncio.gather(*(refused(client) for client in silent_clients))
            closed_after = time.monotonic() - started
            codes = await asyncio.gather(*(peer.dropped(timeout=15) for peer in frozen_peers))
            assert Counter(codes) == {1008: frozen_count}
            for peer in frozen_peers:
                assert peer.frames == [UNAUTHORIZED]
                peer.abort()
            assert (await late.request("ping"))["time"]

        async def closed_by_server(reader: asyncio.StreamReader) -> bool:
            try:
                return await asyncio.wait_for(reader.read(1), 0.2) == b""
            except TimeoutError:
                return False

        partial_closed = sum(await asyncio.gather(*(closed_by_server(r) for r, _ in partials)))
        for _, writer in partials:
            writer.transport.abort()
        figures.update(
            {
                "connections_held": held,
                "never_sent_a_token": silent_count,
                "upgraded_then_silent": frozen_count,
                "half_sent_http_requests": partial_count,
                "seconds_to_open_all": round(opened, 1),
                "all_refused_after_seconds": round(closed_after, 1),
                "half_sent_requests_closed_by_the_server": partial_closed,
                "newcomer_handshake_ms": round(handshake * 1000, 1),
                "server_rss_kib": {"before": rss_before, "holding": rss_held},
                "honest_during": assert_normal(prober),
            }
        )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
async def test_a_dead_peer_is_dropped_and_leaves_presence(
    settings: Settings, tmp_path: Path, figures: dict[str, Any]
) -> None:
    """A peer that stops answering protocol pings (ping every 2 s, timeout 2 s here) is
    dropped, and the room is told it went offline."""
    once(settings)
    async with server_process(
        tmp_path, app="app.main:create_app", DATABASE_URL=settings.DATABASE_URL
    ) as srv:
        alice_account, bob_account = await accounts(srv.url, 2, "Peer")
        alice = await SocketClient.connect(srv.socket_url, alice_account.token)
        room = (await alice.request("createRoom", {"name": f"dead-{uuid.uuid4().hex[:8]}"}))[
            "room"
        ]["id"]
        await alice.request("joinRoom", {"room": room})
        bob = await RawPeer.open(srv.socket_url)
        await bob.send_json({"token": bob_account.token})
        assert (await bob.recv_json())["state"] == "initialised"
        await bob.send_json({"state": "joinRoom", "id": 1, "data": {"room": room}})
        while (await bob.recv_json()).get("id") != 1:
            pass
        await alice.expect("presence", where=lambda d: len(d["online"]) == 2)
        frozen_at = time.monotonic()  # from here bob reads nothing and answers nothing
        gone = await alice.expect("presence", where=lambda d: len(d["online"]) == 1, timeout=15)
        dropped_after = time.monotonic() - frozen_at
        assert gone["online"] == [{"id": alice_account.id, "full_name": alice_account.full_name}]
        assert 1.0 < dropped_after < 10, dropped_after  # about ping interval + timeout
        bob.abort()
        await alice.close()
        figures.update({"dead_peer_dropped_after_seconds": round(dropped_after, 1)})


# a reader that stopped


async def test_a_stopped_reader_is_closed_with_1013_and_recovers_everything(
    custom_server: CustomServer, figures: dict[str, Any]
) -> None:
    """A member stops reading while a room is busy: its queue overflows and it is
    closed with 1013; the others get every message in order; reconnecting with
    `since` brings it everything it missed."""
    count, queue = 500, 50
    text = "\U0001f600" * 3990  # 16 KB a message: fills the socket buffers quickly
    async with custom_server(
        SOCKET_SEND_QUEUE=queue, SOCKET_RATE_LIMIT=1_000_000, SOCKET_RATE_BURST=1_000_000
    ) as srv:
        slow_account, sender_account, reader_account = await accounts(srv.url, 3, "Busy")
        slow = await SocketClient.connect(
            srv.socket_url,
            slow_account.token,
            sock=slow_link(srv.port),
            max_queue=1,
            compression=None,
        )
        sender = await srv.connect(sender_account.token)
        reader = await srv.connect(reader_account.token)
        srv.clients.append(slow)
        room = (await sender.request("createRoom", {"name": f"busy-{uuid.uuid4().hex[:8]}"}))[
            "room"
        ]["id"]
        for client in (slow, sender, reader):
            await client.request("joinRoom", {"room": room})

        async def read_events() -> list[dict[str, Any]]:
            return [await reader.expect("message", timeout=30) for _ in range(count)]

        reading = asyncio.create_task(read_events())
        replies: list[dict[str, Any]] = []
        window = 10  # the sender keeps at most 10 requests in flight, as a real client would
        for n in range(count):
            await sender.send(
                {"state": "sendMessage", "id": n, "data": {"room": room, "text": f"{n} {text}"}}
            )
            if n >= window:
                replies.append(await sender.wait_for(lambda f, k=n - window: f.get("id") == k, 30))
        for k in range(count - window, count):
            replies.append(await sender.wait_for(lambda f, k=k: f.get("id") == k, 30))
        received = await asyncio.wait_for(reading, 60)
        assert all(r["state"] == "sendMessage" for r in replies)
        seqs = [r["data"]["message"]["seq"] for r in replies]
        assert [m["seq"] for m in received] == seqs == list(range(1, count + 1))

        assert await slow.closed(timeout=30) == 1013
        got = [f["data"] for f in slow.pending if f.get("state") == "message"]
        assert [m["seq"] for m in got] == list(range(1, len(got) + 1))  # in order, no gap
        assert len(got) < count
        # 100 messages of 16 KB make a 1.6 MB reply: more than websockets' 1 MiB default
        again = await srv.connect(slow_account.token, max_size=2**22)
        recovered, since = [], len(got)
        while True:
            page = await again.request("joinRoom", {"room": room, "since": since})
            recovered += page["messages"]
            if not page["has_more"]:
                break
            since = page["messages"][-1]["seq"]
        assert [m["seq"] for m in got + recovered] == list(range(1, count + 1))
        figures.update(
            {
                "messages": count,
                "bytes_per_message": len(text.encode()),
                "delivered_before_1013": len(got),
                "recovered_with_since": len(recovered),
                "lost": 0,
            }
        )


# too many sockets, all at once


async def test_the_per_user_limit_holds_under_a_concurrent_burst(
    settings: Settings, custom_server: CustomServer, figures: dict[str, Any]
) -> None:
    """30 handshakes of one user at the same moment, limit 5: exactly 5 get in."""
    once(settings)
    limit, attempts = 5, 30
    async with custom_server(SOCKET_MAX_CONNECTIONS_PER_USER=limit) as srv:
        who, other = await accounts(srv.url, 2)

        async def attempt() -> tuple[str, int | None, SocketClient]:
            client = await SocketClient.connect(srv.socket_url)
            srv.clients.append(client)
            await client.send({"token": who.token})
            first = await client.recv()
            if first["state"] == "initialised":
                return "in", None, client
            return first["code"], await client.closed(), client

        results = await asyncio.gather(*(attempt() for _ in range(attempts)))
        outcome = Counter(code for code, _, _ in results)
        assert outcome == {"in": limit, "too_many_connections": attempts - limit}
        assert {close for code, close, _ in results if code != "in"} == {1008}
        for code, _, client in results:
            if code == "in":  # the ones let in work normally
                assert (await client.request("ping"))["time"]
        assert (await srv.connect(other.token)).initialised["user"]["id"] == other.id
        figures.update({"attempts": attempts, "limit": limit, "outcome": dict(outcome)})
