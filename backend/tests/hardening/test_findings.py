"""Regression tests for the six bugs the hardening suite found in app/ (all fixed).

Each test first went in as `xfail(strict=True)` and failed against the old code; the fix
turned it into an XPASS, and the marker came off. docs/reliability.md tells each story:
the evidence, the fix, and the test that now guards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.core.config import Settings
from app.core.db import Database
from tests.chat.test_redis import redis_url, shared_database
from tests.client import SocketClient
from tests.conftest import (
    AccountFactory,
    Connect,
    create_account,
    make_settings,
    migrate,
    run_server,
)
from tests.hardening.support import (
    PRESENCE_LIMIT,
    RawPeer,
    members_on,
    private_postgres,
    workers,
)
from tests.process import server_process

__all__ = ["shared_database"]  # the fixture, imported to be used here

BIG = 2**63  # past SQLite's and PostgreSQL's integer columns alike
INT4 = 2**31  # past PostgreSQL's `integer` (rooms.id, messages.seq, ...)


def needs(database: str, settings: Settings) -> None:
    if (database == "postgresql") == settings.is_sqlite:
        pytest.skip(f"the bug shows on {database} only")


# 1. integers the database cannot hold reach it


@pytest.mark.parametrize(
    ("state", "data", "database"),
    [
        pytest.param("joinRoom", {"room": BIG}, "any", id="joinRoom-room-2^63"),
        pytest.param("sendMessage", {"room": BIG, "text": "x"}, "any", id="sendMessage-room-2^63"),
        pytest.param("joinRoom", {"room": "own", "since": BIG}, "any", id="joinRoom-since-2^63"),
        pytest.param("history", {"room": "own", "before": BIG}, "any", id="history-before-2^63"),
        pytest.param("joinRoom", {"room": INT4}, "postgresql", id="joinRoom-room-2^31"),
        pytest.param(
            "history", {"room": "own", "before": INT4}, "postgresql", id="history-before-2^31"
        ),
    ],
)
async def test_out_of_range_integers_are_refused_not_an_internal_error(
    settings: Settings,
    connect: Connect,
    account: AccountFactory,
    state: str,
    data: dict[str, Any],
    database: str,
) -> None:
    if database != "any":
        needs(database, settings)
    client = await connect(await account())
    own = (await client.request("createRoom", {"name": f"big-{uuid.uuid4().hex[:8]}"}))["room"]
    payload = {key: own["id"] if value == "own" else value for key, value in data.items()}
    frame = await client.request_frame(state, payload)
    assert frame.get("code") in ("invalid_data", "not_found"), frame


# 2. NUL characters reach PostgreSQL


@pytest.mark.parametrize(
    ("state", "data"),
    [
        pytest.param("sendMessage", {"text": "a\x00b"}, id="sendMessage-text"),
        pytest.param("sendMessage", {"text": "x", "client_id": "\x00"}, id="sendMessage-client_id"),
        pytest.param("createRoom", {"name": "nul\x00room"}, id="createRoom-name"),
    ],
)
async def test_nul_characters_are_refused_on_the_socket(
    settings: Settings,
    connect: Connect,
    account: AccountFactory,
    state: str,
    data: dict[str, Any],
) -> None:
    needs("postgresql", settings)
    client = await connect(await account())
    own = (await client.request("createRoom", {"name": f"nul-{uuid.uuid4().hex[:8]}"}))["room"]
    payload = {"room": own["id"], **data} if state == "sendMessage" else data
    frame = await client.request_frame(state, payload)
    assert frame.get("code") == "invalid_data", frame


@pytest.mark.parametrize("where", ["signup-full_name", "login-username"])
async def test_nul_characters_are_refused_on_rest(
    settings: Settings, http: httpx.AsyncClient, where: str
) -> None:
    needs("postgresql", settings)
    if where == "signup-full_name":
        response = await http.post(
            "/api/v1/users/signup",
            json={
                "email": f"nul-{uuid.uuid4().hex[:8]}@example.com",
                "password": "long enough password",
                "full_name": "a\x00b",
            },
        )
        assert response.status_code == 422, response.text
    else:
        response = await http.post(
            "/api/v1/login/access-token",
            data={"username": "nul\x00@example.com", "password": "whatever"},
        )
        assert response.status_code == 401, response.text


# 3. statement parameters, password hashes included, in the logs


async def test_the_password_hash_never_reaches_the_logs(settings: Settings, tmp_path: Path) -> None:
    needs("sqlite", settings)
    async with server_process(
        tmp_path, app="app.main:create_app", DATABASE_URL=settings.DATABASE_URL, LOG_LEVEL="DEBUG"
    ) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
    database = Database(settings.DATABASE_URL)
    try:
        async with database.sessionmaker() as db:
            digest = await db.scalar(select(User.hashed_password).where(User.id == who.id))
    finally:
        await database.dispose()
    assert digest is not None and digest.startswith("$argon2")
    assert digest not in srv.output()


# 4. a handshake while the database is down ends as a normal closure


@pytest.mark.slow
@pytest.mark.postgres
async def test_a_handshake_during_a_database_outage_says_try_again(
    settings: Settings, tmp_path: Path
) -> None:
    needs("postgresql", settings)
    async with private_postgres() as pg:
        await asyncio.to_thread(migrate, pg.url)
        async with run_server(make_settings(tmp_path, pg.url)) as srv:
            async with httpx.AsyncClient(base_url=srv.url) as http:
                who = await create_account(http)
            await pg.stop()
            client = await SocketClient.connect(srv.socket_url)
            await client.send({"token": who.token})
            code = await client.closed(timeout=20)
            errors = [f for f in client.pending if f.get("state") == "error"]
            assert errors and errors[0]["code"] != "unauthorized", client.pending
            assert code in (1011, 1013), code


# 5. a burst of requests from a client that reads is closed as if it had stopped reading


async def test_a_reading_client_that_sends_a_burst_gets_every_answer(
    custom_server: Any, account: AccountFactory
) -> None:
    burst, queue = 300, 100
    async with custom_server(
        SOCKET_SEND_QUEUE=queue, SOCKET_RATE_LIMIT=1_000_000, SOCKET_RATE_BURST=1_000_000
    ) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        peer = await RawPeer.open(srv.socket_url)
        await peer.send_json({"token": who.token})
        assert (await peer.recv_json())["state"] == "initialised"
        await peer.send_burst([{"state": "ping", "id": n} for n in range(burst)])
        answers: list[dict[str, Any]] = []
        with contextlib.suppress(ConnectionError):
            while len(answers) < burst:
                answers.append(await peer.recv_json(timeout=10))  # reads, and answers pings
        peer.abort()
        assert [answer.get("id") for answer in answers] == list(range(burst))


# 6. a crashed worker's users are never announced offline


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
async def test_a_crashed_workers_users_are_announced_offline(
    tmp_path: Path, shared_database: str
) -> None:
    async with workers(tmp_path, shared_database, redis_url()) as (a, b):
        (watcher, lurker), _room = await members_on([a, b], f"crash-{uuid.uuid4().hex[:8]}")
        assert watcher.client is not None
        await watcher.client.expect("presence", where=lambda d: len(d["online"]) == 2)
        b.signal(signal.SIGKILL)
        await b.wait()
        try:
            gone = await watcher.client.expect(
                "presence", where=lambda d: len(d["online"]) == 1, timeout=PRESENCE_LIMIT
            )
        except TimeoutError:
            gone = None
        finally:
            await watcher.close()
            await lurker.close()
        assert gone is not None, f"no presence event within {PRESENCE_LIMIT} s of the crash"
