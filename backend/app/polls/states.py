"""Polls in a room: the feature docs/extending.md builds, step by step.

createPoll → everyone in the room gets `pollCreated`
pollVote   → everyone in the room gets `pollResults` (a member may change their vote)
listPolls  → the room's polls, with your own vote in each
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.chat import service as chat
from app.chat.states import me
from app.polls import service
from app.polls.schemas import PollOut
from app.realtime import RequestModel, Session, StateRouter
from app.realtime.registry import DbInt, ReplyModel

states = StateRouter()

Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PollEvent(ReplyModel):
    """A poll and its current counts."""

    poll: PollOut


POLL_CREATED = states.event("pollCreated", PollEvent, "A member created a poll in the room.")
POLL_RESULTS = states.event("pollResults", PollEvent, "A poll's counts changed.")


class CreatePollIn(RequestModel):
    room: DbInt
    question: str = Field(min_length=1, max_length=200)
    options: list[Option] = Field(min_length=2, max_length=10)


class PollReply(ReplyModel):
    poll: PollOut
    my_vote: int | None


@states.handler("createPoll")
async def create_poll(data: CreatePollIn, session: Session) -> PollReply:
    """Ask the room a question with 2 to 10 options."""
    poll = await service.create(session.db, me(session), data.room, data.question, data.options)
    await session.publish(
        chat.topic(data.room), POLL_CREATED, {"poll": poll.model_dump(mode="json")}
    )
    return PollReply(poll=poll, my_vote=None)


class PollVoteIn(RequestModel):
    poll: DbInt
    option: DbInt = Field(ge=0)


@states.handler("pollVote")
async def poll_vote(data: PollVoteIn, session: Session) -> PollReply:
    """Vote for an option (by index); voting again moves your vote."""
    poll = await service.vote(session.db, session.user.id, data.poll, data.option)
    await session.publish(
        chat.topic(poll.room), POLL_RESULTS, {"poll": poll.model_dump(mode="json")}
    )
    return PollReply(poll=poll, my_vote=data.option)


class ListPollsIn(RequestModel):
    room: DbInt


class ListPollsOut(ReplyModel):
    polls: list[PollReply]


@states.handler("listPolls")
async def list_polls(data: ListPollsIn, session: Session) -> ListPollsOut:
    """The room's polls, newest first, each with your vote (or null)."""
    rows = await service.list_for_room(session.db, session.user.id, data.room)
    return ListPollsOut(polls=[PollReply(poll=poll, my_vote=mine) for poll, mine in rows])
