"""Polls, the tutorial feature of docs/extending.md, over real sockets."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.client import ErrorFrame, SocketClient
from tests.conftest import AccountFactory, Connect


async def room_with(owner: SocketClient, *members: SocketClient) -> int:
    room = (await owner.request("createRoom", {"name": f"polls-{uuid.uuid4().hex[:8]}"}))["room"][
        "id"
    ]
    for client in (owner, *members):
        await client.request("joinRoom", {"room": room})
    return int(room)


async def code_of(client: SocketClient, state: str, data: dict[str, Any]) -> str:
    with pytest.raises(ErrorFrame) as caught:
        await client.request(state, data)
    return caught.value.code


async def test_create_vote_and_results_reach_the_room(
    connect: Connect, account: AccountFactory
) -> None:
    alice_account = await account("Alice")
    alice, bob = await connect(alice_account), await connect(await account("Bob"))
    room = await room_with(alice, bob)

    created = await alice.request(
        "createPoll",
        {"room": room, "question": " Lunch? ", "options": [" Pizza ", "Sushi", "Soup"]},
    )
    poll = created["poll"]
    assert created["my_vote"] is None
    assert (poll["question"], poll["options"], poll["counts"], poll["total"]) == (
        "Lunch?",
        ["Pizza", "Sushi", "Soup"],
        [0, 0, 0],
        0,
    )
    assert poll["created_by"] == {"id": alice_account.id, "full_name": "Alice"}
    assert await bob.expect("pollCreated") == {"poll": poll}

    voted = await bob.request("pollVote", {"poll": poll["id"], "option": 1})
    assert (voted["my_vote"], voted["poll"]["counts"], voted["poll"]["total"]) == (1, [0, 1, 0], 1)
    assert (await alice.expect("pollResults"))["poll"]["counts"] == [0, 1, 0]

    await alice.request("pollVote", {"poll": poll["id"], "option": 1})
    moved = await bob.request("pollVote", {"poll": poll["id"], "option": 2})  # bob changes his mind
    assert moved["poll"]["counts"] == [0, 1, 1] and moved["poll"]["total"] == 2

    listed = await bob.request("listPolls", {"room": room})
    assert [(p["poll"]["id"], p["my_vote"]) for p in listed["polls"]] == [(poll["id"], 2)]


async def test_list_polls_newest_first_with_own_votes(
    connect: Connect, account: AccountFactory
) -> None:
    alice = await connect(await account())
    room = await room_with(alice)
    first = (
        await alice.request("createPoll", {"room": room, "question": "A?", "options": ["y", "n"]})
    )["poll"]
    second = (
        await alice.request("createPoll", {"room": room, "question": "B?", "options": ["y", "n"]})
    )["poll"]
    await alice.request("pollVote", {"poll": first["id"], "option": 0})
    polls = (await alice.request("listPolls", {"room": room}))["polls"]
    assert [(p["poll"]["id"], p["my_vote"]) for p in polls] == [
        (second["id"], None),
        (first["id"], 0),
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"question": "", "options": ["a", "b"]}, id="empty-question"),
        pytest.param({"question": "q", "options": ["only one"]}, id="one-option"),
        pytest.param(
            {"question": "q", "options": [str(n) for n in range(11)]}, id="eleven-options"
        ),
        pytest.param({"question": "q", "options": ["a", "  "]}, id="blank-option"),
        pytest.param({"question": "q" * 201, "options": ["a", "b"]}, id="long-question"),
    ],
)
async def test_create_poll_validation(
    connect: Connect, account: AccountFactory, data: dict[str, Any]
) -> None:
    alice = await connect(await account())
    room = await room_with(alice)
    assert await code_of(alice, "createPoll", {"room": room, **data}) == "invalid_data"


async def test_poll_permissions_and_missing_things(
    connect: Connect, account: AccountFactory
) -> None:
    alice, mallory = await connect(await account()), await connect(await account())
    room = await room_with(alice)
    poll = (
        await alice.request("createPoll", {"room": room, "question": "q", "options": ["a", "b"]})
    )["poll"]
    assert (
        await code_of(mallory, "createPoll", {"room": room, "question": "q", "options": ["a", "b"]})
        == "forbidden"
    )
    assert await code_of(mallory, "pollVote", {"poll": poll["id"], "option": 0}) == "forbidden"
    assert await code_of(mallory, "listPolls", {"room": room}) == "forbidden"
    assert await code_of(alice, "pollVote", {"poll": 987_654_321, "option": 0}) == "not_found"
    assert (
        await code_of(
            alice, "createPoll", {"room": 987_654_321, "question": "q", "options": ["a", "b"]}
        )
        == "not_found"
    )
    assert await code_of(alice, "pollVote", {"poll": poll["id"], "option": 2}) == "invalid_data"
