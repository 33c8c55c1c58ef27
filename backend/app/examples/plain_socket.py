"""The plain style: one endpoint, `receive_json` / `send_json`, your own loop.

For those who prefer the classic FastAPI shape to the state registry. It uses
the same Origin check and token handshake helper as the engine, so its
authentication behaves the same; everything after that is yours (and so are
rate limits, ordering and slow consumers, which the engine would handle).
Served at `/api/v1/plain-socket`; it answers `echo` and `close`.
"""

from __future__ import annotations

import asyncio
import json

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.core.config import Settings
from app.realtime import errors
from app.realtime.auth import authenticate_token
from app.realtime.endpoint import origin_allowed

UNAUTHORIZED = {
    "state": "error",
    "error": errors.Unauthorized.default_message,
    "code": errors.Unauthorized.code,
    "request": None,
}


async def plain_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    if not origin_allowed(websocket.headers.get("origin"), settings):
        await websocket.close(code=1008)
        return
    await websocket.accept()

    # 1. the token handshake
    try:
        first = await asyncio.wait_for(websocket.receive_json(), settings.SOCKET_AUTH_TIMEOUT)
        async with websocket.app.state.database.sessionmaker() as db:
            user, _expires_at = await authenticate_token(db, first.get("token"), settings)
    except (TimeoutError, json.JSONDecodeError, AttributeError, errors.Unauthorized):
        await websocket.send_json(UNAUTHORIZED)
        await websocket.close(code=1008)
        return
    except WebSocketDisconnect:
        return
    await websocket.send_json(
        {"state": "initialised", "data": {"user": {"id": user.id, "full_name": user.full_name}}}
    )

    # 2. the request loop: dispatch on `state` yourself
    while True:
        try:
            frame = await websocket.receive_json()
        except WebSocketDisconnect:
            return
        except json.JSONDecodeError:
            await websocket.send_json({"state": "error", "code": "invalid_json", "request": None})
            continue
        match frame.get("state") if isinstance(frame, dict) else None:
            case "echo":
                await websocket.send_json({"state": "echo", "data": frame.get("data", {})})
            case "close":
                await websocket.send_json({"state": "close", "data": {}})
                await websocket.close(code=1000)
                return
            case state:
                await websocket.send_json(
                    {"state": "error", "code": "unknown_state", "request": state}
                )
