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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.client import SocketClient
from tests.conftest import Account
from tests.process import free_port

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


def close_code(frame: Close | None) -> int | None:
    return frame.code if frame is not None else None


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
                    break
                except (OSError, ConnectionClosed, TimeoutError):
                    await asyncio.sleep(0.1)

    async def resume(self) -> int:
        """`joinRoom {since}` from what it holds, paging while `has_more`; messages recovered."""
        assert self.client is not None
        recovered = 0
        while True:
            reply = await self.client.request(
                "joinRoom", {"room": self.room, "since": self.contiguous_seq()}
            )
            for message in reply["messages"]:
                self.see(message)
            recovered += len(reply["messages"])
            if not reply["has_more"]:
                return recovered

    def take_events(self) -> None:
        """Move `message` events already received into `seen`."""
        assert self.client is not None
        for frame in list(self.client.pending):
            if frame.get("state") == "message" and "id" not in frame:
                self.see(frame["data"])
                self.client.pending.remove(frame)

    async def pump(self) -> None:
        """Read frames until the connection drops, recording replies and events."""
        assert self.client is not None
        try:
            while True:
                frame = json.loads(await self.client.ws.recv())
                self._record(frame)
        except ConnectionClosed:
            return

    def _record(self, frame: dict[str, Any]) -> None:
        if frame.get("state") == "message" and "id" not in frame:
            self.see(frame["data"])
        elif frame.get("state") == "sendMessage" and isinstance(frame.get("id"), str):
            self.acked[frame["id"]] = frame["data"]["message"]
            self.see(frame["data"]["message"])

    async def burst(self, count: int, tag: str) -> None:
        """Pipeline `count` sendMessage requests, each with a fresh client_id used as its id."""
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
