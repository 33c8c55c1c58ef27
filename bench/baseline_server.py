"""The yardstick: the least a Starlette WebSocket server can do, on the app's uvicorn settings.

Not part of the app. Two endpoints, no authentication, no validation, no database:

- `/echo`: every text frame is sent straight back (the `ping` and idle cases);
- `/relay/{room}`: the first frame is echoed (the client's "ready"), then every
  frame is sent to each other socket of the room, one `await` after another,
  and back to its sender as the acknowledgement (the fan-out, `sendMessage`
  and cross-worker cases).

`python -m bench.baseline_server --port N` serves it with the same uvicorn
options `python -m app` uses (uvloop, httptools, the websockets sans-I/O
protocol, 1 MiB frames, 20 s protocol pings).
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.settings import UVICORN_OPTIONS

rooms: dict[str, set[WebSocket]] = {}


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    members = rooms.setdefault(websocket.path_params["room"], set())
    try:
        await websocket.send_text(await websocket.receive_text())
        members.add(websocket)
        while True:
            text = await websocket.receive_text()
            for other in list(members):
                if other is not websocket:
                    try:
                        await other.send_text(text)
                    except Exception:  # noqa: S112  (that member went away: its own loop ends)
                        continue
            await websocket.send_text(text)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)


app = Starlette(
    routes=[
        Route("/health", health),
        WebSocketRoute("/echo", echo),
        WebSocketRoute("/relay/{room}", relay),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
