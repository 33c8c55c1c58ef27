"""Turning an access token into a user: the handshake helper, shared by every socket style."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service
from app.core.config import Settings
from app.core.security import InvalidToken
from app.realtime import errors
from app.realtime.session import Principal, Session


async def authenticate_token(
    db: AsyncSession, token: object, settings: Settings
) -> tuple[Principal, float]:
    """The active user a token names and its expiry (UNIX time), or `Unauthorized`."""
    if not isinstance(token, str):
        raise errors.Unauthorized()
    try:
        user, claims = await service.user_from_access_token(db, token, settings)
    except InvalidToken:
        raise errors.Unauthorized() from None
    return Principal(user.id, user.email, user.full_name), claims.expires_at.timestamp()


async def authenticate(session: Session, token: object) -> tuple[Principal, float]:
    """`authenticate_token` with the session's own database scope and settings."""
    try:
        return await authenticate_token(session.db, token, session.settings)
    finally:
        await session.end_request()
