"""Account and token operations on a database session.

`user_from_access_token` is the one place an access token becomes a user; the
REST dependency and the socket handshake both call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.exceptions import EmailTaken, RefreshRejected
from app.accounts.models import RefreshToken, User
from app.accounts.schemas import UserCreate
from app.core.config import Settings
from app.core.security import (
    InvalidToken,
    TokenClaims,
    create_token,
    decode_token,
    hash_password,
    verify_password,
)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access: TokenClaims
    refresh: TokenClaims

    @property
    def expires_in(self) -> int:
        return int((self.access.expires_at - self.access.issued_at).total_seconds())


async def get_by_email(db: AsyncSession, email: str) -> User | None:
    result = await db.scalars(select(User).where(func.lower(User.email) == email.lower()))
    return result.first()


async def create_user(db: AsyncSession, data: UserCreate, *, is_superuser: bool = False) -> User:
    if await get_by_email(db, data.email) is not None:
        raise EmailTaken(data.email)
    user = User(
        email=data.email,
        full_name=data.full_name,
        hashed_password=await hash_password(data.password),
        is_active=True,
        is_superuser=is_superuser,
    )
    db.add(user)
    try:
        await db.commit()
    except IntegrityError as exc:  # a concurrent sign-up with the same email
        await db.rollback()
        raise EmailTaken(data.email) from exc
    return user


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    user = await get_by_email(db, email) if "\x00" not in email else None
    ok = await verify_password(password, user.hashed_password if user else None)
    if user is None or not ok or not user.is_active:
        return None
    return user


async def user_from_access_token(
    db: AsyncSession, token: str, settings: Settings
) -> tuple[User, TokenClaims]:
    """The active user an access token names, and its claims; `InvalidToken` otherwise."""
    claims = access_claims(token, settings)
    user = await db.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("unknown or inactive user")
    return user, claims


def access_claims(token: str, settings: Settings) -> TokenClaims:
    return decode_token(
        token, expected="access", secret=settings.SECRET_KEY, algorithm=settings.JWT_ALGORITHM
    )


async def issue_tokens(
    db: AsyncSession, user: User, settings: Settings, *, family: str | None = None
) -> TokenPair:
    """A new access + refresh pair; the refresh token is recorded so it can be rotated once."""
    now = datetime.now(UTC)
    refresh = create_token(
        user_id=user.id,
        type="refresh",
        lifetime=timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS),
        secret=settings.SECRET_KEY,
        algorithm=settings.JWT_ALGORITHM,
        family=family,
        now=now,
    )
    access = create_token(
        user_id=user.id,
        type="access",
        lifetime=timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES),
        secret=settings.SECRET_KEY,
        algorithm=settings.JWT_ALGORITHM,
        family=refresh.claims.family,
        now=now,
    )
    db.add(
        RefreshToken(
            jti=refresh.claims.jti,
            user_id=user.id,
            family=refresh.claims.family,
            expires_at=refresh.claims.expires_at,
        )
    )
    await db.commit()
    return TokenPair(access.token, refresh.token, access.claims, refresh.claims)


async def rotate_refresh_token(db: AsyncSession, token: str, settings: Settings) -> TokenPair:
    """Spend a refresh token for a new pair in the same family.

    A token already spent is accepted again only within the grace window (two
    tabs refreshing at once); after it, the reuse means theft and the whole
    family is revoked.
    """
    try:
        claims = decode_token(
            token, expected="refresh", secret=settings.SECRET_KEY, algorithm=settings.JWT_ALGORITHM
        )
    except InvalidToken as exc:
        raise RefreshRejected("invalid refresh token") from exc

    record = await db.get(RefreshToken, claims.jti)
    if record is None or record.revoked or record.user_id != claims.user_id:
        raise RefreshRejected("unknown or revoked refresh token")
    user = await db.get(User, record.user_id)
    if user is None or not user.is_active:
        raise RefreshRejected("unknown or inactive user")

    now = datetime.now(UTC)
    claimed = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == record.jti, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    if claimed.rowcount == 0:  # type: ignore[attr-defined]
        await db.refresh(record)
        rotated_at = record.rotated_at
        grace = timedelta(seconds=settings.REFRESH_TOKEN_REUSE_GRACE_SECONDS)
        if rotated_at is None or now - rotated_at > grace:
            await revoke_family(db, record.family)
            raise RefreshRejected("refresh token reused; its login has been revoked")
    return await issue_tokens(db, user, settings, family=record.family)


async def revoke_family(db: AsyncSession, family: str) -> None:
    await db.execute(update(RefreshToken).where(RefreshToken.family == family).values(revoked=True))
    await db.commit()


def refresh_family(token: str, settings: Settings) -> str | None:
    """The family of a valid refresh token; None for anything else."""
    try:
        return decode_token(
            token, expected="refresh", secret=settings.SECRET_KEY, algorithm=settings.JWT_ALGORITHM
        ).family
    except InvalidToken:
        return None
