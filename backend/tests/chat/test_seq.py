"""seq allocation: concurrent senders into one room end with 1..N, no gap, no duplicate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select

from app.chat import service
from app.chat.exceptions import NotAMember, RoomNotFound
from app.chat.models import Message
from app.chat.schemas import UserOut
from app.core.config import Settings
from app.core.db import Database
from tests.conftest import Account, RunningServer

SENDERS = 8
EACH = 10


@asynccontextmanager
async def room_of(
    settings: Settings, owner: Account
) -> AsyncIterator[tuple[Database, int, UserOut]]:
    """A database handle of its own, a new room, and its owner as an author."""
    database = Database(settings.DATABASE_URL)
    try:
        async with database.sessionmaker() as db:
            room = await service.create_room(db, owner.id, f"seq-{uuid.uuid4().hex[:8]}", "")
        yield database, room.id, UserOut(id=owner.id, full_name=owner.full_name)
    finally:
        await database.dispose()


async def test_concurrent_senders_get_gap_free_seq(
    settings: Settings, server: RunningServer, account: object
) -> None:
    async with room_of(settings, await account()) as (database, room, author):  # type: ignore[operator]

        async def sender(n: int) -> list[int]:
            seqs = []
            for i in range(EACH):
                async with database.sessionmaker() as db:
                    message, _ = await service.post_message(db, author, room, f"{n}-{i}", None)
                    seqs.append(message.seq)
            return seqs

        results = await asyncio.gather(*(sender(n) for n in range(SENDERS)))
        async with database.sessionmaker() as db:
            stored = list(await db.scalars(select(Message.seq).where(Message.room_id == room)))

    total = SENDERS * EACH
    assert sorted(seq for seqs in results for seq in seqs) == list(range(1, total + 1))
    assert sorted(stored) == list(range(1, total + 1))
    for seqs in results:  # each sender saw its own messages in increasing order
        assert seqs == sorted(seqs)


async def test_same_client_id_is_stored_once_even_when_racing(
    settings: Settings, server: RunningServer, account: object
) -> None:
    async with room_of(settings, await account()) as (database, room, author):  # type: ignore[operator]

        async def send() -> tuple[int, bool]:
            async with database.sessionmaker() as db:
                message, new = await service.post_message(db, author, room, "hello", "c-1")
                return message.id, new

        results = await asyncio.gather(*(send() for _ in range(6)))
    assert len({message_id for message_id, _ in results}) == 1
    assert sum(new for _, new in results) == 1


async def test_a_batch_answers_each_message_on_its_own(
    settings: Settings, server: RunningServer, account: object
) -> None:
    """One transaction, five kinds of message: new, retried, repeated, outsider, no such room."""
    outsider_account = await account()  # type: ignore[operator]
    async with room_of(settings, await account()) as (database, room, author):  # type: ignore[operator]
        outsider = UserOut(id=outsider_account.id, full_name=outsider_account.full_name)
        async with database.sessionmaker() as db:
            stored, _ = await service.post_message(db, author, room, "first", "c-stored")
        batch = [
            service.NewMessage(author, room, "new 1", "c-new"),
            service.NewMessage(author, room, "first, again", "c-stored"),
            service.NewMessage(outsider, room, "let me in", None),
            service.NewMessage(author, 2**31 - 1, "nowhere", None),
            service.NewMessage(author, room, "new 1, again", "c-new"),
            service.NewMessage(author, room, "new 2", None),
        ]
        async with database.sessionmaker() as db:
            results = await service.post_messages(db, batch)
        async with database.sessionmaker() as db:
            seqs = list(await db.scalars(select(Message.seq).where(Message.room_id == room)))

    new, retried, outsider_result, nowhere, repeated, second = results
    assert isinstance(new, tuple) and isinstance(second, tuple)
    assert (new[0].seq, new[0].text, new[1]) == (2, "new 1", True)
    assert (second[0].seq, second[0].text, second[1]) == (3, "new 2", True)
    assert retried == (stored, False)
    assert repeated == (new[0], False)
    assert isinstance(outsider_result, NotAMember)
    assert isinstance(nowhere, RoomNotFound)
    assert sorted(seqs) == [1, 2, 3]


async def test_group_commit_keeps_seq_gap_free_and_in_submission_order(
    settings: Settings, server: RunningServer, account: object
) -> None:
    async with room_of(settings, await account()) as (database, room, author):  # type: ignore[operator]
        posts = [
            service.posting.submit(
                database.sessionmaker, service.NewMessage(author, room, f"m{n}", f"c{n}")
            )
            for n in range(SENDERS * EACH)
        ]
        results = await asyncio.wait_for(asyncio.gather(*posts), 30)
    assert [message.seq for message, _ in results] == list(range(1, SENDERS * EACH + 1))
    assert [message.text for message, _ in results] == [f"m{n}" for n in range(SENDERS * EACH)]
    assert all(is_new for _, is_new in results)
