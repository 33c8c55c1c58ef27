"""Chat's database operations. No socket here: states.py adds the events.

The one subtle part is `post_messages`: it allocates a room's next `seq`s
with `UPDATE rooms SET last_seq = last_seq + n ... RETURNING last_seq` in the
same transaction that inserts the messages. Concurrent senders queue on that
row (PostgreSQL row lock, SQLite's write lock under `BEGIN IMMEDIATE`), and a
rolled-back insert rolls its increment back too, so seq stays 1..N with no
gap and no duplicate. A retry with the same `client_id` returns the stored
message, even when two retries race (the unique constraint decides).

`sendMessage` goes through `posting`, a group commit: the messages of every
connection waiting at that moment are stored by one transaction of four
statements, however many they are (see docs/performance.md for what that
bought).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.chat.exceptions import NotAMember, RoomNameTaken, RoomNotFound
from app.chat.models import Membership, Message, Room
from app.chat.schemas import MessageOut, RoomOut, UserOut
from app.core.batch import GroupCommit
from app.core.db import utcnow

DELETED_USER = UserOut(id=0, full_name="Deleted user")


ROOMS: Table = Room.__table__  # type: ignore[assignment]
MEMBERSHIPS: Table = Membership.__table__  # type: ignore[assignment]
MESSAGES: Table = Message.__table__  # type: ignore[assignment]


def topic(room_id: int) -> str:
    return f"room:{room_id}"


# rooms


async def list_rooms(db: AsyncSession, user_id: int) -> list[tuple[Room, int, Membership | None]]:
    """Every room with its member count and the user's membership, by name."""
    member_count = (
        select(Membership.room_id, func.count().label("members"))
        .group_by(Membership.room_id)
        .subquery()
    )
    mine = select(Membership).where(Membership.user_id == user_id).subquery()
    rows = await db.execute(
        select(Room, func.coalesce(member_count.c.members, 0), mine.c.last_read_seq)
        .outerjoin(member_count, member_count.c.room_id == Room.id)
        .outerjoin(mine, mine.c.room_id == Room.id)
        .order_by(func.lower(Room.name))
    )
    result = []
    for room, members, last_read in rows:
        membership = None
        if last_read is not None:
            membership = Membership(user_id=user_id, room_id=room.id, last_read_seq=last_read)
        result.append((room, int(members), membership))
    return result


async def create_room(db: AsyncSession, user_id: int, name: str, topic_text: str) -> Room:
    taken = await db.scalar(select(Room.id).where(func.lower(Room.name) == name.lower()))
    if taken is not None:
        raise RoomNameTaken()
    room = Room(name=name, topic=topic_text, created_by=user_id, created_at=utcnow(), last_seq=0)
    db.add(room)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise RoomNameTaken() from None
    db.add(Membership(user_id=user_id, room_id=room.id, joined_at=utcnow(), last_read_seq=0))
    await db.commit()
    return room


async def access(db: AsyncSession, user_id: int, room_id: int) -> tuple[Room, Membership | None]:
    """The room and the user's membership of it; `RoomNotFound` if there is no such room."""
    row = (
        await db.execute(
            select(Room, Membership)
            .outerjoin(
                Membership, (Membership.room_id == Room.id) & (Membership.user_id == user_id)
            )
            .where(Room.id == room_id)
        )
    ).first()
    if row is None:
        raise RoomNotFound()
    return row[0], row[1]


async def member_access(db: AsyncSession, user_id: int, room_id: int) -> tuple[Room, Membership]:
    """Like `access`, and `NotAMember` unless the user has joined."""
    room, membership = await access(db, user_id, room_id)
    if membership is None:
        raise NotAMember()
    return room, membership


async def member_count(db: AsyncSession, room_id: int) -> int:
    count = await db.scalar(select(func.count()).where(Membership.room_id == room_id))
    return int(count or 0)


async def join(db: AsyncSession, user_id: int, room_id: int) -> tuple[Room, Membership, bool]:
    """Persist membership; the flag says whether it is new."""
    room, membership = await access(db, user_id, room_id)
    if membership is not None:
        await db.commit()
        return room, membership, False
    membership = Membership(user_id=user_id, room_id=room_id, joined_at=utcnow(), last_read_seq=0)
    db.add(membership)
    try:
        await db.commit()
    except IntegrityError:  # another tab joined at the same moment
        await db.rollback()
        room, existing = await member_access(db, user_id, room_id)
        return room, existing, False
    return room, membership, True


async def leave(db: AsyncSession, user_id: int, room_id: int) -> None:
    await member_access(db, user_id, room_id)
    await db.execute(
        delete(Membership).where(Membership.user_id == user_id, Membership.room_id == room_id)
    )
    await db.commit()


async def mark_read(db: AsyncSession, user_id: int, room_id: int, seq: int) -> int:
    """Move the read marker forward (never back, never past the end); the unread count."""
    room, membership = await member_access(db, user_id, room_id)
    read = max(membership.last_read_seq, min(seq, room.last_seq))
    if read != membership.last_read_seq:
        await db.execute(
            update(Membership)
            .where(Membership.user_id == user_id, Membership.room_id == room_id)
            .values(last_read_seq=read)
        )
    await db.commit()
    return room.last_seq - read


def room_out(room: Room, *, members: int, online: int, membership: Membership | None) -> RoomOut:
    return RoomOut(
        id=room.id,
        name=room.name,
        topic=room.topic,
        member_count=members,
        online_count=online,
        last_seq=room.last_seq,
        joined=membership is not None,
        unread=room.last_seq - membership.last_read_seq if membership is not None else 0,
    )


# messages


def _message_query() -> Select[Message, str]:
    return select(Message, User.full_name).outerjoin(User, User.id == Message.user_id)


def message_out(message: Message, full_name: str | None) -> MessageOut:
    user = (
        UserOut(id=message.user_id, full_name=full_name)
        if message.user_id is not None and full_name is not None
        else DELETED_USER
    )
    return MessageOut(
        id=message.id,
        room=message.room_id,
        seq=message.seq,
        user=user,
        text=message.text,
        created_at=message.created_at,
        client_id=message.client_id,
    )


def _outs(rows: Sequence[Row[Message, str]]) -> list[MessageOut]:
    return [message_out(message, name) for message, name in rows]


@dataclass(frozen=True, slots=True)
class NewMessage:
    user: UserOut
    room: int
    text: str
    client_id: str | None


Posted = tuple[MessageOut, bool]  # the stored message; False when it was a retry


async def post_messages(db: AsyncSession, batch: Sequence[NewMessage]) -> list[Posted | Exception]:
    """Store a batch of messages in one transaction, each exactly once.

    Returns, in order, each message as stored (with False for a retry of a
    stored `client_id`) or the error its sender gets. A constraint violation
    (a retry racing in another process) rolls the batch back and stores its
    messages one by one, so one message never fails another.
    """
    try:
        return await _post_batch(db, batch)
    except IntegrityError:
        await db.rollback()
        if len(batch) == 1:
            [message] = batch
            existing = (
                await _by_client_id(db, message.user.id, message.room, message.client_id)
                if message.client_id is not None
                else None
            )
            if existing is None:
                raise
            await db.commit()  # a concurrent retry of the same message won
            return [(existing, False)]
    results: list[Posted | Exception] = []  # several: store them one by one
    for message in batch:
        try:
            results += await post_messages(db, [message])
        except IntegrityError as exc:
            await db.rollback()
            results.append(exc)
    return results


async def post_message(
    db: AsyncSession, user: UserOut, room_id: int, text: str, client_id: str | None
) -> Posted:
    """Store one message (see `post_messages`); raises its error."""
    [result] = await post_messages(db, [NewMessage(user, room_id, text, client_id)])
    if isinstance(result, Exception):
        raise result
    return result


#: Concurrent `sendMessage`s share one transaction: `await posting.submit(sessionmaker, message)`.
posting: GroupCommit[NewMessage, Posted] = GroupCommit(post_messages)


async def _post_batch(db: AsyncSession, batch: Sequence[NewMessage]) -> list[Posted | Exception]:
    results: list[Posted | Exception | None] = [None] * len(batch)
    rooms = {message.room for message in batch}

    # 1. Only members post, and 2. a retry of a stored client_id gets the stored message:
    # one statement, the sender's memberships with any of their messages of those client_ids.
    client_ids = {message.client_id for message in batch if message.client_id is not None}
    memberships = await db.execute(
        select(
            MEMBERSHIPS.c.user_id,
            MEMBERSHIPS.c.room_id,
            MESSAGES.c.id,
            MESSAGES.c.seq,
            MESSAGES.c.text,
            MESSAGES.c.client_id,
            MESSAGES.c.created_at,
        )
        .outerjoin(
            MESSAGES,
            (MESSAGES.c.room_id == MEMBERSHIPS.c.room_id)
            & (MESSAGES.c.user_id == MEMBERSHIPS.c.user_id)
            & MESSAGES.c.client_id.in_(client_ids),
        )
        .where(
            MEMBERSHIPS.c.room_id.in_(rooms),
            MEMBERSHIPS.c.user_id.in_({message.user.id for message in batch}),
        )
    )
    members: set[tuple[int, int]] = set()
    stored: dict[tuple[int, int, str], Row[Any, Any, Any, Any, Any, Any, Any]] = {}
    for row in memberships:
        members.add((row.user_id, row.room_id))
        if row.id is not None:
            stored[(row.room_id, row.user_id, row.client_id)] = row
    outsiders = [i for i, m in enumerate(batch) if (m.user.id, m.room) not in members]
    if outsiders:
        found = set(
            await db.scalars(
                select(ROOMS.c.id).where(ROOMS.c.id.in_({batch[i].room for i in outsiders}))
            )
        )
        for i in outsiders:
            results[i] = NotAMember() if batch[i].room in found else RoomNotFound()
    first: dict[tuple[int, int, str], int] = {}
    repeats: dict[int, int] = {}  # a repeat inside the batch gets what the first one gets
    for i, message in enumerate(batch):
        if results[i] is None and message.client_id is not None:
            key = (message.room, message.user.id, message.client_id)
            if key in first:
                repeats[i] = first[key]
                continue
            first[key] = i
            if (hit := stored.get(key)) is not None:
                results[i] = (
                    MessageOut(
                        id=hit.id,
                        room=message.room,
                        seq=hit.seq,
                        user=message.user,
                        text=hit.text,
                        created_at=hit.created_at,
                        client_id=hit.client_id,
                    ),
                    False,
                )

    # 3. Allocate each room's seqs in one statement, then insert every new message in one.
    new = [i for i in range(len(batch)) if results[i] is None and i not in repeats]
    by_room: dict[int, list[int]] = {}
    for i in new:
        by_room.setdefault(batch[i].room, []).append(i)
    seqs: dict[int, int] = {}
    for room, indexes in by_room.items():
        last = await db.scalar(
            update(ROOMS)
            .where(ROOMS.c.id == room)
            .values(last_seq=ROOMS.c.last_seq + len(indexes))
            .returning(ROOMS.c.last_seq)
        )
        if last is None:  # the room went away since step 1
            for i in indexes:
                results[i] = RoomNotFound()
            continue
        for offset, i in enumerate(indexes):
            seqs[i] = last - len(indexes) + 1 + offset
    if seqs:
        now = utcnow()
        rows = [
            {
                "room_id": batch[i].room,
                "seq": seq,
                "user_id": batch[i].user.id,
                "text": batch[i].text,
                "client_id": batch[i].client_id,
                "created_at": now,
            }
            for i, seq in seqs.items()
        ]
        ids = (
            await db.execute(
                insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True), rows
            )
        ).scalars()
        for (i, seq), message_id in zip(seqs.items(), ids, strict=True):
            message = batch[i]
            results[i] = (
                MessageOut(
                    id=message_id,
                    room=message.room,
                    seq=seq,
                    user=message.user,
                    text=message.text,
                    created_at=now,
                    client_id=message.client_id,
                ),
                True,
            )
    await db.commit()
    for i, j in repeats.items():
        earlier = results[j]
        results[i] = (earlier[0], False) if isinstance(earlier, tuple) else earlier
    return [result if result is not None else RoomNotFound() for result in results]


async def _by_client_id(
    db: AsyncSession, user_id: int, room_id: int, client_id: str
) -> MessageOut | None:
    row = (
        await db.execute(
            _message_query().where(
                Message.room_id == room_id,
                Message.user_id == user_id,
                Message.client_id == client_id,
            )
        )
    ).first()
    return message_out(row[0], row[1]) if row is not None else None


async def messages_after(
    db: AsyncSession, room_id: int, since: int, limit: int
) -> tuple[list[MessageOut], bool]:
    """Messages with seq > since, oldest first, at most `limit`; whether more follow."""
    rows = (
        await db.execute(
            _message_query()
            .where(Message.room_id == room_id, Message.seq > since)
            .order_by(Message.seq)
            .limit(limit + 1)
        )
    ).all()
    return _outs(rows[:limit]), len(rows) > limit


async def messages_before(
    db: AsyncSession, room_id: int, before: int | None, limit: int
) -> tuple[list[MessageOut], bool]:
    """The `limit` messages just before seq `before` (or the latest), oldest first; whether
    older ones exist."""
    query = _message_query().where(Message.room_id == room_id)
    if before is not None:
        query = query.where(Message.seq < before)
    rows = (await db.execute(query.order_by(Message.seq.desc()).limit(limit + 1))).all()
    return _outs(list(reversed(rows[:limit]))), len(rows) > limit
