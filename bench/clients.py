"""The load generator's sockets: one class per server protocol, one interface for the cases.

Every connection runs one reader task that timestamps each frame on arrival
(`time.perf_counter`), resolves the pending request its id answers, and
hands `message` events to `on_message`. The cases only call `echo`, `join`
and `say`, so the same case code drives the three servers:

    server     echo                      join            say (a chat message)
    app        ping request → reply      joinRoom        sendMessage → reply, `message` events
    app-plain  `echo` on the app's hand-written example socket (the classic FastAPI loop)
    baseline   a JSON frame echoed       (URL path)      frame relayed to the room, echoed back
    peer       socket.io `echo` + ack    `join` + ack    `say` + ack, `message` events

Clients never offer permessage-deflate (compression would add the same zlib
cost to every server and hide the engine's own) and send no pings of their
own (the servers ping every 20 s; the library answers).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any, Self

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

REQUEST_TIMEOUT = 30.0
OPEN_TIMEOUT = 30.0

#: Called with (connection, message data, arrival time) for every `message` event.
MessageSink = Callable[["Connection", dict[str, Any], float], None]


class RequestFailed(Exception):
    """The server answered a request with an error, or the socket closed first."""


async def _open(url: str) -> ClientConnection:
    return await connect(
        url,
        compression=None,
        ping_interval=None,
        open_timeout=OPEN_TIMEOUT,
        close_timeout=2,
        max_size=1 << 20,
        proxy=None,
    )


class Connection:
    """One socket: requests matched to replies by id, `message` events to `on_message`."""

    def __init__(self, ws: ClientConnection, index: int) -> None:
        self.ws = ws
        self.index = index
        self.on_message: MessageSink | None = None
        self.frames = 0
        self.error_frames = 0
        self.lost = False  # closed by the server or the network, not by us
        self._closing = False
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._reader = asyncio.create_task(self._read(), name=f"bench-reader-{index}")

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames += 1
                reply = self._on_frame(raw, time.perf_counter())
                if reply is not None:
                    await self.ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self.lost = not self._closing
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(RequestFailed("connection closed"))
            self._pending.clear()

    def _on_frame(self, raw: str | bytes, arrived: float) -> str | None:
        """Handle one frame; return a frame to send back, if the protocol wants one."""
        raise NotImplementedError

    def _resolve(self, request_id: Any, value: Any, *, failed: bool = False) -> bool:
        future = self._pending.pop(request_id, None)
        if future is None or future.done():
            return False
        if failed:
            future.set_exception(RequestFailed(str(value)))
        else:
            future.set_result(value)
        return True

    def _message(self, data: dict[str, Any], arrived: float) -> None:
        if self.on_message is not None:
            self.on_message(self, data, arrived)

    async def _call(self, request_id: Any, frame: str | bytes) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.ws.send(frame)
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        finally:
            self._pending.pop(request_id, None)

    async def echo(self) -> None:
        raise NotImplementedError

    async def join(self, room: int) -> None:
        raise NotImplementedError

    async def say(self, room: int, text: str, client_id: str) -> dict[str, Any]:
        """Send a chat message; the stored message (with `seq` where the server has one)."""
        raise NotImplementedError

    async def close(self) -> None:
        self._closing = True
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except (TimeoutError, OSError):
            self.ws.transport.abort()
        await asyncio.gather(self._reader, return_exceptions=True)

    @property
    def alive(self) -> bool:
        return not self._reader.done()


class AppConnection(Connection):
    """The app's protocol: `{token}` → `initialised`, then `{state, data, id}` requests."""

    PATH = "/api/v1/socket"

    @classmethod
    async def open(cls, base: str, index: int, token: str) -> Self:
        ws = await _open(f"{base}{cls.PATH}")
        await ws.send(orjson.dumps({"token": token}).decode())
        first = orjson.loads(await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT))
        if first.get("state") != "initialised":
            await ws.close()
            raise RequestFailed(f"handshake refused: {first}")
        return cls(ws, index)

    def _on_frame(self, raw: str | bytes, arrived: float) -> str | None:
        frame = orjson.loads(raw)
        state = frame.get("state")
        request_id = frame.get("id")
        if request_id is not None and self._resolve(
            request_id, frame if state == "error" else frame.get("data"), failed=state == "error"
        ):
            if state == "error":
                self.error_frames += 1
            return None
        if state == "message":
            self._message(frame["data"], arrived)
        elif state == "error":
            self.error_frames += 1
        return None

    async def request(self, state: str, data: dict[str, Any] | None = None) -> Any:
        request_id = next(self._ids)
        frame: dict[str, Any] = {"state": state, "id": request_id}
        if data is not None:
            frame["data"] = data
        return await self._call(request_id, orjson.dumps(frame).decode())

    async def echo(self) -> None:
        await self.request("ping")

    async def create_room(self, name: str) -> int:
        reply = await self.request("createRoom", {"name": name})
        return int(reply["room"]["id"])

    async def join(self, room: int) -> None:
        await self.request("joinRoom", {"room": room})

    async def say(self, room: int, text: str, client_id: str) -> dict[str, Any]:
        reply = await self.request(
            "sendMessage", {"room": room, "text": text, "client_id": client_id}
        )
        message: dict[str, Any] = reply["message"]
        return message


class PlainConnection(AppConnection):
    """The app's hand-written `receive_json`/`send_json` example (`/api/v1/plain-socket`).

    Its replies carry no id: with one request in flight per connection, the
    oldest pending request is the one answered.
    """

    PATH = "/api/v1/plain-socket"  # the same token handshake as the engine's

    def _on_frame(self, raw: str | bytes, arrived: float) -> str | None:
        frame = orjson.loads(raw)
        if self._pending:
            self._resolve(next(iter(self._pending)), frame, failed=frame.get("state") == "error")
        return None

    async def echo(self) -> None:
        await self.request("echo", {})


class RawConnection(Connection):
    """The baseline: JSON frames echoed (`/echo`) or relayed to a room (`/relay/{room}`)."""

    @classmethod
    async def open(cls, base: str, index: int, room: int | None = None) -> RawConnection:
        ws = await _open(f"{base}/echo" if room is None else f"{base}/relay/{room}")
        await ws.send("ready")
        if await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT) != "ready":
            raise RequestFailed("the baseline did not echo the first frame")
        return cls(ws, index)

    def _on_frame(self, raw: str | bytes, arrived: float) -> str | None:
        frame = orjson.loads(raw)
        if self._resolve(frame.get("id"), frame):
            return None
        if frame.get("state") == "message":
            self._message(frame["data"], arrived)
        return None

    def _next_id(self) -> str:
        return f"{self.index}:{next(self._ids)}"  # unique across the room's sockets

    async def echo(self) -> None:
        request_id = self._next_id()
        await self._call(request_id, orjson.dumps({"state": "ping", "id": request_id}).decode())

    async def join(self, room: int) -> None:
        return None  # the room is the URL path, chosen when the socket opened

    async def say(self, room: int, text: str, client_id: str) -> dict[str, Any]:
        request_id = self._next_id()
        message = {
            "id": request_id,
            "room": room,
            "seq": 0,
            "user": {"id": 1, "full_name": "Bench user"},
            "text": text,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "client_id": client_id,
        }
        frame = {"state": "message", "data": message, "id": request_id}
        await self._call(request_id, orjson.dumps(frame).decode())
        return message


class SioConnection(Connection):
    """The peer: socket.io v5 over engine.io v4, WebSocket transport, spoken directly."""

    @classmethod
    async def open(cls, base: str, index: int) -> SioConnection:
        ws = await _open(f"{base}/socket.io/?EIO=4&transport=websocket")
        opening = await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT)
        if not str(opening).startswith("0"):
            raise RequestFailed(f"engine.io open expected, got {opening!r}")
        await ws.send("40")
        connected = await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT)
        if not str(connected).startswith("40"):
            raise RequestFailed(f"socket.io connect refused: {connected!r}")
        return cls(ws, index)

    def _on_frame(self, raw: str | bytes, arrived: float) -> str | None:
        text = raw if isinstance(raw, str) else raw.decode()
        if text == "2":
            return "3"  # engine.io ping → pong
        if text.startswith("43"):
            bracket = text.index("[")
            self._resolve(int(text[2:bracket]), orjson.loads(text[bracket:])[0])
        elif text.startswith("42"):
            event, *args = orjson.loads(text[text.index("[") :])
            if event == "message":
                self._message(args[0], arrived)
        elif text.startswith("44"):
            self.error_frames += 1
        return None

    async def emit(self, event: str, data: dict[str, Any]) -> Any:
        ack = next(self._ids)
        return await self._call(ack, f"42{ack}" + orjson.dumps([event, data]).decode())

    async def echo(self) -> None:
        await self.emit("echo", {})

    async def join(self, room: int) -> None:
        await self.emit("join", {"room": room})

    async def say(self, room: int, text: str, client_id: str) -> dict[str, Any]:
        reply = await self.emit("say", {"room": room, "text": text, "client_id": client_id})
        message: dict[str, Any] = reply["message"]
        return message
