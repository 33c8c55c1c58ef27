"""The states every session has: `ping`, `reauth` and `close`."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from pydantic import Field

from app.realtime import errors, frames
from app.realtime.auth import authenticate
from app.realtime.registry import ReplyModel, RequestModel, StateRouter
from app.realtime.session import Session

states = StateRouter()


class PingOut(ReplyModel):
    time: datetime


class ReauthIn(RequestModel):
    token: str = Field(max_length=8192)


class ReauthOut(ReplyModel):
    expires_at: datetime


@states.handler("ping", reply=PingOut)
async def ping(session: Session) -> frames.Json:
    """Answer with the server's time; a cheap liveness check."""
    return ping_reply(datetime.now(UTC))


def ping_reply(now: datetime) -> frames.Json:
    """`PingOut` as pydantic would encode it (orjson writes a UTC time the same way).

    Clients ping every connection every few seconds, and building and encoding
    the model was about a third of what a ping cost the engine (docs/performance.md).
    """
    return frames.raw(orjson.dumps({"time": now}, option=orjson.OPT_UTC_Z))


@states.handler("reauth")
async def reauth(data: ReauthIn, session: Session) -> ReauthOut:
    """Swap in a fresh access token for the same user without reconnecting."""
    user, expires_at = await authenticate(session, data.token)
    if user.id != session.user.id:
        raise errors.Unauthorized()
    session.expires_at = expires_at
    return ReauthOut(expires_at=datetime.fromtimestamp(expires_at, UTC))


@states.handler("close")
async def close(session: Session) -> None:
    """Reply, then close the connection normally (1000)."""
    session.close(errors.CloseCode.NORMAL)
