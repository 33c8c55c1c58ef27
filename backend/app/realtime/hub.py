"""The live connections of one process, their topics, and delivery.

`publish` encodes nothing: it gets a frame already encoded once, appends the
same string to every local subscriber's outbox (no awaiting any socket), then
hands it to the broadcaster for the other processes.

Shutdown: `install_signal_handlers` puts the hub in front of uvicorn's own
SIGTERM/SIGINT handling, so sockets get close 1001 after their in-flight
reply, before uvicorn starts tearing connections down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from app.core import metrics
from app.realtime.broadcast import Broadcaster
from app.realtime.errors import CloseCode
from app.realtime.registry import TopicHook
from app.realtime.session import Phase, Session

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5.0


class Hub:
    def __init__(
        self, broadcaster: Broadcaster, presence_lost: list[TopicHook] | None = None
    ) -> None:
        self.broadcaster = broadcaster
        self._presence_lost = presence_lost or []
        self.sessions: dict[str, Session] = {}
        self._by_user: dict[int, set[str]] = {}
        self._topics: dict[str, dict[str, Session]] = {}
        self.shutting_down = False
        self._empty = asyncio.Event()
        self._empty.set()

    async def start(self) -> None:
        await self.broadcaster.start(self.deliver, self._on_presence_lost)

    async def _on_presence_lost(self, topic: str) -> None:
        for hook in self._presence_lost:
            await hook(self, topic)

    async def stop(self) -> None:
        await self.broadcaster.stop()

    # connections

    def connections_of(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def sessions_of(self, user_id: int) -> list[Session]:
        return [self.sessions[i] for i in self._by_user.get(user_id, ()) if i in self.sessions]

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session
        self._by_user.setdefault(session.user.id, set()).add(session.id)
        self._empty.clear()
        metrics.OPEN_SOCKETS.inc()

    async def remove(self, session: Session) -> None:
        for topic in list(session.topics):
            await self.unsubscribe(session, topic)
        if self.sessions.pop(session.id, None) is None:
            return
        metrics.OPEN_SOCKETS.dec()
        ids = self._by_user.get(session.user.id)
        if ids is not None:
            ids.discard(session.id)
            if not ids:
                del self._by_user[session.user.id]
        if not self.sessions:
            self._empty.set()

    # topics

    async def subscribe(self, session: Session, topic: str) -> None:
        self._topics.setdefault(topic, {})[session.id] = session
        session.topics.add(topic)
        await self.broadcaster.presence_join(topic, session.id, session.user.public())

    async def unsubscribe(self, session: Session, topic: str) -> None:
        members = self._topics.get(topic)
        if members is not None:
            members.pop(session.id, None)
            if not members:
                del self._topics[topic]
        session.topics.discard(topic)
        await self.broadcaster.presence_leave(topic, session.id)

    async def online(self, topic: str) -> list[dict[str, Any]]:
        return await self.broadcaster.presence_online(topic)

    async def online_counts(self, topics: list[str]) -> dict[str, int]:
        return await self.broadcaster.presence_counts(topics)

    # delivery

    async def publish(self, topic: str, frame: str, exclude: str | None) -> None:
        metrics.EVENTS_PUBLISHED.inc()
        self.deliver(topic, frame, exclude)
        await self.broadcaster.publish(topic, frame, exclude)

    def deliver(self, topic: str, frame: str, exclude: str | None) -> None:
        members = self._topics.get(topic)
        if not members:
            return
        delivered = 0
        for session_id, session in list(members.items()):
            if session_id != exclude and session.outbox.put(frame):
                delivered += 1
        metrics.EVENTS_DELIVERED.inc(delivered)

    # shutdown

    async def close_all(self, code: int = CloseCode.GOING_AWAY, grace: float = 5.0) -> None:
        """Close every socket with `code` after its in-flight reply; wait for them to go."""
        self.shutting_down = True
        for session in list(self.sessions.values()):
            if session.phase is Phase.ACTIVE and not session.busy:
                session.phase = Phase.CLOSING
                session.outbox.close(code, "server shutting down")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._empty.wait(), grace)

    def install_signal_handlers(self) -> Callable[[], None]:
        """Chain a graceful close in front of the current SIGTERM/SIGINT handlers.

        Returns a function that restores the previous handlers.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous: dict[int, Any] = {}

        def handle(sig: int, frame: FrameType | None) -> None:
            handler = previous.get(sig)

            def hand_over() -> None:
                if callable(handler):
                    handler(sig, frame)

            if self.shutting_down:
                hand_over()  # second signal: no more grace
                return
            logger.info("closing %d socket(s) with 1001 before shutdown", len(self.sessions))
            task = loop.create_task(self.close_all(grace=SHUTDOWN_GRACE_SECONDS))
            task.add_done_callback(lambda _: hand_over())

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda s, f: loop.call_soon_threadsafe(handle, s, f))

        def restore() -> None:
            for sig, handler in previous.items():
                with contextlib.suppress(Exception):
                    signal.signal(sig, handler)

        return restore
