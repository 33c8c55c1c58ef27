"""Sign-up, login, refresh rotation, logout and the current user, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jose import jwt

from app.core.security import create_token
from tests.conftest import PASSWORD, TEST_SECRET, Account, RunningServer

AccountFactory = Callable[..., Awaitable[Account]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post(
        "/api/v1/login/access-token", data={"username": email, "password": password}
    )


# sign-up


async def test_signup_returns_the_user_without_the_password(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/v1/users/signup",
        json={"email": "New.Person@Example.com", "password": PASSWORD, "full_name": " Ada "},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "New.Person@example.com"  # domain normalised, local part kept
    assert body["full_name"] == "Ada"
    assert set(body) == {"id", "email", "full_name", "is_active", "is_superuser", "created_at"}
    assert PASSWORD not in response.text


async def test_duplicate_email_is_409_whatever_the_case(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    existing = await account()
    response = await http.post(
        "/api/v1/users/signup",
        json={"email": existing.email.upper(), "password": PASSWORD, "full_name": "Twin"},
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "An account with this email already exists."}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {"email": "not-an-email", "password": PASSWORD, "full_name": "A"}, "email", id="email"
        ),
        pytest.param(
            {"email": "a@example.com", "password": "short", "full_name": "A"},
            "password",
            id="short-password",
        ),
        pytest.param(
            {"email": "a@example.com", "password": PASSWORD, "full_name": "   "},
            "full_name",
            id="empty-name",
        ),
    ],
)
async def test_signup_validation_is_422(
    http: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    response = await http.post("/api/v1/users/signup", json=body)
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


async def test_signup_can_be_closed(custom_server: Callable[..., object]) -> None:
    async with custom_server(OPEN_SIGNUP=False) as srv:  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=srv.url) as http:
            response = await http.post(
                "/api/v1/users/signup",
                json={"email": "closed@example.com", "password": PASSWORD, "full_name": "C"},
            )
    assert response.status_code == 403
    assert response.json() == {"detail": "Sign-up is closed on this server."}


# login


async def test_login_returns_tokens_and_a_strict_cookie(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    response = await login(http, who.email.upper())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"refresh_token={body['refresh_token']};")
    for attribute in ("HttpOnly", "Path=/api/v1/login", "SameSite=strict"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # only in production
    me = await http.get("/api/v1/users/me", headers=bearer(body["access_token"]))
    assert me.json()["id"] == who.id


async def test_bad_credentials_are_one_generic_401(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    wrong = await login(http, who.email, "wrong password")
    unknown = await login(http, "nobody@example.com", "whatever123")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password."}


async def test_inactive_user_cannot_log_in_or_use_tokens(
    http: httpx.AsyncClient, account: AccountFactory, server: RunningServer
) -> None:
    who = await account()
    await set_active(server, who.id, False)
    assert (await login(http, who.email)).status_code == 401
    assert (await http.get("/api/v1/users/me", headers=bearer(who.token))).status_code == 401
    refreshed = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
    )
    assert refreshed.status_code == 401


async def set_active(server: RunningServer, user_id: int, active: bool) -> None:
    from sqlalchemy import update

    from app.accounts.models import User

    async with server.app.state.database.sessionmaker() as db:
        await db.execute(update(User).where(User.id == user_id).values(is_active=active))
        await db.commit()


# the access token


def forge(claims: dict[str, object], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def alg_none(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def claims_for(user_id: int, **changes: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "sub": str(user_id),
        "type": "access",
        "jti": "j",
        "fam": "f",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


BAD_ACCESS_TOKENS: list[object] = [
    pytest.param(
        lambda uid, good: good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        id="tampered-signature",
    ),
    pytest.param(lambda uid, good: alg_none(claims_for(uid)), id="alg-none"),
    pytest.param(lambda uid, good: forge(claims_for(uid), key="another key" * 4), id="other-key"),
    pytest.param(lambda uid, good: forge(claims_for(uid), algorithm="HS512"), id="other-algorithm"),
    pytest.param(
        lambda uid, good: forge(claims_for(uid, exp=int(datetime.now(UTC).timestamp()) - 5)),
        id="expired",
    ),
    pytest.param(
        lambda uid, good: forge(claims_for(uid, nbf=int(datetime.now(UTC).timestamp()) + 600)),
        id="not-yet-valid",
    ),
    pytest.param(lambda uid, good: forge(claims_for(uid, type="refresh")), id="refresh-as-access"),
    pytest.param(lambda uid, good: forge(claims_for(uid, sub=None)), id="missing-sub"),
    pytest.param(lambda uid, good: forge(claims_for(999_999_999)), id="unknown-user"),
    pytest.param(lambda uid, good: "garbage", id="garbage"),
    pytest.param(lambda uid, good: "a" * 100_000, id="enormous"),
]


@pytest.mark.parametrize("make_token", BAD_ACCESS_TOKENS)
async def test_bad_access_tokens_are_401(
    http: httpx.AsyncClient, account: AccountFactory, make_token: Callable[[int, str], str]
) -> None:
    who = await account()
    response = await http.get("/api/v1/users/me", headers=bearer(make_token(who.id, who.token)))
    assert response.status_code == 401
    assert response.json() == {"detail": "Could not validate credentials."}


async def test_refresh_token_of_the_response_is_refused_as_access(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    response = await http.get("/api/v1/users/me", headers=bearer(who.refresh_token))
    assert response.status_code == 401


# refresh


async def test_refresh_from_cookie_rotates(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    logged_in = await login(http, who.email)
    first = logged_in.json()
    response = await http.post("/api/v1/login/refresh-token")  # the cookie jar sends it
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["refresh_token"] in response.headers["set-cookie"]
    me = await http.get("/api/v1/users/me", headers=bearer(second["access_token"]))
    assert me.json()["id"] == who.id


@pytest.mark.parametrize("how", ["body", "bearer"])
async def test_refresh_for_api_clients(
    http: httpx.AsyncClient, account: AccountFactory, how: str
) -> None:
    who = await account()
    if how == "body":
        response = await http.post(
            "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
        )
    else:
        response = await http.post("/api/v1/login/refresh-token", headers=bearer(who.refresh_token))
    assert response.status_code == 200
    assert response.json()["access_token"] != who.token


async def test_access_token_is_refused_as_refresh(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    response = await http.post("/api/v1/login/refresh-token", json={"refresh_token": who.token})
    assert response.status_code == 401


async def test_no_refresh_token_is_401(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/v1/login/refresh-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "No refresh token."}


async def test_reuse_within_grace_succeeds_for_concurrent_tabs(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    body = {"refresh_token": who.refresh_token}
    first, second = await asyncio.gather(
        http.post("/api/v1/login/refresh-token", json=body),
        http.post("/api/v1/login/refresh-token", json=body),
    )
    assert first.status_code == second.status_code == 200
    # both new tokens keep working: the family was not revoked
    for response in (first, second):
        again = await http.post(
            "/api/v1/login/refresh-token", json={"refresh_token": response.json()["refresh_token"]}
        )
        assert again.status_code == 200


async def test_reuse_after_grace_revokes_the_whole_family(
    custom_server: Callable[..., object],
) -> None:
    async with custom_server(REFRESH_TOKEN_REUSE_GRACE_SECONDS=0) as srv:  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=srv.url) as http:
            from tests.conftest import create_account

            who = await create_account(http)
            rotated = await http.post(
                "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
            )
            assert rotated.status_code == 200
            newest = rotated.json()["refresh_token"]
            await asyncio.sleep(1.1)  # step past the (zero-second) grace window on a 1 s clock
            stolen = await http.post(
                "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
            )
            assert stolen.status_code == 401
            # the legitimate holder's newer token died with the family
            after = await http.post("/api/v1/login/refresh-token", json={"refresh_token": newest})
            assert after.status_code == 401


async def test_expired_refresh_token_is_refused(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    expired = create_token(
        user_id=who.id,
        type="refresh",
        lifetime=timedelta(seconds=1),
        secret=TEST_SECRET,
        algorithm="HS256",
        now=datetime.now(UTC) - timedelta(minutes=5),
    )
    response = await http.post("/api/v1/login/refresh-token", json={"refresh_token": expired.token})
    assert response.status_code == 401


async def test_unknown_refresh_jti_is_refused(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    forged = create_token(
        user_id=who.id,
        type="refresh",
        lifetime=timedelta(days=1),
        secret=TEST_SECRET,
        algorithm="HS256",
    )
    response = await http.post("/api/v1/login/refresh-token", json={"refresh_token": forged.token})
    assert response.status_code == 401


# logout


async def test_logout_with_access_token_revokes_the_login(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    tokens = (await login(http, who.email)).json()
    response = await http.post("/api/v1/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert (
        'refresh_token=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    refused = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refused.status_code == 401
    # the other login of the same user is untouched
    still = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
    )
    assert still.status_code == 200


async def test_logout_with_refresh_token_body(
    http: httpx.AsyncClient, account: AccountFactory
) -> None:
    who = await account()
    response = await http.post("/api/v1/logout", json={"refresh_token": who.refresh_token})
    assert response.status_code == 204
    refused = await http.post(
        "/api/v1/login/refresh-token", json={"refresh_token": who.refresh_token}
    )
    assert refused.status_code == 401


async def test_logout_without_credentials_is_401(http: httpx.AsyncClient) -> None:
    assert (await http.post("/api/v1/logout")).status_code == 401


async def test_me_requires_a_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
