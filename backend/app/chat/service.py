"""Chat's database operations. No socket here: states.py adds the events.

The one subtle part is `post_message`: it allocates the room's next `seq`
with `UPDATE rooms SET last_seq = last_seq + 1 ... RETURNING last_seq` in the
same transaction that inserts the message. Concurrent senders queue on that
row (PostgreSQL row lock, SQLite's write lock under `BEGIN IMMEDIATE`), and a
rolled-back insert rolls its increment back too, so seq stays 1..N with no
gap and no duplicate. A retry with the same `client_id` returns the stored
message, even when two retries race (the unique constraint decides).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.chat.exceptions import NotAMember, RoomNameTaken, RoomNotFound
from app.chat.models import Membership, Message, Room
from app.chat.schemas import MessageOut, RoomOut, UserOut
from app.core.db import utcnow

DELETED_USER = UserOut(id=0, full_name="Deleted user")


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


async def post_message(
    db: AsyncSession, user: UserOut, room_id: int, text: str, client_id: str | None
) -> tuple[MessageOut, bool]:
    """Store a message exactly once; the flag says whether it is new (False for a retry)."""
    await member_access(db, user.id, room_id)
    if client_id is not None:
        existing = await _by_client_id(db, user.id, room_id, client_id)
        if existing is not None:
            await db.commit()
            return existing, False
    seq = await db.scalar(
        update(Room)
        .where(Room.id == room_id)
        .values(last_seq=Room.last_seq + 1)
        .returning(Room.last_seq)
    )
    if seq is None:
        raise RoomNotFound()
    message = Message(
        room_id=room_id,
        seq=seq,
        user_id=user.id,
        text=text,
        client_id=client_id,
        created_at=utcnow(),
    )
    db.add(message)
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        if client_id is not None:  # a concurrent retry of the same message won
            existing = await _by_client_id(db, user.id, room_id, client_id)
            if existing is not None:
                return existing, False
        raise
    return message_out(message, user.full_name), True


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
