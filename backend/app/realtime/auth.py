"""Turning an access token into the session's user (the handshake and `reauth`)."""

from __future__ import annotations

from app.accounts import service
from app.core.security import InvalidToken
from app.realtime import errors
from app.realtime.session import Principal, Session


async def authenticate(session: Session, token: object) -> tuple[Principal, float]:
    """The user and token expiry, or `Unauthorized` for any problem at all."""
    if not isinstance(token, str):
        raise errors.Unauthorized()
    try:
        user, claims = await service.user_from_access_token(session.db, token, session.settings)
    except InvalidToken:
        raise errors.Unauthorized() from None
    finally:
        await session.end_request()
    return Principal(user.id, user.email, user.full_name), claims.expires_at.timestamp()
