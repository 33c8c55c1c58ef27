"""Servers in their own processes, for what a shared event loop cannot show:
signals, crashes, and several workers sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.core.config import BACKEND_DIR
from tests.conftest import TEST_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/socket"

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    async def wait(self, timeout: float = 15) -> int:
        async with asyncio.timeout(timeout):
            while (code := self.process.poll()) is None:
                await asyncio.sleep(0.05)
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def wait_healthy(
    url: str, timeout: float = 20, process: subprocess.Popen[bytes] | None = None
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        async with asyncio.timeout(timeout):
            while True:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode} before serving")
                try:
                    if (await http.get("/api/v1/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)


@asynccontextmanager
async def server_process(
    log_dir: Path,
    *,
    app: str = "tests.realtime.apps:create_test_app",
    port: int | None = None,
    **settings: str,
) -> AsyncIterator[ServerProcess]:
    """`uvicorn <app> --factory` on a loopback port with these settings; killed afterwards."""
    port = port or free_port()
    env = (
        os.environ
        | {
            "ENVIRONMENT": "test",
            "SECRET_KEY": TEST_SECRET,
            "LOG_LEVEL": "INFO",
            "FRONTEND_DIST": str(log_dir / "no-frontend"),
            "DATA_DIR": str(log_dir),
            "PYTHONUNBUFFERED": "1",
        }
        | settings
    )
    log = log_dir / f"server-{port}-{os.urandom(3).hex()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws-ping-interval",
                "2",
                "--ws-ping-timeout",
                "2",
            ],
            cwd=BACKEND_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = ServerProcess(process, port, log)
    try:
        await wait_healthy(running.url, process=process)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
