"""`/metrics`: what it counts, and who may read it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest

from tests.client import SocketClient
from tests.conftest import Account, RunningServer

CustomServer = Callable[..., AbstractAsyncContextManager[RunningServer]]


def sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{name}{{{re.escape(label_text)}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_errors_sockets_and_events(
    http: httpx.AsyncClient,
    connect: Callable[..., Awaitable[SocketClient]],
    account: Callable[..., Awaitable[Account]],
) -> None:
    before = (await http.get("/metrics")).text
    alice, bob = await connect(await account()), await connect(await account())
    room = (await alice.request("createRoom", {"name": f"m-{id(alice)}"}))["room"]["id"]
    await bob.request("joinRoom", {"room": room})
    await alice.request("ping")
    await alice.send({"state": "no-such-state-xyz", "id": 1})
    await alice.recv()
    await alice.request("sendMessage", {"room": room, "text": "counted"})
    await bob.expect("message")
    response = await http.get("/metrics")
    after = response.text

    assert response.headers["content-type"].startswith("text/plain")
    assert sample(after, "chat_socket_requests_total", state="ping", outcome="ok") == (
        sample(before, "chat_socket_requests_total", state="ping", outcome="ok") + 1
    )
    assert sample(after, "chat_socket_errors_total", code="unknown_state") >= 1
    assert "no-such-state-xyz" not in after  # unknown states share one label
    assert (
        sample(after, "chat_socket_requests_total", state="unknown", outcome="unknown_state") >= 1
    )
    assert sample(after, "chat_open_sockets") >= 2
    assert sample(after, "chat_events_published_total") > sample(
        before, "chat_events_published_total"
    )
    assert sample(after, "chat_events_delivered_total") > sample(
        before, "chat_events_delivered_total"
    )
    assert sample(after, "chat_broadcast_up") == 1
    assert sample(after, "chat_socket_handler_seconds_count", state="sendMessage") >= 1


PRODUCTION: dict[str, Any] = {
    "ENVIRONMENT": "production",
    "ALLOW_SQLITE_IN_PRODUCTION": True,
    "ALLOWED_ORIGINS": "https://chat.example",
}


@pytest.mark.parametrize(
    ("overrides", "headers", "status"),
    [
        pytest.param({"METRICS_ENABLED": False}, {}, 404, id="disabled"),
        pytest.param(PRODUCTION, {}, 404, id="production-without-token"),
        pytest.param(PRODUCTION | {"METRICS_TOKEN": "s3cret"}, {}, 401, id="token-missing"),
        pytest.param(
            PRODUCTION | {"METRICS_TOKEN": "s3cret"},
            {"Authorization": "Bearer nope"},
            401,
            id="token-wrong",
        ),
        pytest.param(
            PRODUCTION | {"METRICS_TOKEN": "s3cret"},
            {"Authorization": "Bearer s3cret"},
            200,
            id="token-right",
        ),
    ],
)
async def test_metrics_access(
    custom_server: CustomServer,
    settings: Any,
    overrides: dict[str, Any],
    headers: dict[str, str],
    status: int,
) -> None:
    if overrides.get("ENVIRONMENT") == "production" and not settings.is_sqlite:
        overrides = {k: v for k, v in overrides.items() if k != "ALLOW_SQLITE_IN_PRODUCTION"}
    async with custom_server(**overrides) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/metrics", headers=headers)).status_code == status
