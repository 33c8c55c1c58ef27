"""Several processes sharing PostgreSQL and Redis: fan-out, presence, failover, Redis outages."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.client import SocketClient
from tests.conftest import create_account, fresh_postgres, migrate
from tests.process import ServerProcess, free_port, server_process

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

APP = "app.main:create_app"


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    return url


@pytest.fixture(scope="module")
async def shared_database() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        await asyncio.to_thread(migrate, url)
        yield url


@asynccontextmanager
async def workers(
    tmp_path: Path, database: str, broadcast: str, count: int = 2
) -> AsyncIterator[list[ServerProcess]]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    started: list[ServerProcess] = []
    contexts = [
        server_process(
            tmp_path,
            app=APP,
            DATABASE_URL=database,
            BROADCAST_URL=broadcast,
            BROADCAST_PREFIX=prefix,
        )
        for _ in range(count)
    ]
    try:
        for context in contexts:
            started.append(await context.__aenter__())
        yield started
    finally:
        for context in reversed(contexts[: len(started)]):
            await context.__aexit__(None, None, None)


async def chat_pair(
    a: ServerProcess, b: ServerProcess
) -> tuple[SocketClient, SocketClient, int, list[int]]:
    async with httpx.AsyncClient(base_url=a.url) as http:
        alice, bob = await create_account(http, "Alice"), await create_account(http, "Bob")
    on_a = await SocketClient.connect(a.socket_url, alice.token)
    on_b = await SocketClient.connect(b.socket_url, bob.token)
    room = (await on_a.request("createRoom", {"name": f"r-{uuid.uuid4().hex[:8]}"}))["room"]["id"]
    await on_a.request("joinRoom", {"room": room})
    await on_b.request("joinRoom", {"room": room})
    return on_a, on_b, room, [alice.id, bob.id]


async def test_clients_on_different_processes_chat_and_see_presence(
    tmp_path: Path, shared_database: str
) -> None:
    async with workers(tmp_path, shared_database, redis_url()) as (a, b):
        on_a, on_b, room, (alice, bob) = await chat_pair(a, b)
        presence = await on_a.expect("presence", where=lambda d: len(d["online"]) == 2)
        assert {u["id"] for u in presence["online"]} == {alice, bob}
        joined = await on_a.expect("userJoined")
        assert joined["user"]["id"] == bob

        sent = (await on_a.request("sendMessage", {"room": room, "text": "across"}))["message"]
        assert await on_b.expect("message") == sent
        await on_b.request("typing", {"room": room})
        assert (await on_a.expect("typing"))["user"]["id"] == bob
        rooms = {r["id"]: r for r in (await on_b.request("listRooms"))["rooms"]}
        assert rooms[room]["online_count"] == 2

        await on_b.close()
        gone = await on_a.expect("presence", where=lambda d: len(d["online"]) == 1)
        assert [u["id"] for u in gone["online"]] == [alice]
        for process in (a, b):
            async with httpx.AsyncClient(base_url=process.url) as http:
                assert (await http.get("/api/v1/health")).json()["broadcast"] == "ok"
        await on_a.close()


async def test_clients_of_a_killed_process_recover_everything_on_the_other(
    tmp_path: Path, shared_database: str
) -> None:
    async with workers(tmp_path, shared_database, redis_url()) as (a, b):
        async with httpx.AsyncClient(base_url=a.url) as http:
            alice, bob = await create_account(http, "Alice"), await create_account(http, "Bob")
        on_a = await SocketClient.connect(a.socket_url, alice.token)
        on_b = await SocketClient.connect(b.socket_url, bob.token)
        room = (await on_a.request("createRoom", {"name": f"r-{uuid.uuid4().hex[:8]}"}))["room"][
            "id"
        ]
        await on_a.request("joinRoom", {"room": room})
        await on_b.request("joinRoom", {"room": room})
        for n in range(3):
            await on_a.request("sendMessage", {"room": room, "text": f"before {n}"})
        held = [await on_b.expect("message") for _ in range(3)]

        b.signal(signal.SIGKILL)
        await b.wait()
        await on_b.closed()
        sent = [
            (await on_a.request("sendMessage", {"room": room, "text": f"while down {n}"}))[
                "message"
            ]
            for n in range(4)
        ]

        bob_again = await SocketClient.connect(a.socket_url, bob.token)
        resumed = await bob_again.request("joinRoom", {"room": room, "since": held[-1]["seq"]})
        assert resumed["messages"] == sent  # everything missed, once, in order
        await on_a.request("sendMessage", {"room": room, "text": "after"})
        assert (await bob_again.expect("message"))["seq"] == sent[-1]["seq"] + 1
        await on_a.close()
        await bob_again.close()


# Redis going away and coming back


@asynccontextmanager
async def private_redis(port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import redis.asyncio as aioredis

        client = aioredis.Redis(port=port)
        async with asyncio.timeout(10):
            while True:
                try:
                    await client.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.05)
        await client.aclose()
        yield process
    finally:
        process.kill()
        process.wait(10)


async def broadcast_status(process: ServerProcess) -> str:
    async with httpx.AsyncClient(base_url=process.url) as http:
        return str((await http.get("/api/v1/health")).json()["broadcast"])


async def wait_status(process: ServerProcess, expected: str, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while await broadcast_status(process) != expected:
            await asyncio.sleep(0.1)


async def test_redis_outage_keeps_local_delivery_and_recovers(
    tmp_path: Path, shared_database: str
) -> None:
    redis_url()  # only where Redis tests are enabled
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    async with (
        private_redis(port) as first_redis,
        workers(tmp_path, shared_database, url) as (a, b),
    ):
        async with httpx.AsyncClient(base_url=a.url) as http:
            users = [await create_account(http) for _ in range(3)]
        on_a = await SocketClient.connect(a.socket_url, users[0].token)
        also_on_a = await SocketClient.connect(a.socket_url, users[1].token)
        on_b = await SocketClient.connect(b.socket_url, users[2].token)
        room = (await on_a.request("createRoom", {"name": f"r-{uuid.uuid4().hex[:8]}"}))["room"][
            "id"
        ]
        for client in (on_a, also_on_a, on_b):
            await client.request("joinRoom", {"room": room})

        first_redis.kill()
        first_redis.wait(10)
        sent = (await on_a.request("sendMessage", {"room": room, "text": "redis is down"}))[
            "message"
        ]
        assert await also_on_a.expect("message") == sent  # same process: still delivered
        await wait_status(a, "unavailable")
        async with httpx.AsyncClient(base_url=a.url) as http:
            health = await http.get("/api/v1/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert "Redis unreachable" in a.output()

        async with private_redis(port):
            await wait_status(a, "ok")
            await wait_status(b, "ok")
            # the message that could not cross is recovered through since
            missed = await on_b.request("joinRoom", {"room": room, "since": sent["seq"] - 1})
            assert [m["id"] for m in missed["messages"]] == [sent["id"]]
            after = (await on_a.request("sendMessage", {"room": room, "text": "back"}))["message"]
            assert await on_b.expect("message", where=lambda m: m["id"] == after["id"]) == after
        for client in (on_a, also_on_a, on_b):
            await client.close()
