"""Fan-out between processes, and who is online where.

`Broadcaster` is chosen by `BROADCAST_URL`:

- `memory://` (default): one process; publishing is a no-op because the hub
  has already delivered to its local sockets, and presence is a dict.
- `redis://host:port/db`: Redis pub/sub carries every event to the other
  processes; presence lives in one sorted set per topic whose scores are
  expiry times, refreshed by a heartbeat, so a crashed process's sockets stop
  counting as online after `PRESENCE_TTL` seconds.

Delivery is always local-first: the publishing process delivers to its own
sockets before it hands the frame to Redis. When Redis is unreachable the
process keeps serving its own sockets, logs at ERROR, reports
`healthy() is False` and reconnects by itself; clients recover whatever
crossed processes in the meantime through `joinRoom {since}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

logger = logging.getLogger(__name__)

#: Receives (topic, frame text, session id to skip) for local delivery.
Deliver = Callable[[str, str, str | None], None]
#: Called with a topic whose presence lost entries of a dead process.
Expired = Callable[[str], Awaitable[None]]

PRESENCE_TTL = 30.0
HEARTBEAT_INTERVAL = 10.0


class Broadcaster(Protocol):
    async def start(self, deliver: Deliver, expired: Expired | None = None) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, topic: str, frame: str, exclude: str | None) -> None: ...
    async def healthy(self) -> bool: ...
    async def presence_join(self, topic: str, session_id: str, user: dict[str, Any]) -> None: ...
    async def presence_leave(self, topic: str, session_id: str) -> None: ...
    async def presence_online(self, topic: str) -> list[dict[str, Any]]: ...
    async def presence_counts(self, topics: list[str]) -> dict[str, int]: ...
    async def throttle(self, key: str, seconds: float) -> bool: ...


def create_broadcaster(url: str, prefix: str = "chat") -> Broadcaster:
    if url.startswith("memory://"):
        return MemoryBroadcaster()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroadcaster(url, prefix=prefix)
    raise ValueError(f"BROADCAST_URL must start with memory:// or redis://, not {url!r}")


def _distinct_users(users: Any) -> list[dict[str, Any]]:
    by_id = {user["id"]: user for user in users}
    return sorted(by_id.values(), key=lambda user: (user["full_name"].casefold(), user["id"]))


class MemoryBroadcaster:
    """One process: the hub's local delivery is all the delivery there is."""

    def __init__(self) -> None:
        self._presence: dict[str, dict[str, dict[str, Any]]] = {}
        self._throttle: dict[str, float] = {}

    async def throttle(self, key: str, seconds: float) -> bool:
        now = time.monotonic()
        if self._throttle.get(key, 0.0) > now:
            return False
        if len(self._throttle) > 10_000:
            self._throttle = {k: t for k, t in self._throttle.items() if t > now}
        self._throttle[key] = now + seconds
        return True

    async def start(self, deliver: Deliver, expired: Expired | None = None) -> None:
        return None

    async def stop(self) -> None:
        self._presence.clear()

    async def publish(self, topic: str, frame: str, exclude: str | None) -> None:
        return None

    async def healthy(self) -> bool:
        return True

    async def presence_join(self, topic: str, session_id: str, user: dict[str, Any]) -> None:
        self._presence.setdefault(topic, {})[session_id] = user

    async def presence_leave(self, topic: str, session_id: str) -> None:
        members = self._presence.get(topic)
        if members is not None:
            members.pop(session_id, None)
            if not members:
                del self._presence[topic]

    async def presence_online(self, topic: str) -> list[dict[str, Any]]:
        return _distinct_users(self._presence.get(topic, {}).values())

    async def presence_counts(self, topics: list[str]) -> dict[str, int]:
        return {
            topic: len({user["id"] for user in self._presence.get(topic, {}).values()})
            for topic in topics
        }


class RedisBroadcaster:
    """Redis pub/sub between processes, presence in expiring sorted-set entries."""

    def __init__(self, url: str, *, prefix: str = "chat") -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10
        )
        self._prefix = prefix
        self._process = uuid.uuid4().hex
        self._deliver: Deliver | None = None
        self._expired: Expired | None = None
        self._healthy = False
        self._local: dict[str, dict[str, bytes]] = {}  # topic -> session id -> member
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    def _channel(self, topic: str) -> str:
        return f"{self._prefix}:topic:{topic}"

    def _presence_key(self, topic: str) -> str:
        return f"{self._prefix}:presence:{topic}"

    async def start(self, deliver: Deliver, expired: Expired | None = None) -> None:
        self._deliver = deliver
        self._expired = expired
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-listen"),
            asyncio.create_task(self._heartbeat(), name="redis-presence-heartbeat"),
        ]
        # Give a reachable Redis a moment so the first events are not missed;
        # an unreachable one must not stop the app from starting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=3)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._forget_local_presence()
        await self._redis.aclose()

    async def healthy(self) -> bool:
        if not self._healthy:
            return False
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def publish(self, topic: str, frame: str, exclude: str | None) -> None:
        envelope = f"{self._process}\n{exclude or ''}\n{frame}"
        try:
            await self._redis.publish(self._channel(topic), envelope)
        except Exception as exc:
            self._lost(exc, "publish")

    async def _listen(self) -> None:
        delay = 0.5
        pattern = self._channel("*")
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(pattern)
                if not self._healthy:
                    logger.warning("broadcast: connected to Redis, cross-process delivery is on")
                self._healthy = True
                self._subscribed.set()
                delay = 0.5
                await self._refresh_presence()
                while True:
                    message = await pubsub.get_message(timeout=HEARTBEAT_INTERVAL)
                    if message is not None and message["type"] == "pmessage":
                        self._on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc, "subscribe")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, channel: bytes, data: bytes) -> None:
        process, exclude, frame = data.decode().split("\n", 2)
        if process == self._process or self._deliver is None:
            return  # delivered locally already
        topic = channel.decode()[len(self._prefix) + len(":topic:") :]
        self._deliver(topic, frame, exclude or None)

    def _lost(self, exc: Exception, during: str) -> None:
        if self._healthy:
            logger.error(
                "broadcast: Redis unreachable during %s (%s); serving local sockets only "
                "and reconnecting",
                during,
                exc,
            )
        self._healthy = False

    async def throttle(self, key: str, seconds: float) -> bool:
        try:
            return bool(
                await self._redis.set(
                    f"{self._prefix}:throttle:{key}", b"1", nx=True, px=int(seconds * 1000)
                )
            )
        except Exception as exc:
            self._lost(exc, "throttle")
            return True

    # presence

    async def presence_join(self, topic: str, session_id: str, user: dict[str, Any]) -> None:
        member = orjson.dumps({"s": session_id, **user})
        self._local.setdefault(topic, {})[session_id] = member
        try:
            await self._redis.zadd(self._presence_key(topic), {member: time.time() + PRESENCE_TTL})
        except Exception as exc:
            self._lost(exc, "presence")

    async def presence_leave(self, topic: str, session_id: str) -> None:
        members = self._local.get(topic, {})
        member = members.pop(session_id, None)
        if not members:
            self._local.pop(topic, None)
        if member is None:
            return
        try:
            await self._redis.zrem(self._presence_key(topic), member)
        except Exception as exc:
            self._lost(exc, "presence")

    async def presence_online(self, topic: str) -> list[dict[str, Any]]:
        try:
            members: list[Any] = await self._redis.zrangebyscore(
                self._presence_key(topic), time.time(), "+inf"
            )
        except Exception as exc:
            self._lost(exc, "presence")
            members = list(self._local.get(topic, {}).values())
        users = []
        for member in members:
            entry = orjson.loads(member)
            entry.pop("s", None)
            users.append(entry)
        return _distinct_users(users)

    async def presence_counts(self, topics: list[str]) -> dict[str, int]:
        now = time.time()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for topic in topics:
                    pipe.zrangebyscore(self._presence_key(topic), now, "+inf")
                results = await pipe.execute()
        except Exception as exc:
            self._lost(exc, "presence")
            results = [list(self._local.get(topic, {}).values()) for topic in topics]
        return {
            topic: len({orjson.loads(member)["id"] for member in members})
            for topic, members in zip(topics, results, strict=True)
        }

    async def _refresh_presence(self) -> None:
        """Renew this process's entries; drop expired ones (a dead process's) and say where."""
        expires = time.time() + PRESENCE_TTL
        topics = list(self._local.items())
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, members in topics:
                if members:
                    pipe.zadd(self._presence_key(topic), dict.fromkeys(members.values(), expires))
                pipe.zremrangebyscore(self._presence_key(topic), "-inf", time.time())
            results = await pipe.execute()
        position = -1
        for topic, members in topics:
            position += 2 if members else 1  # each topic's sweep is its last command
            if results[position] and self._expired is not None:
                try:
                    await self._expired(topic)
                except Exception:
                    logger.exception("presence-lost hook failed for %s", topic)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if not self._healthy:
                continue
            try:
                await self._refresh_presence()
            except Exception as exc:
                self._lost(exc, "heartbeat")

    async def _forget_local_presence(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, members in self._local.items():
                if members:
                    pipe.zrem(self._presence_key(topic), *members.values())
            await pipe.execute()
        self._local.clear()
