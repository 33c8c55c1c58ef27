"""The peer: python-socketio on uvicorn, doing what the app does minus the database.

What a user might pick instead of this template. Events, each answered with
an acknowledgement:

- `echo` → `{"time"}` (the `ping` case);
- `join {room}` → enters the room;
- `say {room, text, client_id}` → emits `message` (shaped like the app's
  `Message`, so frames are the same size) to the room's other sockets, then
  acknowledges with `{"message"}` (the `sendMessage` and fan-out cases).

Websocket transport only, engine.io pings every 20 s (the app's protocol ping
interval). With `BENCH_PEER_REDIS_URL` set, rooms span processes through
python-socketio's `AsyncRedisManager`, so `--workers 2` serves the
cross-worker case.

`python -m bench.peer_server --port N [--workers 2]`.
"""

from __future__ import annotations

import argparse
import itertools
import os
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.settings import ORIGIN, UVICORN_OPTIONS

REDIS_URL = os.environ.get("BENCH_PEER_REDIS_URL")
CHANNEL = os.environ.get("BENCH_PEER_CHANNEL", "bench-peer")

sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins=[ORIGIN],
    transports=["websocket"],
    ping_interval=20,
    ping_timeout=20,
    client_manager=socketio.AsyncRedisManager(REDIS_URL, channel=CHANNEL) if REDIS_URL else None,
    logger=False,
    engineio_logger=False,
)
_ids = itertools.count(1)
_seqs: dict[int, itertools.count[int]] = {}


@sio.on("echo")  # type: ignore[misc]
async def echo(sid: str, data: Any) -> dict[str, str]:
    return {"time": datetime.now(UTC).isoformat()}


@sio.on("join")  # type: ignore[misc]
async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    await sio.enter_room(sid, f"room:{data['room']}")
    return {"room": data["room"]}


@sio.on("say")  # type: ignore[misc]
async def say(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    room = int(data["room"])
    message = {
        "id": next(_ids),
        "room": room,
        "seq": next(_seqs.setdefault(room, itertools.count(1))),
        "user": {"id": 1, "full_name": "Bench user"},
        "text": data["text"],
        "created_at": datetime.now(UTC).isoformat(),
        "client_id": data.get("client_id"),
    }
    await sio.emit("message", message, room=f"room:{room}", skip_sid=sid)
    return {"message": message}


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = socketio.ASGIApp(sio, other_asgi_app=Starlette(routes=[Route("/health", health)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    target: Any = "bench.peer_server:app" if args.workers > 1 else app
    uvicorn.run(target, host=args.host, port=args.port, workers=args.workers, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
