"""The ASGI application: REST under /api/v1, the socket at /api/v1/socket, the built app at /."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.api.main import api_router
from app.api.routes import metrics as metrics_routes
from app.core import metrics
from app.core.config import Settings, UnsafeSettingsError, get_settings
from app.core.db import Database
from app.core.logging import configure_logging
from app.examples.plain_socket import plain_socket
from app.realtime.broadcast import create_broadcaster
from app.realtime.endpoint import socket_endpoint
from app.realtime.hub import Hub
from app.realtime.registry import Registry
from app.states import build_registry

SOCKET_PATH = "/api/v1/socket"


class App(FastAPI):
    """FastAPI, with the socket served ahead of the middleware stack.

    A socket lives for hours and sends thousands of frames: routed through
    FastAPI's middleware, every frame in and out passes their wrappers and
    every connection keeps their frames alive. The socket needs none of them
    (it answers its own errors), so it is dispatched here first. The route
    below stays registered, so the socket is listed like any other.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == SOCKET_PATH:
            scope["app"] = self
            await socket_endpoint(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    configure_logs: bool = True,
    handle_signals: bool = True,
) -> FastAPI:
    """The app; tests pass their own settings, and a registry to serve extra states."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.LOG_LEVEL, json_lines=settings.is_production)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.DATABASE_URL)
        hub = Hub(
            create_broadcaster(settings.BROADCAST_URL, settings.BROADCAST_PREFIX),
            presence_lost=app.state.registry.on_presence_lost,
        )
        app.state.database = database
        app.state.hub = hub
        app.state.broadcaster = hub.broadcaster
        await hub.start()
        restore_signals = hub.install_signal_handlers() if handle_signals else lambda: None
        flusher = asyncio.create_task(metrics.flush_every(), name="metrics-flush")
        try:
            yield
        finally:
            restore_signals()
            await hub.close_all()
            await hub.stop()
            await database.dispose()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    app = App(
        title=settings.PROJECT_NAME,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry or build_registry()
    app.include_router(api_router)
    app.include_router(metrics_routes.router)
    app.add_api_websocket_route(SOCKET_PATH, socket_endpoint)
    app.add_api_websocket_route("/api/v1/plain-socket", plain_socket)
    _serve_frontend(app, settings.FRONTEND_DIST)
    return app


def _serve_frontend(app: FastAPI, dist: Path) -> None:
    """The built single-page app at `/`, with client routes falling back to index.html."""
    index = dist / "index.html"
    if not index.is_file():
        return
    if (dist / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def spa(path: str) -> FileResponse:
        if path.startswith("api/"):
            raise HTTPException(status_code=404, detail="Not Found")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def _load() -> FastAPI:
    try:
        return create_app()
    except (UnsafeSettingsError, ValidationError) as exc:
        sys.exit(f"Refusing to start: {exc}")


app = _load()
