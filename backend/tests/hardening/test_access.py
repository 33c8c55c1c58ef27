"""Tokens and access: every bad token refused on every surface, nobody's identity
borrowed, no room read or written from outside, no cross-site upgrade, no secret
in the logs.

The bad-access-token matrix of the handshake and of REST is in tests/realtime and
tests/api already; this adds the `reauth` column, deleted users, forged refresh
tokens on every carrier, and properties over room ids.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import delete, select
from websockets.exceptions import InvalidStatus

from app.accounts.models import User
from app.chat.models import Membership, Room
from app.core.config import Settings
from tests.api.test_accounts import BAD_ACCESS_TOKENS, alg_none, claims_for, forge, set_active
from tests.client import ErrorFrame, SocketClient
from tests.conftest import Account, AccountFactory, Connect, RunningServer, create_account
from tests.hardening.conftest import CONCURRENT_RANDOM, HARDENING, examples
from tests.process import server_process

UNAUTHORIZED = {
    "state": "error",
    "error": "Could not validate credentials.",
    "code": "unauthorized",
    "request": None,
}
CREDENTIALS_ERROR = {"detail": "Could not validate credentials."}
CustomServer = Callable[..., AbstractAsyncContextManager[RunningServer]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused_reauth(client: SocketClient, token: str) -> None:
    await client.send({"state": "reauth", "id": "r", "data": {"token": token}})
    assert await client.recv() == UNAUTHORIZED | {"request": "reauth", "id": "r"}
    assert await client.closed() == 1008


# reauth: the access-token matrix the handshake and REST already pass

REAUTH_CASES = [case for case in BAD_ACCESS_TOKENS if getattr(case, "id", "") != "garbage"]


@pytest.mark.parametrize("make_token", REAUTH_CASES)
async def test_reauth_refuses_every_bad_access_token(
    server: RunningServer, connect: Connect, account: AccountFactory, make_token: Any
) -> None:
    who = await account()
    target, bystander = await connect(who), await connect(who)
    token = make_token(who.id, who.token)
    if len(token) > server.settings.SOCKET_MAX_MESSAGE_BYTES:  # the frame itself is too big
        await target.send({"state": "reauth", "id": "r", "data": {"token": token}})
        assert await target.closed() == 1009
    elif len(token) > 8192:  # over ReauthIn's bound: refused by validation, before decoding
        with pytest.raises(ErrorFrame) as caught:
            await target.request("reauth", {"token": token})
        assert caught.value.code == "invalid_data"
        assert (await target.request("ping"))["time"]
    else:
        await refused_reauth(target, token)
    assert (await bystander.request("ping"))["time"]  # only the refused connection closes


# users who are gone


async def delete_user(server: RunningServer, user_id: int) -> None:
    async with server.app.state.database.sessionmaker() as db:
        await db.execute(delete(User).where(User.id == user_id))
        await db.commit()


async def test_a_deleted_users_tokens_are_refused_everywhere(
    server: RunningServer, http: httpx.AsyncClient, connect: Connect, account: AccountFactory
) -> None:
    who = await account()
    open_before = await connect(who)
    await delete_user(server, who.id)

    fresh = await SocketClient.connect(server.socket_url)
    await fresh.send({"token": who.token})
    assert await fresh.recv() == UNAUTHORIZED
    assert await fresh.closed() == 1008

    me = await http.get("/api/v1/users/me", headers=bearer(who.token))
    assert (me.status_code, me.json()) == (401, CREDENTIALS_ERROR)
    refreshed = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
    )
    assert refreshed.status_code == 401
    login = await http.post(
        "/api/v1/login/access-token", data={"username": who.email, "password": who.password}
    )
    assert login.status_code == 401

    # the socket opened before the deletion can write nothing and cannot renew itself
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ErrorFrame) as caught:
        await open_before.request("createRoom", {"name": name})
    assert caught.value.code in {"forbidden", "conflict", "not_found"}
    async with server.app.state.database.sessionmaker() as db:
        assert await db.scalar(select(Room.id).where(Room.name == name)) is None
    await refused_reauth(open_before, who.token)


async def test_a_deactivated_user_cannot_reauth(
    server: RunningServer, connect: Connect, account: AccountFactory
) -> None:
    who = await account()
    client = await connect(who)
    await set_active(server, who.id, False)
    await refused_reauth(client, who.token)


# forged refresh tokens, on every carrier


def refresh_claims(user_id: int, **changes: object) -> dict[str, object]:
    return claims_for(user_id, type="refresh", **changes)


def now() -> int:
    return int(datetime.now(UTC).timestamp())


BAD_REFRESH_TOKENS = [
    pytest.param(
        lambda uid, good: good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        id="tampered-signature",
    ),
    pytest.param(lambda uid, good: alg_none(refresh_claims(uid)), id="alg-none"),
    pytest.param(lambda uid, good: forge(refresh_claims(uid), key="k" * 48), id="other-key"),
    pytest.param(
        lambda uid, good: forge(refresh_claims(uid), algorithm="HS384"), id="other-algorithm"
    ),
    pytest.param(lambda uid, good: forge(refresh_claims(uid, exp=now() - 5)), id="expired"),
    pytest.param(lambda uid, good: forge(refresh_claims(uid, nbf=now() + 600)), id="not-yet-valid"),
    pytest.param(lambda uid, good: forge(refresh_claims(uid, sub=None)), id="missing-sub"),
    pytest.param(lambda uid, good: forge(refresh_claims(999_999_999)), id="unknown-user"),
    pytest.param(lambda uid, good: "garbage", id="garbage"),
    pytest.param(lambda uid, good: "a" * 9000, id="enormous"),
]
CARRIERS = ["body", "cookie", "bearer"]


def carry(how: str, token: str) -> dict[str, Any]:
    if how == "body":
        return {"json": {"refresh_token": token}}
    if how == "cookie":
        return {"headers": {"Cookie": f"refresh_token={token}"}}
    return {"headers": bearer(token)}


@pytest.fixture(scope="module")
async def victim(server: RunningServer) -> Account:
    """One account for the whole forged-refresh matrix: forging never touches it."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        return await create_account(http, "Victim")


@pytest.mark.parametrize("how", CARRIERS)
@pytest.mark.parametrize("make_token", BAD_REFRESH_TOKENS)
async def test_forged_refresh_tokens_are_refused_on_every_carrier(
    http: httpx.AsyncClient,
    victim: Account,
    make_token: Any,
    how: str,
    request: pytest.FixtureRequest,
) -> None:
    who = victim
    token = make_token(who.id, who.refresh_token)
    refreshed = await http.post("/api/v1/login/refresh-token", **carry(how, token))
    if how == "body" and len(token) > 8192:
        # over RefreshIn's bound: FastAPI's validation answers first (see docs/reliability.md)
        assert refreshed.status_code == 422
    else:
        assert (refreshed.status_code, refreshed.json()) == (401, CREDENTIALS_ERROR)
    for cookie in refreshed.headers.get_list("set-cookie"):
        assert cookie.startswith('refresh_token=""') or "Max-Age=0" in cookie, cookie
    assert "access_token" not in refreshed.text

    logout = await http.post("/api/v1/logout", **carry(how, token))
    if how == "body" and len(token) > 8192:
        assert logout.status_code == 422
    elif "-unknown-user-" in f"-{request.node.callspec.id}-":
        # signed with the server's own key (only the server can do that): logout revokes
        # that family, which belongs to nobody
        assert logout.status_code == 204
    else:
        assert logout.status_code == 401
    # and the real login was not disturbed by any of it
    still = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
    )
    assert still.status_code == 200
    who.refresh_token = still.json()["refresh_token"]  # rotated: the next case uses the new one


# identities and rooms


async def test_identity_cannot_be_borrowed_through_the_frame(
    connect: Connect, account: AccountFactory
) -> None:
    alice_account, mallory_account = await account("Alice"), await account("Mallory")
    alice, mallory = await connect(alice_account), await connect(mallory_account)
    room = (await alice.request("createRoom", {"name": f"id-{uuid.uuid4().hex[:8]}"}))["room"]
    await alice.request("joinRoom", {"room": room["id"]})
    await mallory.request("joinRoom", {"room": room["id"]})
    alice_user = {"id": alice_account.id, "full_name": "Alice"}
    for extra in (
        {"user": alice_user},
        {"user_id": alice_account.id},
        {"author": alice_account.id},
    ):
        with pytest.raises(ErrorFrame) as caught:
            await mallory.request("sendMessage", {"room": room["id"], "text": "hi", **extra})
        assert caught.value.code == "invalid_data"
    # top-level keys are ignored: the message is Mallory's whatever the frame claims
    await mallory.send(
        {
            "state": "sendMessage",
            "id": "borrow",
            "data": {"room": room["id"], "text": "it is me, Alice"},
            "user": alice_user,
            "user_id": alice_account.id,
            "session": alice.session_id,
            "token": alice_account.token,
        }
    )
    reply = await mallory.wait_for(lambda f: f.get("id") == "borrow")
    assert reply["data"]["message"]["user"] == {"id": mallory_account.id, "full_name": "Mallory"}
    event = await alice.expect("message")
    assert event["user"]["id"] == mallory_account.id


@CONCURRENT_RANDOM
async def test_a_non_member_can_neither_read_nor_write_any_room(
    custom_server: CustomServer, figures: dict[str, Any]
) -> None:
    """Every state that names a room (joining aside: rooms are public to join), with
    hostile data, the victim's room id or any other: never a reply, and nothing reaches
    the intruder, while the victim keeps posting."""
    async with custom_server(SOCKET_RATE_LIMIT=1_000_000, SOCKET_RATE_BURST=1_000_000) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            victim = await server.connect((await create_account(http, "Victim")).token)
            intruder = await server.connect((await create_account(http)).token)
        room = (await victim.request("createRoom", {"name": f"private-{uuid.uuid4().hex[:8]}"}))[
            "room"
        ]["id"]
        await victim.request("joinRoom", {"room": room})
        await probe_rooms(server, victim, intruder, room, figures)


async def probe_rooms(
    server: RunningServer,
    victim: SocketClient,
    intruder: SocketClient,
    room: int,
    figures: dict[str, Any],
) -> None:
    registry = server.app.state.registry
    states = [
        state
        for state in registry
        if "room" in state.request.model_fields and state.name != "joinRoom"
    ]
    async with server.app.state.database.sessionmaker() as db:
        existing = set(await db.scalars(select(Room.id)))
        members_before = len(
            list(await db.scalars(select(Membership).where(Membership.room_id == room)))
        )
    loop = asyncio.get_running_loop()
    tried: dict[str, int] = {}

    async def probe(state_name: str, room_id: int, data: dict[str, Any]) -> None:
        tried[state_name] = tried.get(state_name, 0) + 1
        model = registry.get(state_name).request
        payload = {**data, "room": room_id}
        try:
            model.model_validate(payload)
            expected = "forbidden" if room_id in existing else "not_found"
        except ValidationError:
            expected = "invalid_data"
        frame = await intruder.request_frame(state_name, payload)
        assert frame["state"] == "error", frame
        assert frame["code"] == expected, (state_name, payload, frame)
        await victim.request("sendMessage", {"room": room, "text": "still private"})

    @settings(HARDENING, max_examples=examples(120))
    @given(
        state=st.sampled_from([state.name for state in states]),
        room_id=st.one_of(
            st.just(room),
            st.integers(-2, max(existing) + 3),  # every other room, and some that do not exist
            st.integers(-(2**31), 2**31 - 1),
        ),
        data=st.dictionaries(
            st.sampled_from(["text", "seq", "before", "limit", "since", "client_id", "question"]),
            st.one_of(st.integers(-5, 200), st.text(max_size=20), st.none()),
            max_size=3,
        ),
    )
    def run(state: str, room_id: int, data: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(probe(state, room_id, data), loop).result(timeout=60)

    await asyncio.to_thread(run)
    await intruder.request("ping")
    leaked = [f for f in intruder.pending if f.get("state") != "error"]
    assert leaked == []  # not one event of the victim's room
    async with server.app.state.database.sessionmaker() as db:
        members_after = len(
            list(await db.scalars(select(Membership).where(Membership.room_id == room)))
        )
    assert members_after == members_before == 1
    figures.update({"probes": sum(tried.values()), "by_state": tried})


# the Origin check, against look-alike origins


@pytest.mark.parametrize("path", ["/api/v1/socket", "/api/v1/plain-socket"])
@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8000.evil.example",
        "http://localhost:8000@evil.example",
        "http://evil.example#http://localhost:8000",
        "http://localhost:80000",
        "http://localhost",
        "https://localhost:8000",
        "http://localhost:8000/evil",
        "file://",
    ],
)
async def test_look_alike_origins_are_refused_at_the_upgrade(
    server: RunningServer, path: str, origin: str
) -> None:
    url = server.socket_url.replace("/api/v1/socket", path)
    with pytest.raises(InvalidStatus) as refused:
        await SocketClient.connect(url, origin=origin)
    assert refused.value.response.status_code == 403


# secrets and the logs


def secrets_of(*tokens: str) -> list[str]:
    """Each token whole, and its payload and signature segments on their own."""
    found: list[str] = []
    for token in tokens:
        found.append(token)
        parts = token.split(".")
        if len(parts) == 3:
            found += [parts[1], parts[2]]
    return found


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param({"LOG_LEVEL": "DEBUG"}, id="local-debug"),
        pytest.param(
            {
                "ENVIRONMENT": "production",
                "ALLOW_SQLITE_IN_PRODUCTION": "true",
                "LOG_LEVEL": "DEBUG",
            },
            id="production-json-debug",
        ),
    ],
)
async def test_no_password_or_token_reaches_the_logs(
    settings: Settings, tmp_path: Path, mode: dict[str, str], figures: dict[str, Any]
) -> None:
    """Every path that handles a secret, at DEBUG, including refusals and a handler crash."""
    if not settings.is_sqlite and mode.get("ENVIRONMENT") == "production":
        mode = {k: v for k, v in mode.items() if k != "ALLOW_SQLITE_IN_PRODUCTION"}
    password = f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    async with server_process(
        tmp_path,
        app="tests.realtime.apps:create_test_app",
        DATABASE_URL=settings.DATABASE_URL,
        **mode,
    ) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            email = f"logs-{uuid.uuid4().hex[:10]}@example.com"
            signup = await http.post(
                "/api/v1/users/signup",
                json={"email": email, "password": password, "full_name": "Logs"},
            )
            assert signup.status_code == 201 and password not in signup.text
            assert "hashed_password" not in signup.text and "$argon2" not in signup.text
            assert (
                await http.post(
                    "/api/v1/users/signup",
                    json={"email": email, "password": password, "full_name": "Again"},
                )
            ).status_code == 409
            for user, pw in ((email, wrong), (f"nobody-{email}", password), (email, "")):
                response = await http.post(
                    "/api/v1/login/access-token", data={"username": user, "password": pw}
                )
                assert response.status_code in (401, 422)
            tokens = (
                await http.post(
                    "/api/v1/login/access-token", data={"username": email, "password": password}
                )
            ).json()
            http.cookies.clear()
            access, refresh = tokens["access_token"], tokens["refresh_token"]
            rotated = (
                await http.post("/api/v1/login/refresh-token", json={"refresh_token": refresh})
            ).json()
            http.cookies.clear()
            by_cookie = await http.post(
                "/api/v1/login/refresh-token",
                headers={"Cookie": f"refresh_token={rotated['refresh_token']}"},
            )
            http.cookies.clear()
            latest = by_cookie.json()
            for token in (access, access[:-2] + "xx", refresh):
                await http.get("/api/v1/users/me", headers=bearer(token))
            await http.post("/api/v1/login/refresh-token", headers=bearer(access))
            await http.post("/api/v1/login/refresh-token", json={"refresh_token": refresh + "x"})

            client = await SocketClient.connect(srv.socket_url, latest["access_token"])
            await client.request("reauth", {"token": rotated["access_token"]})
            assert (await client.request_frame("boom"))["code"] == "internal_error"
            await client.send({"state": "echo", "id": 1, "data": {"text": password}})  # invalid
            assert (await client.recv())["code"] == "invalid_data"
            await refused_reauth(client, latest["refresh_token"])
            for first in (access[:-2] + "xx", refresh, json.dumps({"token": password})):
                refused = await SocketClient.connect(srv.socket_url)
                await refused.send({"token": first})
                assert await refused.closed() == 1008
            assert (
                await http.post("/api/v1/logout", headers=bearer(latest["access_token"]))
            ).status_code == 204
    output = srv.output()
    assert "Traceback" in output  # the handler crash was logged: the log was really captured
    issued = [
        t[key] for t in (tokens, rotated, latest) for key in ("access_token", "refresh_token")
    ]
    secrets = [password, wrong, *secrets_of(*issued)]
    leaked = [
        secret
        for secret in secrets
        if isinstance(secret, str) and len(secret) > 8 and secret in output
    ]
    assert leaked == []
    figures.update({"log_lines": output.count("\n"), "secrets_checked": len(secrets)})
