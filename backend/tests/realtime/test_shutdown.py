"""SIGTERM: in-flight replies are flushed, every socket gets 1001, the process exits promptly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from app.core.config import Settings
from tests.client import SocketClient
from tests.conftest import create_account
from tests.process import server_process


async def test_sigterm_flushes_in_flight_replies_then_closes_with_1001(
    settings: Settings, tmp_path: Path
) -> None:
    async with server_process(tmp_path, DATABASE_URL=settings.DATABASE_URL) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        busy = await SocketClient.connect(srv.socket_url, who.token)
        idle = await SocketClient.connect(srv.socket_url, who.token)
        await busy.send({"state": "sleep", "id": "in-flight", "data": {"seconds": 1}})
        await busy.expect("sleeping")  # the handler is running now

        srv.signal(signal.SIGTERM)
        started = time.monotonic()
        assert await idle.closed() == 1001
        reply = await busy.wait_for(lambda f: f.get("id") == "in-flight")
        assert reply == {"state": "sleep", "data": {}, "id": "in-flight"}
        assert await busy.closed() == 1001
        code = await srv.wait(timeout=15)
        assert code in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 10
        assert "closing 2 socket(s) with 1001" in srv.output()
