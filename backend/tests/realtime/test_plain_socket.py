"""The plain-style example endpoint shares the engine's handshake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from websockets.exceptions import InvalidStatus

from tests.client import SocketClient
from tests.conftest import Account, RunningServer


def plain_url(server: RunningServer) -> str:
    return server.socket_url.replace("/socket", "/plain-socket")


async def test_plain_socket_round_trip(
    server: RunningServer, account: Callable[..., Awaitable[Account]]
) -> None:
    who = await account("Pat")
    client = await SocketClient.connect(plain_url(server), who.token)
    assert client.initialised == {"user": {"id": who.id, "full_name": "Pat"}}
    await client.send({"state": "echo", "data": {"x": 1}})
    assert await client.recv() == {"state": "echo", "data": {"x": 1}}
    await client.send("nope")
    assert (await client.recv())["code"] == "invalid_json"
    await client.send({"state": "close"})
    assert await client.recv() == {"state": "close", "data": {}}
    assert await client.closed() == 1000


async def test_plain_socket_refuses_bad_tokens_and_origins(server: RunningServer) -> None:
    client = await SocketClient.connect(plain_url(server))
    await client.send({"token": "garbage"})
    assert (await client.recv())["code"] == "unauthorized"
    assert await client.closed() == 1008
    with pytest.raises(InvalidStatus):
        await SocketClient.connect(plain_url(server), origin="https://evil.example")
