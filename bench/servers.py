"""Starting, pinning, measuring and stopping the servers under test, each its own process.

A `ServerSpec` names what to start:

    baseline   bench.baseline_server (raw Starlette), one process
    peer       bench.peer_server (python-socketio), one process or N workers on Redis
    app        `python -m app` from backend/, the way production starts it (migrated database,
               ENVIRONMENT=production, the rate limit raised), on SQLite or PostgreSQL,
               one process or N workers on Redis

Every server gets a fresh process per measured run, pinned to the server
core(s) while the load generator keeps the other(s). The app's users are
signed up once per database through REST; their access tokens are minted
here (HS256 with the run's SECRET_KEY and the claims docs/protocol.md lists),
so opening thousands of sockets costs no argon2 time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import asyncpg
import orjson
from jose import jwt
from sqlalchemy.engine import make_url

from bench import procfs
from bench.clients import (
    AppConnection,
    Connection,
    PlainConnection,
    RawConnection,
    SioConnection,
)
from bench.settings import PASSWORD, SERVER_ENVIRONMENT, USERS, app_environment

REPO_DIR = Path(__file__).resolve().parents[1]
BACKEND_DIR = REPO_DIR / "backend"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

Kind = Literal["baseline", "peer", "app"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: bytes | None = None, content_type: str = "") -> bytes:
    """A blocking loopback HTTP request (run it in a thread); raises on a non-2xx status."""
    assert url.startswith("http://127.0.0.1:"), url  # loopback only
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310  (http://127.0.0.1 only)
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return bytes(response.read())


@dataclass
class AppDatabase:
    """A migrated database the app runs on, and the users the bench signed up in it."""

    url: str
    label: str
    user_ids: list[int] = field(default_factory=list)
    dropped_by: str | None = None  # the admin URL that drops it afterwards (PostgreSQL)


@dataclass
class BenchEnv:
    """What every server launch shares within one benchmark invocation."""

    workdir: Path
    secret_key: str
    sqlite: AppDatabase
    postgres: AppDatabase | None
    redis_url: str | None
    client_cpus: set[int]
    server_cpus: set[int]
    backend_dir: Path = BACKEND_DIR  # where `python -m app` starts: another checkout for an A/B
    users: int = USERS
    profile_dir: Path | None = None  # py-spy samples of every app server go here (--profile)
    prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")

    def token(self, database: AppDatabase, index: int) -> str:
        """An access token for the `index`-th socket (users taken round-robin)."""
        user_id = database.user_ids[index % len(database.user_ids)]
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "type": "access",
            "jti": str(uuid.uuid4()),
            "fam": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 4 * 3600,
        }
        return str(jwt.encode(claims, self.secret_key, algorithm="HS256"))


@dataclass(frozen=True)
class ServerSpec:
    name: str  # the label in the results: baseline, peer, app, app-plain, app-pg, app-2w, peer-2w
    kind: Kind
    database: Literal["sqlite", "postgres"] = "sqlite"
    workers: int = 1
    redis: bool = False
    plain: bool = False  # the app's hand-written example socket instead of the engine's


@dataclass
class Server:
    spec: ServerSpec
    env: BenchEnv
    process: asyncio.subprocess.Process
    port: int
    log: Path
    database: AppDatabase | None = None
    profiler: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return procfs.tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve sockets: the workers, or the one process."""
        if self.spec.workers == 1:
            return [self.process.pid]
        return [  # multiprocessing's resource tracker is a child too, serving nothing
            pid
            for pid in procfs.children(self.process.pid)
            if "resource_tracker" not in procfs.cmdline(pid)
        ]

    def cpu(self) -> procfs.CpuSample:
        return procfs.sample_cpu(self.pids())

    def rss_kib(self) -> int:
        return procfs.rss_kib(self.pids())

    async def open(self, index: int, room: int | None = None) -> Connection:
        """An open, handshaken socket; `room` is the baseline relay's room (others ignore it)."""
        if self.spec.kind == "app":
            assert self.database is not None
            if self.spec.plain:
                token = self.env.token(self.database, index)
                return await PlainConnection.open(self.base, index, token)
            return await AppConnection.open(self.base, index, self.env.token(self.database, index))
        if self.spec.kind == "peer":
            return await SioConnection.open(self.base, index)
        return await RawConnection.open(self.base, index, room)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self) -> None:
        """SIGTERM (the app closes its sockets with 1001 first), then SIGKILL to the group."""
        if self.profiler is not None and self.profiler.returncode is None:
            self.profiler.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.profiler.wait(), STOP_TIMEOUT)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # our own process group, workers included
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 5)


def _command(spec: ServerSpec, port: int) -> list[str]:
    if spec.kind == "app":
        return [sys.executable, "-m", "app"]
    if spec.kind == "peer":
        return [
            sys.executable,
            *("-m", "bench.peer_server", "--port", str(port), "--workers", str(spec.workers)),
        ]
    return [sys.executable, "-m", "bench.baseline_server", "--port", str(port)]


def _environment(spec: ServerSpec, env: BenchEnv, port: int) -> dict[str, str]:
    values = dict(os.environ) | SERVER_ENVIRONMENT
    if spec.kind == "app":
        database = env.postgres if spec.database == "postgres" else env.sqlite
        assert database is not None
        values |= app_environment(
            port=port,
            database_url=database.url,
            secret_key=env.secret_key,
            data_dir=str(env.workdir / "data"),
            workers=spec.workers,
            broadcast_url=env.redis_url if spec.redis and env.redis_url else "memory://",
            broadcast_prefix=f"{env.prefix}-{uuid.uuid4().hex[:6]}",
        )
    elif spec.kind == "peer" and spec.redis and env.redis_url:
        values |= {
            "BENCH_PEER_REDIS_URL": env.redis_url,
            "BENCH_PEER_CHANNEL": f"{env.prefix}-{uuid.uuid4().hex[:6]}",
        }
    return values


async def _wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(int(START_TIMEOUT / 0.1)):
        if process.returncode is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving")
        try:
            await asyncio.to_thread(http, "GET", url)
            return
        except (OSError, urllib.error.URLError):
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server not ready after {START_TIMEOUT:.0f} s")


async def launch(spec: ServerSpec, env: BenchEnv) -> Server:
    """Start the server, wait until it serves, pin it; the caller stops it."""
    port = free_port()
    log = env.workdir / "logs" / f"{spec.name}-{port}-{uuid.uuid4().hex[:6]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *_command(spec, port),
            cwd=env.backend_dir if spec.kind == "app" else REPO_DIR,
            env=_environment(spec, env, port),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: `stop` ends it and its workers
        )
    procfs.pin(process.pid, env.server_cpus)
    database = None
    if spec.kind == "app":
        database = env.postgres if spec.database == "postgres" else env.sqlite
    server = Server(spec, env, process, port, log, database)
    health = "/api/v1/health" if spec.kind == "app" else "/health"
    try:
        await _wait_ready(server.http_base + health, process)
        if spec.workers > 1:
            await _wait_for_workers(server)
        for pid in server.pids():
            procfs.pin(pid, env.server_cpus)
        if database is not None and not database.user_ids:
            database.user_ids = await _sign_up(server.http_base, env.users)
        if env.profile_dir is not None and spec.kind == "app":
            server.profiler = await _profile(server, env.profile_dir)
    except BaseException:
        await server.stop()
        raise RuntimeError(f"{spec.name} failed to start:\n{server.log_tail()}") from None
    return server


async def _profile(server: Server, directory: Path) -> asyncio.subprocess.Process:
    """py-spy sampling the app's processes until `stop`, as collapsed stacks (flamegraph input)."""
    directory.mkdir(parents=True, exist_ok=True)
    output = directory / f"{server.spec.name}-{server.port}.txt"
    return await asyncio.create_subprocess_exec(
        *(str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw"),
        *("--rate", "250", "--nonblocking", "--subprocesses", "--threads"),
        *("--pid", str(server.process.pid), "-o", str(output)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _wait_for_workers(server: Server) -> None:
    for _ in range(int(START_TIMEOUT / 0.1)):
        if len(server.worker_pids()) >= server.spec.workers:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # each worker finishes its lifespan startup (Redis subscribe)


async def _sign_up(base: str, count: int) -> list[int]:
    ids = []
    tag = uuid.uuid4().hex[:8]
    for i in range(count):
        body = {"email": f"bench-{tag}-{i}@example.com", "password": PASSWORD}
        body["full_name"] = f"Bench user {i:02d}"
        answer = await asyncio.to_thread(
            http, "POST", f"{base}/api/v1/users/signup", orjson.dumps(body), "application/json"
        )
        ids.append(int(orjson.loads(answer)["id"]))
    return ids


# databases


def _migration_env(url: str, workdir: Path) -> dict[str, str]:
    return dict(os.environ) | {
        "DATABASE_URL": url,
        "DATA_DIR": str(workdir / "data"),
        "ENVIRONMENT": "local",
    }


async def migrate(url: str, workdir: Path, backend: Path = BACKEND_DIR) -> None:
    """`alembic upgrade head` on `url`, as `make migrate` does it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "alembic", "upgrade", "head"),
        cwd=backend,
        env=_migration_env(url, workdir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise RuntimeError(f"alembic upgrade head failed:\n{output.decode(errors='replace')}")


async def sqlite_database(workdir: Path, backend: Path = BACKEND_DIR) -> AppDatabase:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await migrate(url, workdir, backend)
    return AppDatabase(url, "sqlite")


async def postgres_database(
    base_url: str, workdir: Path, backend: Path = BACKEND_DIR
) -> AppDatabase:
    """A fresh PostgreSQL database next to the one `base_url` names; dropped by `drop`."""
    base = make_url(base_url).set(drivername="postgresql+asyncpg")
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = base.set(database=name).render_as_string(hide_password=False)
    await migrate(url, workdir, backend)
    return AppDatabase(url, "postgres", dropped_by=admin)


async def drop(database: AppDatabase) -> None:
    if database.dropped_by is None:
        return
    name = make_url(database.url).database
    connection = await asyncpg.connect(database.dropped_by)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
