"""Log lines: the connection id on socket lines, no tokens or passwords anywhere."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx

from app.core.config import Settings
from app.core.logging import ContextFilter, JsonFormatter, RedactingFilter, connection_id
from tests.client import SocketClient
from tests.conftest import PASSWORD, create_account
from tests.process import server_process


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("app.test", logging.INFO, __file__, 1, message, args, None)


def test_json_lines_carry_the_connection_and_redact_tokens() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = record("got %s", token)
    token_var = connection_id.set("abc123")
    try:
        assert ContextFilter().filter(line) and RedactingFilter().filter(line)
    finally:
        connection_id.reset(token_var)
    entry = json.loads(JsonFormatter().format(line))
    assert entry["connection"] == "abc123"
    assert entry["message"] == "got [redacted token]"
    assert entry["level"] == "INFO" and entry["logger"] == "app.test"


async def test_socket_log_lines_name_their_connection_and_never_a_secret(
    settings: Settings, tmp_path: Path
) -> None:
    async with server_process(
        tmp_path, app="app.main:create_app", DATABASE_URL=settings.DATABASE_URL
    ) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            who = await create_account(http)
        client = await SocketClient.connect(srv.socket_url, who.token)
        await client.request("reauth", {"token": who.token})
        await client.send({"state": "close", "id": 1})
        assert await client.closed() == 1000
        refused = await SocketClient.connect(srv.socket_url)
        await refused.send({"token": who.token + "x"})
        assert await refused.closed() == 1008
    output = srv.output()
    assert f"[{client.session_id}]: session started for user {who.id}" in output
    assert "handshake refused: unauthorized" in output
    for secret in (who.token, who.refresh_token, PASSWORD, who.token.split(".")[1]):
        assert secret not in output
