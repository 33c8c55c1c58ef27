"""Passwords (argon2) and JSON Web Tokens (python-jose).

Tokens carry `sub` (user id), `exp`, `iat`, `nbf`, `type` (`access` |
`refresh`), `jti` and `fam` (the login's refresh-token family, so an access
token can end its own login on logout). Decoding always names the one
algorithm in use; `alg: none`, other algorithms, a future `nbf`, a token of
the wrong type and a missing claim are all `InvalidToken`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jose import ExpiredSignatureError, JWTError, jwt
from starlette.concurrency import run_in_threadpool

TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("not a real password")


class InvalidToken(Exception):
    """The token is not one this server issued for this purpose, or it has expired."""


class TokenExpired(InvalidToken):
    """A well-formed token of ours whose `exp` has passed."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    type: TokenType
    jti: str
    family: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    claims: TokenClaims


async def hash_password(password: str) -> str:
    return await run_in_threadpool(_hasher.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
        except (VerificationError, InvalidHashError):
            return False

    return await run_in_threadpool(verify)


def create_token(
    *,
    user_id: int,
    type: TokenType,
    lifetime: timedelta,
    secret: str,
    algorithm: str,
    family: str | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = TokenClaims(
        user_id=user_id,
        type=type,
        jti=str(uuid.uuid4()),
        family=family or str(uuid.uuid4()),
        issued_at=issued,
        expires_at=issued + lifetime,
    )
    payload = {
        "sub": str(user_id),
        "type": type,
        "jti": claims.jti,
        "fam": claims.family,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    return IssuedToken(token=jwt.encode(payload, secret, algorithm=algorithm), claims=claims)


def decode_token(token: str, *, expected: TokenType, secret: str, algorithm: str) -> TokenClaims:
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise InvalidToken("not a token")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require_exp": True, "require_iat": True, "require_sub": True},
        )
    except ExpiredSignatureError as exc:
        raise TokenExpired("token expired") from exc
    except (JWTError, ValueError, TypeError) as exc:
        raise InvalidToken("token rejected") from exc
    try:
        claims = TokenClaims(
            user_id=int(payload["sub"]),
            type=payload["type"],
            jti=str(payload["jti"]),
            family=str(payload["fam"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("token claims incomplete") from exc
    if claims.type != expected:
        raise InvalidToken(f"expected a {expected} token")
    return claims
