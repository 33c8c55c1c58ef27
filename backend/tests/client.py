"""A WebSocket test client that speaks the protocol: `request`, `expect`, `closed`.

    reply = await alice.request("sendMessage", {"room": room, "text": "hi"})
    event = await bob.expect("message")

Frames that arrive while a test waits for a different one are kept, in order,
for the next `expect`/`recv`, so a test never races its own events. Every wait
has a timeout: a missing frame fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections import deque
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

TIMEOUT = 5.0

#: How a slow link looks to the server: with `slow_link(port)` as `sock`, and no compression
#: (which would shrink repetitive test frames to nothing), the buffers between the server and
#: the client fill after a few MB instead of the tens of MB loopback's autotuning allows.
SLOW_LINK_RECEIVE_BUFFER = 4096


def slow_link(port: int) -> socket.socket:
    """A loopback TCP socket with a small receive buffer, set before connecting (so the window
    is small too); pass it as `sock=` along with `compression=None`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_LINK_RECEIVE_BUFFER)
    sock.connect(("127.0.0.1", port))
    return sock


class ErrorFrame(Exception):
    """The server answered a request with an error frame."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('error')}")
        self.frame = frame
        self.code: str = frame["code"]


class SocketClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pending: deque[dict[str, Any]] = deque()
        self.initialised: dict[str, Any] = {}
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, url: str, token: str | None = None, *, origin: str | None = None, **kwargs: Any
    ) -> SocketClient:
        headers = {"Origin": origin} if origin else None
        ws = await websockets.connect(
            url, additional_headers=headers, open_timeout=TIMEOUT, **kwargs
        )
        client = cls(ws)
        if token is not None:
            await client.send({"token": token})
            frame = await client.recv()
            if frame.get("state") != "initialised":
                raise ErrorFrame(frame)
            client.initialised = frame["data"]
        return client

    @property
    def session_id(self) -> str:
        return str(self.initialised["session"])

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def _receive(self, timeout: float) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        assert isinstance(frame, dict), frame
        return frame

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame, whatever it is."""
        if self.pending:
            return self.pending.popleft()
        return await self._receive(timeout)

    async def wait_for(self, match: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first frame (kept or new) for which `match(frame)` is true."""
        for frame in list(self.pending):
            if match(frame):
                self.pending.remove(frame)
                return frame
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._receive(timeout)
                if match(frame):
                    return frame
                self.pending.append(frame)

    async def request_frame(
        self, state: str, data: dict[str, Any] | None = None, *, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """Send a request with a fresh id; its reply or error frame, whole."""
        request_id = next(self._ids)
        frame: dict[str, Any] = {"state": state, "id": request_id}
        if data is not None:
            frame["data"] = data
        await self.send(frame)
        return await self.wait_for(lambda f: f.get("id") == request_id, timeout)

    async def request(
        self, state: str, data: dict[str, Any] | None = None, *, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """Send a request; the reply's `data`, or `ErrorFrame` for an error."""
        frame = await self.request_frame(state, data, timeout=timeout)
        if frame["state"] == "error":
            raise ErrorFrame(frame)
        assert frame["state"] == state, frame
        return dict(frame["data"])

    async def expect(
        self, state: str, *, where: Any = None, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The `data` of the next event named `state` (and matching `where`, if given)."""
        frame = await self.wait_for(
            lambda f: (
                f.get("state") == state and "id" not in f and (where is None or where(f["data"]))
            ),
            timeout,
        )
        return dict(frame["data"])

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Read until the server closes; the close code it sent."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.pending.append(await self._receive(timeout))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> SocketClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
