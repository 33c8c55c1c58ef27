"""Tools the hardening tests share: a peer that can go silent, a private PostgreSQL
cluster to stop and start, an honest client that times its pings, and chat members
that keep count of what they sent, what was acknowledged and what they saw."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import json
import os
import pwd
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from app.chat.models import Message
from app.core.db import Database
from tests.client import SocketClient
from tests.conftest import Account, create_account
from tests.process import ServerProcess, free_port, server_process

# a peer whose silence the test controls


class RawPeer:
    """A real WebSocket client (websockets' sans-I/O protocol) over a plain TCP stream.

    Nothing happens unless the test calls a method: between calls it reads
    nothing, answers no ping and sends nothing, like a frozen tab or a peer
    whose network went away without a FIN.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        protocol: ClientProtocol,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = protocol
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, socket_url: str, timeout: float = 10) -> RawPeer:
        uri = parse_uri(socket_url)
        reader, writer = await asyncio.open_connection(uri.host, uri.port)
        protocol = ClientProtocol(uri)
        protocol.send_request(protocol.connect())
        peer = cls(reader, writer, protocol)
        await peer._flush()
        async with asyncio.timeout(timeout):
            while protocol.state is State.CONNECTING:
                await peer._read_some()
        if protocol.state is not State.OPEN:
            raise ConnectionError(f"upgrade refused: {protocol.handshake_exc!r}")
        return peer

    async def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def _read_some(self, *, answer: bool = True) -> bool:
        """Feed what arrives to the protocol; False at EOF. `answer=False`: never reply."""
        data = await self.reader.read(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self.frames.append(json.loads(event.data))
            elif isinstance(event, Response):
                continue
        if answer:
            await self._flush()
        else:
            self.protocol.data_to_send()  # drop pongs and close replies on the floor
        return bool(data)

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self._flush()

    async def send_burst(self, frames: list[dict[str, Any]]) -> None:
        """Many frames in a single write: they reach the server in one TCP read."""
        for frame in frames:
            self.protocol.send_text(json.dumps(frame).encode())
        await self._flush()

    async def recv_json(self, timeout: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not self.frames:
                if not await self._read_some():
                    raise ConnectionError("closed by the server")
        return self.frames.pop(0)

    async def dropped(self, timeout: float) -> int | None:
        """Read, never answering, until the server closes; the close code it sent (or None)."""
        async with asyncio.timeout(timeout):
            while await self._read_some(answer=False):
                if self.protocol.close_rcvd is not None:
                    return self.protocol.close_rcvd.code
        return self.protocol.close_rcvd.code if self.protocol.close_rcvd else None

    def abort(self) -> None:
        self.writer.transport.abort()


# a private PostgreSQL cluster, to stop and start at will


@dataclass
class PrivatePostgres:
    bindir: Path
    base: Path
    port: int
    runas: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.runas, *args], check=True, capture_output=True, timeout=60, cwd=self.base
        )

    async def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        await asyncio.to_thread(
            self._run,
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.base / "data"),
            "-o",
            options,
            "-l",
            str(self.base / "log"),
            "-w",
            "start",
        )

    async def stop(self) -> None:
        """`pg_ctl stop -m immediate`: every backend killed at once, as in a crash."""
        await asyncio.to_thread(
            self._run,
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.base / "data"),
            "-m",
            "immediate",
            "-w",
            "stop",
        )


@asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A throwaway cluster on a free loopback port (as the `postgres` user when run as root)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    bindir = Path(initdb).parent
    runas: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="hardening-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            pytest.skip("running as root and there is no postgres user to own a cluster")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        runas = ["runuser", "-u", "postgres", "--"]
    cluster = PrivatePostgres(bindir, base, free_port(), runas)
    try:
        await asyncio.to_thread(
            cluster._run,
            str(bindir / "initdb"),
            "-D",
            str(base / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        await cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            await cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


# an honest client beside the test


@dataclass
class Prober:
    """Pings every `every` seconds on its own connection and times each reply.

    Any reply that is late (over `limit` seconds), wrong, or missing is a failure,
    raised when the block ends.
    """

    client: SocketClient
    every: float = 0.05
    limit: float = 2.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for n in itertools.count():
            started = time.monotonic()
            try:
                frame = await self.client.request_frame("ping", timeout=self.limit)
            except (TimeoutError, ConnectionClosed) as exc:
                self.failures.append(f"ping {n}: {type(exc).__name__}")
                return
            elapsed = time.monotonic() - started
            if frame.get("state") != "ping" or "time" not in frame.get("data", {}):
                self.failures.append(f"ping {n}: wrong reply {frame}")
            self.latencies.append(elapsed)
            self.client.pending.clear()  # events are not the prober's business
            await asyncio.sleep(self.every)

    async def __aenter__(self) -> Prober:
        self._task = asyncio.create_task(self._run(), name="prober")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        assert not self.failures, self.failures
        assert self.latencies, "the prober never got an answer"

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.latencies)
        return {
            "pings": len(ordered),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }


# chat members that keep count


@dataclass
class Member:
    """A chat user during a fault test: what it sent, what was acknowledged, what it saw."""

    account: Account
    room: int
    client: SocketClient | None = None
    sent: dict[str, str] = field(default_factory=dict)  # client_id -> text
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # client_id -> message
    seen: dict[int, dict[str, Any]] = field(default_factory=dict)  # message id -> message
    frames_seen: int = 0  # message frames, duplicates included
    bursting: bool = False
    out_of_order: int = 0  # live messages that arrived after one with a higher seq
    _highest: int = 0
    clients: list[SocketClient] = field(default_factory=list)  # every connection it opened

    def see(self, message: dict[str, Any]) -> None:
        self.frames_seen += 1
        self.seen[message["id"]] = message

    @property
    def unacked(self) -> list[str]:
        return [cid for cid in self.sent if cid not in self.acked]

    def contiguous_seq(self) -> int:
        """The highest seq up to which this member holds every message (seq is gap-free)."""
        held = {m["seq"] for m in self.seen.values()}
        last = 0
        while last + 1 in held:
            last += 1
        return last

    async def connect(self, socket_url: str, timeout: float = 20) -> None:
        """Connect (retrying while the server comes back) and join the room."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    self.client = await SocketClient.connect(socket_url, self.account.token)
                    self.clients.append(self.client)
                    break
                except (OSError, ConnectionClosed, TimeoutError):
                    await asyncio.sleep(0.1)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()

    async def resume(self) -> int:
        """`joinRoom {since}` from what it holds, paging while `has_more`; the number of
        messages it did not hold before."""
        assert self.client is not None
        recovered = 0
        while True:
            reply = await self.client.request(
                "joinRoom", {"room": self.room, "since": self.contiguous_seq()}
            )
            recovered += sum(m["id"] not in self.seen for m in reply["messages"])
            for message in reply["messages"]:
                self.see(message)
            if not reply["has_more"]:
                return recovered

    def take_events(self) -> None:
        """Move `message` events already received into `seen`."""
        assert self.client is not None
        for frame in list(self.client.pending):
            if frame.get("state") == "message" and "id" not in frame:
                self.see(frame["data"])
                self.client.pending.remove(frame)

    async def drain(self) -> None:
        """Read replies and events until the burst is over and every message in it is
        acknowledged, or until the connection drops."""
        assert self.client is not None
        try:
            while self.bursting or self.unacked:
                try:
                    raw = await asyncio.wait_for(self.client.ws.recv(), 0.25)
                except TimeoutError:
                    continue  # cancelling recv loses nothing: look at the conditions again
                self._record(json.loads(raw))
        except ConnectionClosed:
            return

    async def sees(self, ids: set[int], timeout: float = 10) -> None:
        """Wait until every message in `ids` has been seen."""
        assert self.client is not None
        self.take_events()
        async with asyncio.timeout(timeout):
            while not ids <= set(self.seen):
                self.see(await self.client.expect("message", timeout=timeout))

    def _record(self, frame: dict[str, Any]) -> None:
        if frame.get("state") == "message" and "id" not in frame:
            message = frame["data"]
        elif frame.get("state") == "sendMessage" and isinstance(frame.get("id"), str):
            message = frame["data"]["message"]
            self.acked[frame["id"]] = message
        else:
            return
        self.out_of_order += message["seq"] < self._highest
        self._highest = max(self._highest, message["seq"])
        self.see(message)

    def burst(self, count: int, tag: str) -> asyncio.Task[None]:
        """Start pipelining `count` sendMessage requests, each with a fresh client_id used
        as its id; `drain` reads the replies."""
        self.bursting = True

        async def run() -> None:
            try:
                await self._burst(count, tag)
            finally:
                self.bursting = False

        return asyncio.create_task(run(), name=f"burst-{self.account.id}")

    async def _burst(self, count: int, tag: str) -> None:
        assert self.client is not None
        for n in range(count):
            client_id = f"{tag}-{self.account.id}-{n}-{uuid.uuid4().hex[:6]}"
            text = f"{tag} {n} from {self.account.full_name}"
            self.sent[client_id] = text
            try:
                await self.client.send(
                    {
                        "state": "sendMessage",
                        "id": client_id,
                        "data": {"room": self.room, "text": text, "client_id": client_id},
                    }
                )
            except ConnectionClosed:
                return

    async def retry_unacked(self) -> int:
        """Send again, with the same client_id, every message that got no reply."""
        assert self.client is not None
        retried = 0
        for client_id in self.unacked:
            reply = await self.client.request(
                "sendMessage",
                {"room": self.room, "text": self.sent[client_id], "client_id": client_id},
            )
            self.acked[client_id] = reply["message"]
            self.see(reply["message"])
            retried += 1
        return retried

    async def converge(self, last_seq: int, timeout: float = 15) -> None:
        """Wait until every message up to `last_seq` has been seen (as a reply or an event)."""
        assert self.client is not None
        self.take_events()
        async with asyncio.timeout(timeout):
            while self.contiguous_seq() < last_seq:
                message = await self.client.expect("message", timeout=timeout)
                self.see(message)


# what the database holds, and the check that nothing was lost

#: Bursts in fault tests pipeline dozens of requests: the rate limit is not under test there.
UNLIMITED = {"SOCKET_RATE_LIMIT": "1000000", "SOCKET_RATE_BURST": "1000000"}


async def stored(database_url: str, room: int) -> list[tuple[int, int, int | None, str | None]]:
    """(id, seq, user id, client_id) of the room's messages, straight from the database."""
    database = Database(database_url)
    try:
        async with database.sessionmaker() as db:
            rows = await db.execute(
                select(Message.id, Message.seq, Message.user_id, Message.client_id)
                .where(Message.room_id == room)
                .order_by(Message.seq)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        await database.dispose()


def check_nothing_lost(
    members: list[Member],
    rows: list[tuple[int, int, int | None, str | None]],
    acked_before: dict[str, int],
) -> dict[str, int]:
    """The database holds every acknowledged and every intended message once, seq 1..N,
    and every member holds exactly the database."""
    ids = [row[0] for row in rows]
    assert [row[1] for row in rows] == list(range(1, len(rows) + 1))  # no gap, no duplicate
    lost = [cid for cid, message_id in acked_before.items() if message_id not in ids]
    assert lost == []
    keys = Counter((row[2], row[3]) for row in rows)
    assert max(keys.values()) == 1  # no client_id stored twice
    intended = {(m.account.id, cid) for m in members for cid in m.sent}
    assert set(keys) == intended
    for member in members:
        assert sorted(member.seen) == sorted(ids)
        assert [member.seen[i]["seq"] for i in ids] == list(range(1, len(ids) + 1))
    return {"lost": len(lost), "stored": len(rows)}


# several workers sharing PostgreSQL and Redis

PRESENCE_LIMIT = 45.0  # PRESENCE_TTL (30 s) after the last heartbeat (every 10 s), and slack


@asynccontextmanager
async def workers(
    tmp_path: Path, database: str, broadcast: str, count: int = 2
) -> AsyncIterator[list[ServerProcess]]:
    """Like tests/chat/test_redis.py's, with the rate limit out of the way of the bursts."""
    prefix = f"hardening-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                server_process(
                    tmp_path,
                    app="app.main:create_app",
                    DATABASE_URL=database,
                    BROADCAST_URL=broadcast,
                    BROADCAST_PREFIX=prefix,
                    **UNLIMITED,
                )
            )
            for _ in range(count)
        ]


async def members_on(placement: list[ServerProcess], room_name: str) -> tuple[list[Member], int]:
    """One member per entry of `placement`, connected to that process, all in one room."""
    async with httpx.AsyncClient(base_url=placement[0].url, timeout=30) as http:
        people = [await create_account(http, f"Member {n}") for n in range(len(placement))]
    owner = await SocketClient.connect(placement[0].socket_url, people[0].token)
    room = (await owner.request("createRoom", {"name": room_name}))["room"]["id"]
    await owner.close()
    members = [Member(who, room) for who in people]
    for member, process in zip(members, placement, strict=True):
        await member.connect(process.socket_url)
        assert member.client is not None
        await member.client.request("joinRoom", {"room": room})
    return members, room


async def online_count(member: Member) -> int:
    assert member.client is not None
    rooms = (await member.client.request("listRooms"))["rooms"]
    return next(r["online_count"] for r in rooms if r["id"] == member.room)


async def until_online(member: Member, expected: int, timeout: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while await online_count(member) != expected:
            await asyncio.sleep(0.25)
    return time.monotonic() - started
