"""One authenticated connection, as handlers see it.

A `Session` moves through `Phase`: CONNECTING (accepted, waiting for the
token) → ACTIVE (requests are dispatched) → CLOSING (a close is queued; no
more requests) → CLOSED. Everything it sends, replies and events alike, goes
through its `Outbox`: a bounded queue with one sender at a time, so a slow
reader can never stall a broadcast or grow memory without bound.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.realtime import frames

if TYPE_CHECKING:
    from app.realtime.hub import Hub


class Phase(enum.Enum):
    CONNECTING = "connecting"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Principal:
    """The user behind a session, detached from any database session."""

    id: int
    email: str
    full_name: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "full_name": self.full_name}


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str = ""


class Outbox:
    """Frames waiting to be sent, in order, at most `limit`; one sender drains them at a time.

    The request loop sends its own replies (and whatever was queued before
    them) itself. A frame that arrives while nobody is sending, such as an
    event from another connection's request, calls `wake`, which sends it
    there and then (a task only if the socket makes it wait): an idle
    connection has no task of its own.
    """

    __slots__ = ("_limit", "_on_overflow", "closed", "overflowed", "queued", "sending", "wake")

    def __init__(
        self,
        limit: int,
        on_overflow: Callable[[], None] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.queued: deque[str | Close] = deque()  # read it; put, close and take change it
        self._limit = limit
        self._on_overflow = on_overflow
        self.wake = wake
        self.sending = False  # someone is draining; new frames wait for them
        self.closed: Close | None = None
        self.overflowed = False

    def __len__(self) -> int:
        return len(self.queued)

    def put(self, frame: str) -> bool:
        if self.closed is not None:
            return False
        if len(self.queued) >= self._limit:
            if not self.overflowed:
                self.overflowed = True
                self.closed = Close(1013, "send queue overflow")
                self.queued.clear()
                if self._on_overflow is not None:
                    self._on_overflow()
            return False
        self.queued.append(frame)
        self._nudge()
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Queue a close after every frame already queued."""
        if self.closed is None:
            self.closed = Close(code, reason)
            self.queued.append(self.closed)
            self._nudge()

    def take(self) -> str | Close | None:
        """The next frame, or None when there is none."""
        return self.queued.popleft() if self.queued else None

    def _nudge(self) -> None:
        if not self.sending and self.wake is not None:
            self.sending = True
            self.wake()


class TokenBucket:
    """`rate` tokens a second up to `burst`; each request takes one."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Session:
    """What a handler gets besides its data: who, which connection, and the means to act."""

    def __init__(
        self,
        *,
        hub: Hub,
        outbox: Outbox,
        sessionmaker: async_sessionmaker[AsyncSession],
        limiter: TokenBucket,
        settings: Settings,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.phase = Phase.CONNECTING
        self.user: Principal = Principal(0, "", "")
        self.expires_at = 0.0  # the access token's `exp`, as a UNIX timestamp
        self.context: dict[str, Any] = {}
        self.topics: set[str] = set()
        self.outbox = outbox
        self.limiter = limiter
        self.busy = False
        self.settings = settings
        self._hub = hub
        self.sessionmaker = sessionmaker  # for work outside the request's scope (a group commit)
        self._db: AsyncSession | None = None
        self._close_after_reply: int | None = None

    def __repr__(self) -> str:
        return f"<Session {self.id} user={self.user.id} {self.phase.value}>"

    # the database scope of the current request

    @property
    def db(self) -> AsyncSession:
        """A database session for the current request, opened on first use and closed after it."""
        if self._db is None:
            self._db = self.sessionmaker()
        return self._db

    @property
    def db_open(self) -> bool:
        """Whether the current request opened `db` (and `end_request` has it to close)."""
        return self._db is not None

    async def end_request(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    # sending

    def send(self, state: str, data: Any) -> None:
        """Push an event to this connection only."""
        self.outbox.put(frames.event(state, data))

    async def publish(
        self, topic: str, state: str, data: Any, *, include_self: bool = False
    ) -> None:
        """Send an event to every connection subscribed to `topic`, in every process."""
        await self._hub.publish(topic, frames.event(state, data), None if include_self else self.id)

    async def subscribe(self, topic: str) -> None:
        await self._hub.subscribe(self, topic)

    async def unsubscribe(self, topic: str, *, every_connection_of_user: bool = False) -> None:
        """Stop receiving `topic`; optionally on every connection of this user in this process."""
        if every_connection_of_user:
            for session in self._hub.sessions_of(self.user.id):
                await self._hub.unsubscribe(session, topic)
        else:
            await self._hub.unsubscribe(self, topic)

    async def throttle(self, key: str, seconds: float) -> bool:
        """True at most once per `seconds` for `key`, across every process."""
        return await self._hub.broadcaster.throttle(key, seconds)

    async def online(self, topic: str) -> list[dict[str, Any]]:
        """The distinct users with a live connection subscribed to `topic`."""
        return await self._hub.online(topic)

    async def online_counts(self, topics: list[str]) -> dict[str, int]:
        return await self._hub.online_counts(topics)

    # lifecycle

    @property
    def shutting_down(self) -> bool:
        return self._hub.shutting_down

    @property
    def token_expired(self) -> bool:
        return time.time() >= self.expires_at

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection once the reply to the current request is sent."""
        self._close_after_reply = code

    def take_close(self) -> int | None:
        code, self._close_after_reply = self._close_after_reply, None
        return code
