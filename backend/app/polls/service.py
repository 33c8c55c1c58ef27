"""Polls on the database: create, vote (one vote per member, changeable), count."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.chat import service as chat
from app.chat.schemas import UserOut
from app.core.db import utcnow
from app.polls.exceptions import NoSuchOption, PollNotFound
from app.polls.models import Poll, PollVote
from app.polls.schemas import PollOut


async def create(
    db: AsyncSession, author: UserOut, room_id: int, question: str, options: list[str]
) -> PollOut:
    await chat.member_access(db, author.id, room_id)  # not_found / forbidden
    poll = Poll(
        room_id=room_id,
        question=question,
        options=options,
        created_by=author.id,
        created_at=utcnow(),
    )
    db.add(poll)
    await db.commit()
    return _out(poll, author, [0] * len(options))


async def vote(db: AsyncSession, user_id: int, poll_id: int, option: int) -> PollOut:
    poll = await _member_poll(db, user_id, poll_id)
    if not 0 <= option < len(poll.options):
        raise NoSuchOption(
            details=[
                {
                    "loc": ["option"],
                    "type": "less_than",
                    "msg": f"Input should be less than {len(poll.options)}",
                }
            ]
        )
    changed = await db.execute(
        update(PollVote)
        .where(PollVote.poll_id == poll_id, PollVote.user_id == user_id)
        .values(option=option, voted_at=utcnow())
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        db.add(PollVote(poll_id=poll_id, user_id=user_id, option=option, voted_at=utcnow()))
    try:
        await db.commit()
    except IntegrityError:  # the same user voted from another tab at the same moment
        await db.rollback()
        return await vote(db, user_id, poll_id, option)
    return await results(db, poll)


async def list_for_room(
    db: AsyncSession, user_id: int, room_id: int
) -> list[tuple[PollOut, int | None]]:
    """The room's polls, newest first, each with this user's vote."""
    await chat.member_access(db, user_id, room_id)
    polls = (
        await db.scalars(select(Poll).where(Poll.room_id == room_id).order_by(Poll.id.desc()))
    ).all()
    mine = dict(
        (
            await db.execute(
                select(PollVote.poll_id, PollVote.option).where(
                    PollVote.user_id == user_id, PollVote.poll_id.in_([p.id for p in polls])
                )
            )
        ).all()
    )
    return [(await results(db, poll), mine.get(poll.id)) for poll in polls]


async def room_of(db: AsyncSession, poll_id: int) -> int:
    room = await db.scalar(select(Poll.room_id).where(Poll.id == poll_id))
    if room is None:
        raise PollNotFound()
    return room


async def results(db: AsyncSession, poll: Poll) -> PollOut:
    counts = [0] * len(poll.options)
    rows = await db.execute(
        select(PollVote.option, func.count())
        .where(PollVote.poll_id == poll.id)
        .group_by(PollVote.option)
    )
    for option, count in rows.all():
        counts[option] = count
    author = await db.get(User, poll.created_by) if poll.created_by is not None else None
    return _out(poll, UserOut(id=author.id, full_name=author.full_name) if author else None, counts)


async def _member_poll(db: AsyncSession, user_id: int, poll_id: int) -> Poll:
    poll = await db.get(Poll, poll_id)
    if poll is None:
        raise PollNotFound()
    await chat.member_access(db, user_id, poll.room_id)
    return poll


def _out(poll: Poll, author: UserOut | None, counts: list[int]) -> PollOut:
    return PollOut(
        id=poll.id,
        room=poll.room_id,
        question=poll.question,
        options=list(poll.options),
        counts=counts,
        total=sum(counts),
        created_by=author or chat.DELETED_USER,
        created_at=poll.created_at,
    )
