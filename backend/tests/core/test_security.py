"""Tokens and passwords, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from app.core.security import (
    InvalidToken,
    TokenExpired,
    create_token,
    decode_token,
    hash_password,
    verify_password,
)

SECRET = "x" * 40


def issue(**changes: object) -> str:
    values: dict[str, object] = {
        "user_id": 7,
        "type": "access",
        "lifetime": timedelta(minutes=5),
        "secret": SECRET,
        "algorithm": "HS256",
    }
    values.update(changes)
    return create_token(**values).token  # type: ignore[arg-type]


def test_round_trip_carries_every_claim() -> None:
    issued = create_token(
        user_id=7, type="refresh", lifetime=timedelta(days=1), secret=SECRET, algorithm="HS256"
    )
    claims = decode_token(issued.token, expected="refresh", secret=SECRET, algorithm="HS256")
    assert claims == issued.claims
    payload = jwt.get_unverified_claims(issued.token)
    assert set(payload) == {"sub", "exp", "iat", "nbf", "type", "jti", "fam"}


def test_expired_is_its_own_error() -> None:
    token = issue(now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(TokenExpired):
        decode_token(token, expected="access", secret=SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issue(type="refresh"), id="wrong-type"),
        pytest.param(issue(secret="y" * 40), id="wrong-key"),
        pytest.param(issue(algorithm="HS512"), id="wrong-algorithm"),
        pytest.param(issue(now=datetime.now(UTC) + timedelta(hours=1)), id="not-yet-valid"),
        pytest.param("", id="empty"),
        pytest.param("a.b.c", id="garbage"),
        pytest.param("x" * 9000, id="too-long"),
    ],
)
def test_rejected_tokens(token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_token(token, expected="access", secret=SECRET, algorithm="HS256")


async def test_passwords_are_argon2_and_verify() -> None:
    hashed = await hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert await verify_password("correct horse", hashed)
    assert not await verify_password("wrong horse", hashed)
    assert not await verify_password("correct horse", None)
    assert not await verify_password("correct horse", "not a hash")
