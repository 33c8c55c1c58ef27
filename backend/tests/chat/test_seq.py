"""seq allocation: concurrent senders into one room end with 1..N, no gap, no duplicate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select

from app.chat import service
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
