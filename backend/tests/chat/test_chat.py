"""Chat over real sockets: rooms, messages, presence, typing, history, resume, permissions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.chat import service
from app.chat.schemas import UserOut
from app.core.config import Settings
from app.core.db import Database
from tests.client import ErrorFrame, SocketClient
from tests.conftest import Account

AccountFactory = Callable[..., Awaitable[Account]]
Connect = Callable[..., Awaitable[SocketClient]]


def unique(prefix: str = "room") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def new_room(client: SocketClient, **data: Any) -> dict[str, Any]:
    return (await client.request("createRoom", {"name": unique(), **data}))["room"]


async def error_code(client: SocketClient, state: str, data: dict[str, Any]) -> str:
    with pytest.raises(ErrorFrame) as caught:
        await client.request(state, data)
    return caught.value.code


async def seed(settings: Settings, room: int, who: Account, count: int) -> None:
    """Messages stored directly, for tests about reading many of them."""
    database = Database(settings.DATABASE_URL)
    author = UserOut(id=who.id, full_name=who.full_name)
    try:
        for n in range(count):
            async with database.sessionmaker() as db:
                await service.post_message(db, author, room, f"seeded {n + 1}", None)
    finally:
        await database.dispose()


# rooms


async def test_create_room_makes_the_creator_a_member(
    connect: Connect, account: AccountFactory
) -> None:
    alice = await connect(await account())
    name = unique()
    room = (await alice.request("createRoom", {"name": f"  {name}  ", "topic": "Say hi"}))["room"]
    assert room == {
        "id": room["id"],
        "name": name,
        "topic": "Say hi",
        "member_count": 1,
        "online_count": 0,
        "last_seq": 0,
        "joined": True,
        "unread": 0,
    }
    listed = {r["id"]: r for r in (await alice.request("listRooms"))["rooms"]}
    assert listed[room["id"]]["joined"] is True
    assert listed[room["id"]]["member_count"] == 1


async def test_room_names_are_unique_case_insensitively(
    connect: Connect, account: AccountFactory
) -> None:
    alice = await connect(await account())
    room = await new_room(alice)
    assert await error_code(alice, "createRoom", {"name": room["name"].upper()}) == "conflict"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"name": ""}, id="empty"),
        pytest.param({"name": "   "}, id="blank"),
        pytest.param({"name": "x" * 65}, id="too-long"),
        pytest.param({"name": "ok", "topic": "t" * 257}, id="topic-too-long"),
        pytest.param({"name": "ok", "private": True}, id="unknown-field"),
    ],
)
async def test_create_room_validation(
    connect: Connect, account: AccountFactory, data: dict[str, Any]
) -> None:
    alice = await connect(await account())
    assert await error_code(alice, "createRoom", data) == "invalid_data"


# messages


async def test_messages_cross_between_members_and_tabs(
    connect: Connect, account: AccountFactory
) -> None:
    alice_account, bob_account = await account("Alice"), await account("Bob")
    alice, alice_tab2 = await connect(alice_account), await connect(alice_account)
    bob = await connect(bob_account)
    room = await new_room(alice)
    for client in (alice, alice_tab2, bob):
        await client.request("joinRoom", {"room": room["id"]})

    reply = await alice.request(
        "sendMessage", {"room": room["id"], "text": "  hello  ", "client_id": "c1"}
    )
    message = reply["message"]
    assert message["text"] == "hello"
    assert message["seq"] == 1 and message["room"] == room["id"] and message["client_id"] == "c1"
    assert message["user"] == {"id": alice_account.id, "full_name": "Alice"}
    assert await bob.expect("message") == message
    assert await alice_tab2.expect("message") == message  # the sender's other tab too
    # the sending connection gets the reply, not an extra event
    await alice.request("ping")
    assert not [f for f in alice.pending if f["state"] == "message"]


async def test_messages_keep_seq_order_between_senders(
    connect: Connect, account: AccountFactory
) -> None:
    """Concurrent senders in one process: every member gets the room's events in seq order."""
    senders = [await connect(await account()) for _ in range(8)]
    carol, dave = await connect(await account()), await connect(await account())
    room = await new_room(senders[0])
    for client in [*senders, carol, dave]:
        await client.request("joinRoom", {"room": room["id"]})
    each = 10
    for n in range(each):  # all sent before any reply is read: the server sees them at once
        for i, sender in enumerate(senders):
            data = {"room": room["id"], "text": f"{i}-{n}", "client_id": f"{i}-{n}"}
            await sender.send({"state": "sendMessage", "id": f"{i}-{n}", "data": data})
    total = len(senders) * each
    for listener in (carol, dave):
        seen = [await listener.expect("message") for _ in range(total)]
        assert [m["seq"] for m in seen] == list(range(1, total + 1))
        assert sorted(m["text"] for m in seen) == sorted(
            f"{i}-{n}" for i in range(len(senders)) for n in range(each)
        )
    for sender in senders:  # senders get the others' events in order too
        frames: list[dict[str, Any]] = []
        while len(frames) < total:  # 10 replies and 70 events (presence frames aside)
            frame = await sender.recv()
            if frame["state"] in ("message", "sendMessage"):
                frames.append(frame)
        events = [f["data"]["seq"] for f in frames if f["state"] == "message"]
        own = [f["data"]["message"]["seq"] for f in frames if f["state"] == "sendMessage"]
        assert len(own) == each and own == sorted(own)
        assert sorted(events + own) == list(range(1, total + 1)) and events == sorted(events)


async def test_text_is_stored_and_sent_exactly_as_typed(
    connect: Connect, account: AccountFactory
) -> None:
    alice = await connect(await account())
    room = await new_room(alice)
    for text in [
        "<img src=x onerror=alert(1)>",
        "a & b < c",
        "line one\nline two",
        "émoji 🎉 ‮rtl",
        "x" * 4000,
    ]:
        sent = (await alice.request("sendMessage", {"room": room["id"], "text": text}))["message"]
        assert sent["text"] == text
    history = (await alice.request("history", {"room": room["id"]}))["messages"]
    assert history[0]["text"] == "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"text": ""}, id="empty"),
        pytest.param({"text": " \n\t "}, id="blank"),
        pytest.param({"text": "x" * 4001}, id="too-long"),
        pytest.param({"text": "x", "client_id": "c" * 65}, id="client-id-too-long"),
        pytest.param({"text": 5}, id="not-a-string"),
    ],
)
async def test_send_message_validation(
    connect: Connect, account: AccountFactory, data: dict[str, Any]
) -> None:
    alice = await connect(await account())
    room = await new_room(alice)
    assert await error_code(alice, "sendMessage", {"room": room["id"], **data}) == "invalid_data"


async def test_retry_with_same_client_id_is_stored_once(
    connect: Connect, account: AccountFactory
) -> None:
    alice, bob = await connect(await account()), await connect(await account())
    room = await new_room(alice)
    await bob.request("joinRoom", {"room": room["id"]})
    first = await alice.request(
        "sendMessage", {"room": room["id"], "text": "once", "client_id": "same"}
    )
    again = await alice.request(
        "sendMessage", {"room": room["id"], "text": "once", "client_id": "same"}
    )
    assert again == first
    await alice.request("sendMessage", {"room": room["id"], "text": "next"})
    events = [await bob.expect("message"), await bob.expect("message")]
    assert [m["text"] for m in events] == ["once", "next"]  # no second "once"
    assert [m["seq"] for m in events] == [1, 2]


async def test_another_user_may_use_the_same_client_id(
    connect: Connect, account: AccountFactory
) -> None:
    alice, bob = await connect(await account()), await connect(await account())
    room = await new_room(alice)
    await bob.request("joinRoom", {"room": room["id"]})
    a = await alice.request("sendMessage", {"room": room["id"], "text": "a", "client_id": "x"})
    b = await bob.request("sendMessage", {"room": room["id"], "text": "b", "client_id": "x"})
    assert a["message"]["id"] != b["message"]["id"]


# joining, history and resume


async def test_join_returns_the_latest_50_and_history_pages_back(
    connect: Connect, account: AccountFactory, settings: Settings
) -> None:
    who = await account()
    alice = await connect(who)
    room = await new_room(alice)
    await seed(settings, room["id"], who, 120)
    joined = await alice.request("joinRoom", {"room": room["id"]})
    assert [m["seq"] for m in joined["messages"]] == list(range(71, 121))
    assert joined["has_more"] is True and joined["last_seq"] == 120
    page = await alice.request("history", {"room": room["id"], "before": 71, "limit": 60})
    assert [m["seq"] for m in page["messages"]] == list(range(11, 71))
    assert page["has_more"] is True
    last = await alice.request("history", {"room": room["id"], "before": 11})
    assert [m["seq"] for m in last["messages"]] == list(range(1, 11))
    assert last["has_more"] is False


@pytest.mark.parametrize("limit", [0, 101])
async def test_history_limit_bounds(connect: Connect, account: AccountFactory, limit: int) -> None:
    alice = await connect(await account())
    room = await new_room(alice)
    assert (
        await error_code(alice, "history", {"room": room["id"], "limit": limit}) == "invalid_data"
    )


async def test_since_recovers_exactly_what_was_missed(
    connect: Connect, account: AccountFactory, settings: Settings
) -> None:
    alice_account, bob_account = await account(), await account()
    alice, bob = await connect(alice_account), await connect(bob_account)
    room = await new_room(alice)
    await alice.request("joinRoom", {"room": room["id"]})
    await bob.request("joinRoom", {"room": room["id"]})
    for n in range(3):
        await alice.request("sendMessage", {"room": room["id"], "text": f"before {n}"})
    held = [await bob.expect("message") for _ in range(3)]
    last_seq = held[-1]["seq"]
    await bob.close()  # bob drops while alice keeps talking

    for n in range(7):
        await alice.request("sendMessage", {"room": room["id"], "text": f"missed {n}"})
    bob = await connect(bob_account)
    resumed = await bob.request("joinRoom", {"room": room["id"], "since": last_seq})
    assert [m["text"] for m in resumed["messages"]] == [f"missed {n}" for n in range(7)]
    assert [m["seq"] for m in resumed["messages"]] == list(range(last_seq + 1, last_seq + 8))
    assert resumed["has_more"] is False and resumed["last_seq"] == last_seq + 7
    # and live delivery continues after the resume, with nothing twice
    await alice.request("sendMessage", {"room": room["id"], "text": "live"})
    assert (await bob.expect("message"))["seq"] == last_seq + 8


async def test_since_pages_by_100(
    connect: Connect, account: AccountFactory, settings: Settings
) -> None:
    who = await account()
    alice = await connect(who)
    room = await new_room(alice)
    await seed(settings, room["id"], who, 130)
    first = await alice.request("joinRoom", {"room": room["id"], "since": 10})
    assert [m["seq"] for m in first["messages"]] == list(range(11, 111))
    assert first["has_more"] is True
    rest = await alice.request("joinRoom", {"room": room["id"], "since": 110})
    assert [m["seq"] for m in rest["messages"]] == list(range(111, 131))
    assert rest["has_more"] is False


# presence, joins, leaves, typing


async def test_join_announces_user_and_presence(connect: Connect, account: AccountFactory) -> None:
    alice_account, bob_account = await account("Alice"), await account("Bob")
    alice, bob = await connect(alice_account), await connect(bob_account)
    room = await new_room(alice)
    await alice.request("joinRoom", {"room": room["id"]})
    joined = await bob.request("joinRoom", {"room": room["id"]})
    assert {u["id"] for u in joined["online"]} == {alice_account.id, bob_account.id}
    assert joined["room"]["member_count"] == 2 and joined["room"]["online_count"] == 2
    bob_user = {"id": bob_account.id, "full_name": "Bob"}
    assert await alice.expect("userJoined") == {"room": room["id"], "user": bob_user}
    presence = await alice.expect("presence")
    assert presence["room"] == room["id"]
    assert presence["online"] == [{"id": alice_account.id, "full_name": "Alice"}, bob_user]


async def test_online_until_the_last_tab_closes(connect: Connect, account: AccountFactory) -> None:
    alice_account, bob_account = await account("Alice"), await account("Bob")
    alice = await connect(alice_account)
    bob_tab1, bob_tab2 = await connect(bob_account), await connect(bob_account)
    room = await new_room(alice)
    await alice.request("joinRoom", {"room": room["id"]})
    await bob_tab1.request("joinRoom", {"room": room["id"]})
    await bob_tab2.request("joinRoom", {"room": room["id"]})
    await alice.expect("presence", where=lambda d: len(d["online"]) == 2)

    await bob_tab1.close()
    await alice.request("ping")
    listed = {r["id"]: r for r in (await alice.request("listRooms"))["rooms"]}
    assert listed[room["id"]]["online_count"] == 2  # bob is still here in his other tab

    await bob_tab2.close()
    gone = await alice.expect("presence", where=lambda d: len(d["online"]) == 1)
    assert gone["online"] == [{"id": alice_account.id, "full_name": "Alice"}]


async def test_leave_room(connect: Connect, account: AccountFactory) -> None:
    alice_account, bob_account = await account("Alice"), await account("Bob")
    alice, bob = await connect(alice_account), await connect(bob_account)
    room = await new_room(alice)
    await alice.request("joinRoom", {"room": room["id"]})
    await bob.request("joinRoom", {"room": room["id"]})
    assert await bob.request("leaveRoom", {"room": room["id"]}) == {"room": room["id"]}
    left = await alice.expect("userLeft")
    assert left == {"room": room["id"], "user": {"id": bob_account.id, "full_name": "Bob"}}
    await alice.expect(
        "presence", where=lambda d: [u["id"] for u in d["online"]] == [alice_account.id]
    )
    await alice.request("sendMessage", {"room": room["id"], "text": "bob is gone"})
    await bob.request("ping")
    assert not [f for f in bob.pending if f["state"] == "message"]
    listed = {r["id"]: r for r in (await bob.request("listRooms"))["rooms"]}
    assert listed[room["id"]]["joined"] is False and listed[room["id"]]["member_count"] == 1
    assert await error_code(bob, "sendMessage", {"room": room["id"], "text": "hi"}) == "forbidden"


async def test_typing_reaches_others_at_most_once_per_two_seconds(
    connect: Connect, account: AccountFactory
) -> None:
    alice_account = await account("Alice")
    alice, bob = await connect(alice_account), await connect(await account())
    room = await new_room(alice)
    await bob.request("joinRoom", {"room": room["id"]})
    assert await alice.request("typing", {"room": room["id"]}) == {}
    assert await alice.request("typing", {"room": room["id"]}) == {}
    await alice.request("sendMessage", {"room": room["id"], "text": "done typing"})
    typing = await bob.expect("typing")
    assert typing == {"room": room["id"], "user": {"id": alice_account.id, "full_name": "Alice"}}
    await bob.expect("message")
    # the second typing would have arrived before the message: it was throttled
    assert not [f for f in bob.pending if f["state"] == "typing"]


async def test_unread_counts_follow_mark_read(connect: Connect, account: AccountFactory) -> None:
    alice, bob = await connect(await account()), await connect(await account())
    room = await new_room(alice)
    await bob.request("joinRoom", {"room": room["id"]})
    for n in range(4):
        await alice.request("sendMessage", {"room": room["id"], "text": f"m{n}"})

    def unread(rooms: list[dict[str, Any]]) -> int:
        return next(r["unread"] for r in rooms if r["id"] == room["id"])

    assert unread((await bob.request("listRooms"))["rooms"]) == 4
    assert await bob.request("markRead", {"room": room["id"], "seq": 3}) == {
        "room": room["id"],
        "unread": 1,
    }
    assert unread((await bob.request("listRooms"))["rooms"]) == 1
    # never backwards, never past the end
    assert (await bob.request("markRead", {"room": room["id"], "seq": 1}))["unread"] == 1
    assert (await bob.request("markRead", {"room": room["id"], "seq": 999}))["unread"] == 0


# permissions


MEMBER_STATES = [
    pytest.param("sendMessage", {"text": "hi"}, id="sendMessage"),
    pytest.param("history", {}, id="history"),
    pytest.param("typing", {}, id="typing"),
    pytest.param("markRead", {"seq": 1}, id="markRead"),
    pytest.param("leaveRoom", {}, id="leaveRoom"),
]


@pytest.mark.parametrize(("state", "data"), MEMBER_STATES)
async def test_non_members_are_forbidden(
    connect: Connect, account: AccountFactory, state: str, data: dict[str, Any]
) -> None:
    alice, mallory = await connect(await account()), await connect(await account())
    room = await new_room(alice)
    await alice.request("sendMessage", {"room": room["id"], "text": "private-ish"})
    assert await error_code(mallory, state, {"room": room["id"], **data}) == "forbidden"


@pytest.mark.parametrize(
    ("state", "data"), [*MEMBER_STATES, pytest.param("joinRoom", {}, id="joinRoom")]
)
async def test_unknown_rooms_are_not_found(
    connect: Connect, account: AccountFactory, state: str, data: dict[str, Any]
) -> None:
    alice = await connect(await account())
    assert await error_code(alice, state, {"room": 987_654_321, **data}) == "not_found"
