"""Shared fixtures: real databases migrated by Alembic, real servers, real clients.

Every app test runs once per database: a SQLite file always, and a fresh
PostgreSQL database when `TEST_DATABASE_URL` is set (skipped otherwise).
Tests isolate themselves by creating their own users and rooms.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from alembic.config import Config
from sqlalchemy.engine import make_url

from alembic import command
from app.core.config import BACKEND_DIR, Settings
from app.main import create_app
from app.realtime.registry import Registry
from tests.client import SocketClient

TEST_SECRET = "test-secret-key-long-enough-for-production-checks-0123456789"
PASSWORD = "correct horse battery"


# databases


def migrate(url: str, revision: str = "head") -> None:
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, revision)


def postgres_base_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    return str(make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False))


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for this test session, dropped afterwards."""
    base = postgres_base_url()
    if base is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_url(base).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield make_url(base).set(database=name).render_as_string(False)
    finally:
        conn = await asyncpg.connect(admin.render_as_string(False))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        await asyncio.to_thread(migrate, url)
        yield url
        return
    async with fresh_postgres() as url:
        await asyncio.to_thread(migrate, url)
        yield url


# settings and servers


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "DATA_DIR": data_dir,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "BROADCAST_URL": "memory://",
        "FRONTEND_DIST": data_dir / "no-frontend",
        "LOG_LEVEL": "WARNING",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningServer:
    settings: Settings
    server: uvicorn.Server
    port: int
    app: Any
    clients: list[SocketClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/socket"

    async def connect(self, token: str | None = None, **kwargs: Any) -> SocketClient:
        client = await SocketClient.connect(self.socket_url, token, **kwargs)
        self.clients.append(client)
        return client


@asynccontextmanager
async def run_server(
    settings: Settings, registry: Registry | None = None
) -> AsyncIterator[RunningServer]:
    """The app under a real uvicorn server on a free loopback port, in this event loop."""
    app = create_app(settings, registry=registry, configure_logs=False, handle_signals=False)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ws_max_size=settings.SOCKET_MAX_MESSAGE_BYTES * 4,
        ws_ping_interval=5,
        ws_ping_timeout=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    running = RunningServer(settings, server, port, app)
    try:
        yield running
    finally:
        for client in running.clients:
            await client.close()
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture(scope="session")
async def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("data"), database_url)


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    async with run_server(settings) as running:
        yield running


ServerFactory = Callable[..., Any]


@pytest.fixture
async def custom_server(
    settings: Settings,
) -> AsyncIterator[Callable[..., Any]]:
    """`async with custom_server(SOCKET_RATE_LIMIT=1, registry=...) as srv:` — same database."""

    @asynccontextmanager
    async def start(
        registry: Registry | None = None, **overrides: Any
    ) -> AsyncIterator[RunningServer]:
        async with run_server(
            make_settings(settings.DATA_DIR, settings.DATABASE_URL, **overrides), registry
        ) as running:
            yield running

    yield start


# accounts


@dataclass
class Account:
    id: int
    email: str
    full_name: str
    password: str
    token: str
    refresh_token: str


async def create_account(http: httpx.AsyncClient, full_name: str | None = None) -> Account:
    suffix = uuid.uuid4().hex[:10]
    name = full_name or f"User {suffix}"
    email = f"user-{suffix}@example.com"
    response = await http.post(
        "/api/v1/users/signup", json={"email": email, "password": PASSWORD, "full_name": name}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    response = await http.post(
        "/api/v1/login/access-token", data={"username": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    http.cookies.clear()
    return Account(user_id, email, name, PASSWORD, tokens["access_token"], tokens["refresh_token"])


#: `await account("Alice")` — the type of the `account` fixture.
AccountFactory = Callable[..., Awaitable[Account]]
#: `await connect(alice)` — the type of the `connect` fixture.
Connect = Callable[..., Awaitable[SocketClient]]


@pytest.fixture
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def account(http: httpx.AsyncClient) -> Callable[..., Awaitable[Account]]:
    """`await account("Alice")`: a new user, signed up and logged in."""

    async def make(full_name: str | None = None) -> Account:
        return await create_account(http, full_name)

    return make


@asynccontextmanager
async def socket_opener(server: RunningServer) -> AsyncIterator[Connect]:
    """A `connect` function for `server` whose sockets are all closed on exit."""
    opened: list[SocketClient] = []

    async def open_socket(who: Account, **kwargs: Any) -> SocketClient:
        client = await SocketClient.connect(server.socket_url, who.token, **kwargs)
        opened.append(client)
        return client

    try:
        yield open_socket
    finally:
        for client in opened:
            await client.close()


@pytest.fixture
async def connect(server: RunningServer) -> AsyncIterator[Connect]:
    """`await connect(alice)`: an authenticated socket for that account, closed after the test."""
    async with socket_opener(server) as open_socket:
        yield open_socket


@pytest.fixture
async def client(connect: Connect, account: AccountFactory) -> SocketClient:
    """An authenticated socket of a new user, on the shared test server."""
    return await connect(await account())
