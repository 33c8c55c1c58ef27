"""Production without containers: exactly what the images run, on this machine's services.

backend/scripts/start.sh (migrations, then two uvicorn workers) against real PostgreSQL and Redis,
behind Debian's nginx running frontend/nginx/default.conf.template and serving the built app.
Through nginx: the app loads, sign-up works, two sockets on different workers chat, health is OK,
and SIGTERM closes the sockets with 1001.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from app.core.config import BACKEND_DIR, REPO_DIR
from tests.client import SocketClient
from tests.conftest import TEST_SECRET, create_account, fresh_postgres
from tests.process import free_port, wait_healthy

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

DIST = REPO_DIR / "frontend" / "dist"
TEMPLATE = REPO_DIR / "frontend" / "nginx" / "default.conf.template"


def render_nginx(workdir: Path, backend_port: int, port: int) -> Path:
    """The repository's server block, substituted the way the nginx image does, in a main config."""
    values = {
        "BACKEND_UPSTREAM": f"127.0.0.1:{backend_port}",
        "NGINX_PORT": str(port),
        "NGINX_ROOT": str(DIST),
    }
    # like the image's envsubst: only ${NAME} of the variables given; nginx's own $vars stay
    server = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), TEMPLATE.read_text())
    assert "${" not in server
    (workdir / "default.conf").write_text(server)
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = workdir / "nginx.conf"
    main.write_text(
        f"""{user}
daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {workdir / "access.log"};
{temp}
    include {workdir / "default.conf"};
}}
"""
    )
    return main


@asynccontextmanager
async def production_stack(
    tmp_path: Path,
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes], Path]]:
    redis_url = os.environ.get("TEST_REDIS_URL")
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set")
    if nginx is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    if not (DIST / "index.html").exists():
        pytest.skip("the frontend is not built (make test builds it)")
    backend_port, nginx_port = free_port(), free_port()
    async with fresh_postgres() as database_url:
        log = tmp_path / "backend.log"
        env = os.environ | {
            "ENVIRONMENT": "production",
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "BROADCAST_URL": redis_url,
            "BROADCAST_PREFIX": f"smoke-{uuid.uuid4().hex[:8]}",
            "WEB_CONCURRENCY": "2",
            "HOST": "127.0.0.1",
            "PORT": str(backend_port),
            "ALLOWED_ORIGINS": f"http://127.0.0.1:{nginx_port}",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
            "FRONTEND_DIST": str(tmp_path / "served-by-nginx"),
            "DATA_DIR": str(tmp_path),
            "LOG_LEVEL": "INFO",
            "PYTHON": sys.executable,
        }
        with log.open("wb") as out:
            backend = subprocess.Popen(
                ["sh", str(BACKEND_DIR / "scripts" / "start.sh")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        with (tmp_path / "nginx.out").open("wb") as out:
            proxy = subprocess.Popen(
                [
                    nginx,
                    "-c",
                    str(render_nginx(tmp_path, backend_port, nginx_port)),
                    "-p",
                    str(tmp_path),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            await wait_healthy(f"http://127.0.0.1:{backend_port}", timeout=60, process=backend)
            await wait_healthy(f"http://127.0.0.1:{nginx_port}", timeout=20, process=proxy)
            yield f"127.0.0.1:{nginx_port}", backend, log
        finally:
            # SIGTERM: nginx's master then stops its workers (SIGKILL would orphan them).
            for process in (proxy, backend):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(5)


def session_pids(log: Path) -> dict[str, int]:
    pids = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message", "").startswith("session started") and "connection" in entry:
                pids[entry["connection"]] = entry["pid"]
    return pids


async def test_production_stack_through_nginx(tmp_path: Path) -> None:
    async with production_stack(tmp_path) as (host, backend, log):
        origin = f"http://{host}"
        async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
            page = await http.get("/")
            assert page.status_code == 200 and '<div id="app"' in page.text
            assert (await http.get("/rooms/anything")).text == page.text  # SPA fallback
            assert (await http.get("/metrics")).status_code == 404  # not exposed through nginx
            health = await http.get("/api/v1/health")
            assert health.json() == {"status": "ok", "database": "ok", "broadcast": "ok"}
            alice, bob = await create_account(http, "Alice"), await create_account(http, "Bob")

        url = f"ws://{host}/api/v1/socket"
        sockets: list[SocketClient] = []
        on_worker: dict[int, SocketClient] = {}
        async with asyncio.timeout(30):
            while len(on_worker) < 2:
                who = alice if not on_worker else bob
                client = await SocketClient.connect(url, who.token, origin=origin)
                sockets.append(client)
                pid = None
                while pid is None:  # the worker logs the session as it starts
                    pid = session_pids(log).get(client.session_id)
                    if pid is None:
                        await asyncio.sleep(0.05)
                on_worker.setdefault(pid, client)
        first, second = on_worker.values()
        assert first.initialised["user"]["id"] != second.initialised["user"]["id"]
        for pid in on_worker:  # start.sh bounds glibc's malloc arenas in every worker
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert b"MALLOC_ARENA_MAX=2" in environ

        room = (await first.request("createRoom", {"name": f"smoke-{uuid.uuid4().hex[:6]}"}))[
            "room"
        ]
        await first.request("joinRoom", {"room": room["id"]})
        joined = await second.request("joinRoom", {"room": room["id"]})
        assert {u["full_name"] for u in joined["online"]} == {"Alice", "Bob"}
        sent = (await first.request("sendMessage", {"room": room["id"], "text": "across workers"}))[
            "message"
        ]
        assert await second.expect("message") == sent
        reply = (await second.request("sendMessage", {"room": room["id"], "text": "and back"}))[
            "message"
        ]
        assert await first.expect("message") == reply

        backend.send_signal(signal.SIGTERM)
        for client in sockets:
            assert await client.closed(timeout=20) == 1001
        assert await asyncio.to_thread(backend.wait, 30) in (0, -signal.SIGTERM)
