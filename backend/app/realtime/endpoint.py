"""The WebSocket endpoint: the only code that touches the socket.

    origin check → accept → {token} within SOCKET_AUTH_TIMEOUT → initialised
    → loop: receive → size check → dispatch → outbox
    → close (by request, error, overflow or shutdown) → hooks → forget

Replies and events leave through the session's outbox, one sender at a time:
the request loop sends its own reply (after anything queued before it), and
events that arrive while nobody is sending are sent by the connection's
`Writer` at once, in the publisher's step, with a task only for a send that
has to wait (a slow reader). An idle connection holds no task but its
request loop. Requests on one connection are handled one after the other, in order;
other connections are not held up by a slow handler, nor by a slow reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from app.core import eager, metrics
from app.core.config import Settings
from app.core.logging import connection_id
from app.realtime import errors, frames
from app.realtime.auth import authenticate
from app.realtime.dispatch import dispatch
from app.realtime.hub import Hub
from app.realtime.registry import Registry
from app.realtime.session import Close, Outbox, Phase, Session, TokenBucket

logger = logging.getLogger(__name__)

WRITER_DRAIN_SECONDS = 5.0
#: Requests handled back to back (a burst read from the buffer) before the loop lets others run.
YIELD_AFTER = 8


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    """No Origin (a non-browser client) passes; a browser's must be listed."""
    return origin is None or origin.rstrip("/") in settings.ALLOWED_ORIGINS


async def socket_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    settings: Settings = state.settings
    hub: Hub = state.hub
    registry: Registry = state.registry

    if not origin_allowed(websocket.headers.get("origin"), settings):
        await websocket.close(code=errors.CloseCode.POLICY_VIOLATION)  # before accept: HTTP 403
        return
    if hub.shutting_down:
        await websocket.close(code=errors.CloseCode.TRY_AGAIN_LATER)
        return
    await websocket.accept()

    writer = Writer(websocket, settings.SOCKET_SEND_QUEUE)
    outbox = writer.outbox
    session = Session(
        hub=hub,
        outbox=outbox,
        sessionmaker=state.database.sessionmaker,
        limiter=TokenBucket(settings.SOCKET_RATE_LIMIT, settings.SOCKET_RATE_BURST),
        settings=settings,
    )
    connection_id.set(session.id)
    try:
        if await _handshake(websocket, session, hub, registry):
            logger.info("session started for user %d", session.user.id)
            await _serve(websocket, session, registry)
    finally:
        session.phase = Phase.CLOSING
        for hook in registry.on_disconnect if session.user.id else ():
            try:
                await hook(session)
            except Exception:
                logger.exception("on_disconnect hook failed for session %s", session.id)
            finally:
                await session.end_request()
        await hub.remove(session)
        session.phase = Phase.CLOSED
        if outbox.closed is None:
            outbox.close(errors.CloseCode.NORMAL)
        await writer.finish()


async def _handshake(websocket: WebSocket, session: Session, hub: Hub, registry: Registry) -> bool:
    settings = session.settings
    try:
        try:
            message = await asyncio.wait_for(websocket.receive(), settings.SOCKET_AUTH_TIMEOUT)
        except TimeoutError:
            raise errors.Unauthorized() from None
        if message["type"] == "websocket.disconnect":
            return False
        raw = message.get("text") or message.get("bytes") or b""
        if len(raw) > settings.SOCKET_MAX_MESSAGE_BYTES:
            raise errors.Unauthorized()
        try:
            token = frames.load_object(raw).get("token")
        except errors.InvalidJson:
            raise errors.Unauthorized() from None
        session.user, session.expires_at = await authenticate(session, token)
        if hub.connections_of(session.user.id) >= settings.SOCKET_MAX_CONNECTIONS_PER_USER:
            raise errors.TooManyConnections()
    except errors.SocketError as exc:
        logger.info("handshake refused: %s", exc.code)
        session.outbox.put(frames.error(exc))
        session.outbox.close(exc.close_code or errors.CloseCode.POLICY_VIOLATION, exc.code)
        return False
    except Exception:  # the database is down, say: not the client's fault, try again later
        logger.exception("handshake failed")
        session.outbox.put(frames.error(errors.InternalError("Server error; try again shortly.")))
        session.outbox.close(errors.CloseCode.TRY_AGAIN_LATER, "server error")
        return False

    hub.add(session)
    session.phase = Phase.ACTIVE
    session.outbox.put(
        frames.event(
            "initialised",
            {
                "user": {
                    "id": session.user.id,
                    "email": session.user.email,
                    "full_name": session.user.full_name,
                },
                "session": session.id,
            },
        )
    )
    for hook in registry.on_connect:
        try:
            await hook(session)
        finally:
            await session.end_request()
    return True


async def _serve(websocket: WebSocket, session: Session, registry: Registry) -> None:
    limit = session.settings.SOCKET_MAX_MESSAGE_BYTES
    outbox = session.outbox
    # The ASGI callable itself: Starlette's `receive` re-checks the connection state on every
    # frame, which this loop tracks itself (so does `_reply`, sending).
    receive = websocket._receive
    handled = 0
    while session.phase is Phase.ACTIVE:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            websocket.client_state = WebSocketState.DISCONNECTED
            return
        if session.phase is not Phase.ACTIVE:
            return
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        if _too_big(raw, limit):
            outbox.close(errors.CloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        session.busy = True
        outcome = await dispatch(registry, session, raw)
        session.busy = False
        await _reply(websocket, outbox, outcome.frame)
        handled += 1
        if handled % YIELD_AFTER == 0:
            # A burst is being read from the buffer without ever waiting: let others run.
            await asyncio.sleep(0)
        if outcome.close is not None:
            outbox.close(outcome.close)
            return
        if session.shutting_down:
            outbox.close(errors.CloseCode.GOING_AWAY, "server shutting down")
            return


def _too_big(raw: str | bytes, limit: int) -> bool:
    if len(raw) > limit:
        return True
    # A str is at most 4 UTF-8 bytes a character: encode only when that could matter.
    return isinstance(raw, str) and len(raw) * 4 > limit and len(raw.encode()) > limit


async def _reply(websocket: WebSocket, outbox: Outbox, frame: str) -> None:
    """Send `frame` after what is queued: ourselves, unless a writer is at work (then it does)."""
    if outbox.sending:
        outbox.put(frame)
        return
    outbox.sending = True
    if outbox.queued or outbox.closed is not None:
        outbox.put(frame)
    else:  # nothing before it (the usual case): straight out, without a trip through the queue
        try:
            await websocket._send({"type": "websocket.send", "text": frame})
        except Exception:  # the peer went away; the reader sees the disconnect
            return
        if not outbox.queued:
            outbox.sending = False
            return
    await _drain(websocket, outbox)


async def _drain(websocket: WebSocket, outbox: Outbox) -> None:
    """Send every queued frame, then stop being the sender. A queued close ends the socket.

    Frames go to the ASGI `send` itself, not through Starlette's `send_text`, which
    re-checks the state for every frame: a close is the only state change made here.
    """
    send = websocket._send
    try:
        while (frame := outbox.take()) is not None:
            if isinstance(frame, Close):
                await _close_quietly(websocket, frame.code, frame.reason)
                return  # still "sending": nothing goes out after a close
            await send({"type": "websocket.send", "text": frame})
    except asyncio.CancelledError:
        raise
    except Exception:  # the peer went away; the reader sees the disconnect
        return
    outbox.sending = False


class Writer:
    """Sends the frames that arrive while the request loop is not sending.

    The outbox calls `wake` when a frame finds nobody sending. The frames go
    out at once, in the caller's step (`eager.start`): a thousand members of a
    room get an event in a thousand plain calls, with no task and no trip
    through the event loop each. Only a socket whose transport has paused
    (a slow reader) gets a task, which sends the rest when it can.
    """

    __slots__ = ("_task", "_websocket", "outbox")

    def __init__(self, websocket: WebSocket, limit: int) -> None:
        self._websocket = websocket
        self.outbox = Outbox(limit, self.overflow, self.wake)
        self._task: asyncio.Task[Any] | None = None  # a send that had to wait

    def wake(self) -> None:
        self._task = eager.start(_drain(self._websocket, self.outbox))

    def overflow(self) -> None:
        """A reader too slow for its events: drop what is queued (the outbox did) and close."""
        if self._task is not None:
            self._task.cancel()
        self._task = eager.start(
            _close_quietly(self._websocket, errors.CloseCode.TRY_AGAIN_LATER, "too slow")
        )

    async def finish(self) -> None:
        """Wait (a while) for a send still waiting, a close usually."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, WRITER_DRAIN_SECONDS)


async def _close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    if websocket.application_state is WebSocketState.DISCONNECTED:
        return
    metrics.CLOSES.labels(str(code)).inc()
    if code not in (errors.CloseCode.NORMAL, errors.CloseCode.GOING_AWAY):
        logger.info("closing with %d (%s)", code, reason or "no reason")
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)
