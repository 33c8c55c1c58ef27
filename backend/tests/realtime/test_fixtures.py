"""The test helpers promised in docs/extending.md work as documented."""

from __future__ import annotations

from tests.client import SocketClient
from tests.conftest import AccountFactory, Connect


async def test_client_fixture_is_authenticated(client: SocketClient) -> None:
    assert client.initialised["user"]["id"] > 0
    assert "time" in await client.request("ping")


async def test_two_clients_in_a_few_lines(
    client: SocketClient, connect: Connect, account: AccountFactory
) -> None:
    other = await connect(await account("Other"))
    room = (await client.request("createRoom", {"name": f"fx-{client.session_id[:8]}"}))["room"][
        "id"
    ]
    await other.request("joinRoom", {"room": room})
    reply = await client.request("sendMessage", {"room": room, "text": "hi"})
    event = await other.expect("message")
    assert event == reply["message"]
