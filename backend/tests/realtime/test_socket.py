"""The socket protocol over a real uvicorn server and the real `websockets` client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

import app
from app.core.security import create_token
from tests.api.test_accounts import BAD_ACCESS_TOKENS, set_active
from tests.client import ErrorFrame, SocketClient, slow_link
from tests.conftest import TEST_SECRET, Account, RunningServer, create_account, socket_opener
from tests.realtime import apps

AccountFactory = Callable[..., Awaitable[Account]]
Connect = Callable[..., Awaitable[SocketClient]]
CustomServer = Callable[..., AbstractAsyncContextManager[RunningServer]]

UNAUTHORIZED = {
    "state": "error",
    "error": "Could not validate credentials.",
    "code": "unauthorized",
    "request": None,
}


@pytest.fixture(scope="module")
async def test_server(settings: Any) -> AsyncIterator[RunningServer]:
    """The app plus the test-only states of tests/realtime/apps.py."""
    from tests.conftest import run_server

    async with run_server(settings, apps.registry_with_test_states()) as running:
        yield running


@pytest.fixture
async def tconnect(test_server: RunningServer) -> AsyncIterator[Connect]:
    """`connect`, for the server with the test-only states."""
    async with socket_opener(test_server) as open_socket:
        yield open_socket


def short_token(who: Account, seconds: int) -> str:
    return create_token(
        user_id=who.id,
        type="access",
        lifetime=timedelta(seconds=seconds),
        secret=TEST_SECRET,
        algorithm="HS256",
    ).token


# the classic browser flow


async def test_classic_browser_flow(server: RunningServer, account: AccountFactory) -> None:
    alice = await account("Alice")
    client = await SocketClient.connect(server.socket_url, origin="http://localhost:8000")
    await client.send({"token": alice.token})
    initialised = await client.recv()
    assert initialised["state"] == "initialised"
    assert initialised["data"]["user"] == {
        "id": alice.id,
        "email": alice.email,
        "full_name": "Alice",
    }
    assert isinstance(initialised["data"]["session"], str) and initialised["data"]["session"]
    await client.send({"state": "ping", "data": {}, "id": 1})
    reply = await client.recv()
    assert reply["state"] == "ping" and reply["id"] == 1
    assert abs(datetime.fromisoformat(reply["data"]["time"]) - datetime.now(UTC)) < timedelta(
        seconds=5
    )
    await client.send({"state": "close", "id": 2})
    assert await client.recv() == {"state": "close", "data": {}, "id": 2}
    assert await client.closed() == 1000


# handshake step 1: origin


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:8001", "null"])
async def test_cross_site_origin_is_refused_at_the_upgrade(
    server: RunningServer, origin: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await SocketClient.connect(server.socket_url, origin=origin)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:8000", None])
async def test_listed_origin_or_none_is_accepted(
    server: RunningServer, account: AccountFactory, origin: str | None
) -> None:
    who = await account()
    client = await SocketClient.connect(server.socket_url, who.token, origin=origin)
    assert client.initialised["user"]["id"] == who.id
    await client.close()


async def test_allowed_origins_setting_replaces_the_defaults(custom_server: CustomServer) -> None:
    async with custom_server(ALLOWED_ORIGINS="https://chat.example") as srv:
        client = await SocketClient.connect(srv.socket_url, origin="https://chat.example")
        await client.close()
        with pytest.raises(InvalidStatus):
            await SocketClient.connect(srv.socket_url, origin="http://localhost:8000")


# handshake step 4: anything but a valid token


async def expect_refused(client: SocketClient, first: str | bytes | dict[str, Any]) -> None:
    await client.send(first)
    assert await client.recv() == UNAUTHORIZED
    assert await client.closed() == 1008


@pytest.mark.parametrize(
    "first",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"token": None}, id="null-token"),
        pytest.param({"token": 12}, id="number-token"),
        pytest.param("not json", id="not-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param({"state": "ping"}, id="request-before-token"),
    ],
)
async def test_handshake_refuses_malformed_first_messages(
    server: RunningServer, first: Any
) -> None:
    await expect_refused(await SocketClient.connect(server.socket_url), first)


@pytest.mark.parametrize("make_token", BAD_ACCESS_TOKENS)
async def test_handshake_refuses_bad_tokens(
    server: RunningServer, account: AccountFactory, make_token: Callable[[int, str], str]
) -> None:
    who = await account()
    client = await SocketClient.connect(server.socket_url)
    await expect_refused(client, {"token": make_token(who.id, who.token)})


async def test_handshake_refuses_refresh_token_and_inactive_user(
    server: RunningServer, account: AccountFactory
) -> None:
    who = await account()
    await expect_refused(
        await SocketClient.connect(server.socket_url), {"token": who.refresh_token}
    )
    await set_active(server, who.id, False)
    await expect_refused(await SocketClient.connect(server.socket_url), {"token": who.token})


async def test_no_second_chance_on_the_same_socket(
    server: RunningServer, account: AccountFactory
) -> None:
    who = await account()
    client = await SocketClient.connect(server.socket_url)
    await client.send({"token": "bad"})
    await client.send({"token": who.token})  # too late: the socket is already condemned
    assert await client.recv() == UNAUTHORIZED
    assert await client.closed() == 1008
    assert client.pending == __import__("collections").deque()  # no initialised ever came


async def test_token_must_arrive_within_the_auth_timeout(custom_server: CustomServer) -> None:
    async with custom_server(SOCKET_AUTH_TIMEOUT=0.3) as srv:
        client = await SocketClient.connect(srv.socket_url)
        started = time.monotonic()
        assert await client.recv() == UNAUTHORIZED
        assert await client.closed() == 1008
        assert 0.25 <= time.monotonic() - started < 3


async def test_too_many_connections_per_user(custom_server: CustomServer) -> None:
    async with custom_server(SOCKET_MAX_CONNECTIONS_PER_USER=2) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        first = await srv.connect(who.token)
        await srv.connect(who.token)
        third = await SocketClient.connect(srv.socket_url)
        await third.send({"token": who.token})
        assert await third.recv() == {
            "state": "error",
            "error": "Too many open connections for this user.",
            "code": "too_many_connections",
            "request": None,
        }
        assert await third.closed() == 1008
        await first.close()  # a slot frees up when a socket closes
        async with asyncio.timeout(5):
            while True:
                try:
                    fourth = await srv.connect(who.token)
                    break
                except ErrorFrame:
                    await asyncio.sleep(0.05)  # the server has not seen the close yet
        assert fourth.initialised["user"]["id"] == who.id


# requests, replies, errors


async def test_binary_frames_are_read_as_json(connect: Connect, account: AccountFactory) -> None:
    client = await connect(await account())
    await client.send(json.dumps({"state": "ping", "id": "b"}).encode())
    assert (await client.recv())["id"] == "b"


ERROR_CASES = [
    pytest.param("{oops", "invalid_json", id="invalid_json"),
    pytest.param({"data": {}}, "invalid_request", id="invalid_request"),
    pytest.param({"state": "nope", "id": 1}, "unknown_state", id="unknown_state"),
    pytest.param(
        {"state": "echo", "id": 1, "data": {"text": ""}}, "invalid_data", id="invalid_data"
    ),
    pytest.param({"state": "guarded", "id": 1}, "invalid_state", id="invalid_state"),
    pytest.param({"state": "deny", "id": 1}, "forbidden", id="forbidden"),
    pytest.param({"state": "missing", "id": 1}, "not_found", id="not_found"),
    pytest.param(
        {"state": "createRoom", "id": 1, "data": {"name": "General"}}, "conflict", id="conflict"
    ),
    pytest.param({"state": "boom", "id": 1}, "internal_error", id="internal_error"),
]


@pytest.mark.parametrize(("frame", "code"), ERROR_CASES)
async def test_every_error_code_keeps_the_connection_open(
    tconnect: Connect, account: AccountFactory, frame: Any, code: str
) -> None:
    client = await tconnect(await account())
    if code == "conflict":  # make sure the name is taken
        with suppress(ErrorFrame):
            await client.request("createRoom", {"name": "General"})
    await client.send(frame)
    error = await client.wait_for(lambda f: f["state"] == "error")
    assert error["code"] == code
    if isinstance(frame, dict) and "id" in frame:
        assert error["id"] == frame["id"]
    assert (await client.request("ping"))["time"]  # still open, still answering


async def test_pipelined_requests_are_answered_in_order(
    connect: Connect, account: AccountFactory
) -> None:
    client = await connect(await account())
    for n in range(30):
        state = "ping" if n % 3 else "nope"
        await client.send({"state": state, "id": n})
    frames = [await client.recv() for _ in range(30)]
    assert [f["id"] for f in frames] == list(range(30))
    assert [f["state"] for f in frames] == ["error" if n % 3 == 0 else "ping" for n in range(30)]


async def test_a_slow_handler_delays_only_its_own_connection(
    tconnect: Connect, account: AccountFactory
) -> None:
    apps.release.clear()
    slow = await tconnect(await account())
    other = await tconnect(await account())
    await slow.send({"state": "wait", "id": "w"})
    await slow.expect("waiting")  # the handler is now blocked
    await slow.send({"state": "ping", "id": "after"})
    assert (await other.request("ping"))["time"]  # another connection is served meanwhile
    with pytest.raises(TimeoutError):
        await slow.wait_for(lambda f: f.get("id") == "after", timeout=0.3)  # queued behind "wait"
    apps.release.set()
    assert (await slow.wait_for(lambda f: f.get("id") == "w"))["state"] == "wait"
    assert (await slow.wait_for(lambda f: f.get("id") == "after"))["state"] == "ping"


async def test_rate_limit_answers_over_limit_requests_in_place(custom_server: CustomServer) -> None:
    async with custom_server(SOCKET_RATE_LIMIT=0.01, SOCKET_RATE_BURST=5) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        client = await srv.connect(who.token)
        for n in range(8):
            await client.send({"state": "ping", "id": n})
        frames = [await client.recv() for _ in range(8)]
        assert [f["id"] for f in frames] == list(range(8))
        assert [f["state"] for f in frames[:5]] == ["ping"] * 5
        assert [f.get("code") for f in frames[5:]] == ["rate_limited"] * 3


async def test_oversize_frame_closes_with_1009(custom_server: CustomServer) -> None:
    async with custom_server(SOCKET_MAX_MESSAGE_BYTES=1024) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        client = await srv.connect(who.token)

        def frame(n: int) -> str:  # 2n bytes of UTF-8 in n characters
            return json.dumps({"state": "ping", "id": n, "pad": "é" * n}, ensure_ascii=False)

        await client.send(frame(450))  # ~940 bytes: under the limit
        assert (await client.recv())["id"] == 450
        await client.send(frame(520))  # ~1080 bytes, though only ~560 characters
        assert await client.closed() == 1009


async def test_events_reach_reading_sockets_without_a_task_each(
    custom_server: CustomServer,
) -> None:
    """The writer sends an event to a socket that can take it in the publisher's step: a
    room of listeners costs no task per member per event (nor one kept per member)."""
    app_dir = str(Path(app.__file__).parent)
    async with custom_server(registry=apps.registry_with_test_states()) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            listener_user, sender_user = await create_account(http), await create_account(http)
        listeners = [await srv.connect(listener_user.token) for _ in range(10)]
        for listener in listeners:
            await listener.request("listen", {"topic": "room"})
        sender = await srv.connect(sender_user.token)

        loop = asyncio.get_running_loop()
        started: list[str] = []  # the app's coroutines that got a task of their own

        def counting_factory(
            loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
        ) -> asyncio.Task[Any]:
            code = getattr(coro, "cr_code", None)
            if code is not None and code.co_filename.startswith(app_dir):
                started.append(code.co_qualname)
            return asyncio.Task(coro, loop=loop, **kwargs)

        previous = loop.get_task_factory()
        loop.set_task_factory(counting_factory)
        try:
            reply = await sender.request("blast", {"topic": "room", "count": 20, "size": 100})
            for listener in listeners:
                got = [(await listener.expect("blast"))["n"] for _ in range(20)]
                assert got == list(range(20))
        finally:
            loop.set_task_factory(previous)
        assert reply == {"sent": 20}
        assert started == []  # 200 deliveries, no task


async def test_a_client_that_stops_reading_is_closed_with_1013_and_others_are_unaffected(
    custom_server: CustomServer,
) -> None:
    async with custom_server(
        registry=apps.registry_with_test_states(), SOCKET_SEND_QUEUE=20
    ) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            slow_user, fast_user = await create_account(http), await create_account(http)
        slow = await srv.connect(
            slow_user.token, sock=slow_link(srv.port), max_queue=1, compression=None
        )
        bystander = await srv.connect(slow_user.token)
        sender = await srv.connect(fast_user.token)
        await slow.request("listen", {"topic": "flood"})
        await bystander.request("listen", {"topic": "other"})
        # the slow client reads nothing from here on; 20 MB head its way over a slow link
        reply = await sender.request(
            "blast", {"topic": "flood", "count": 400, "size": 50_000}, timeout=30
        )
        assert reply == {"sent": 400}
        assert (await sender.request("ping"))["time"]
        assert (await bystander.request("ping"))["time"]
        # once it reads again it finds what fitted in the buffers, then the close
        assert await slow.closed(timeout=30) == 1013
        received = [f for f in slow.pending if f["state"] == "blast"]
        assert 0 < len(received) < 400
        assert [f["data"]["n"] for f in received] == list(range(len(received)))  # in order, no gap


# reauth and expiry


async def test_reauth_extends_the_session(connect: Connect, account: AccountFactory) -> None:
    who = await account()
    client = await connect(who)
    fresh = short_token(who, 3600)
    reply = await client.request("reauth", {"token": fresh})
    expires = datetime.fromisoformat(reply["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)


async def test_reauth_keeps_a_session_alive_past_the_first_token(
    server: RunningServer, account: AccountFactory
) -> None:
    who = await account()
    client = await server.connect(short_token(who, 2))
    await client.request("reauth", {"token": short_token(who, 600)})
    await asyncio.sleep(2.5)  # the first token's lifetime passing is the event under test
    assert (await client.request("ping"))["time"]
    await client.close()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda who, other: "garbage", id="garbage"),
        pytest.param(lambda who, other: who.refresh_token, id="refresh-token"),
        pytest.param(lambda who, other: other.token, id="another-user"),
    ],
)
async def test_bad_reauth_closes_with_1008(
    server: RunningServer, account: AccountFactory, token: Callable[[Account, Account], str]
) -> None:
    who, other = await account(), await account()
    client = await server.connect(who.token)
    await client.send({"state": "reauth", "id": "r", "data": {"token": token(who, other)}})
    assert await client.recv() == UNAUTHORIZED | {"request": "reauth", "id": "r"}
    assert await client.closed() == 1008


async def test_expired_token_mid_session_closes_with_4001(
    server: RunningServer, account: AccountFactory
) -> None:
    who = await account()
    client = await server.connect(short_token(who, 1))
    await asyncio.sleep(2.1)  # the token's lifetime passing is the event under test
    await client.send({"state": "ping", "id": 9})
    assert await client.recv() == {
        "state": "error",
        "error": "The access token has expired; refresh it and reconnect.",
        "code": "token_expired",
        "request": "ping",
        "id": 9,
    }
    assert await client.closed() == 4001
