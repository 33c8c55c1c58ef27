"""Chat, written as socket states: the example to copy for a feature of your own.

Each block is a request model, a reply model and the handler between them.
Handlers do the database work through `service`, then tell the room with
`session.publish(topic, event, data)`. A connection receives a room's events
once it has sent `joinRoom` for it; events may arrive before the reply of
the request that caused them, so clients dedupe messages by `id`.
"""

from __future__ import annotations

from pydantic import Field

from app.chat import service
from app.chat.schemas import MessageOut, RoomOut, UserOut
from app.realtime import Session, StateRouter, frames
from app.realtime.hub import Hub
from app.realtime.registry import DbInt, ReplyModel, RequestModel

states = StateRouter()

TYPING_INTERVAL_SECONDS = 2.0
JOIN_LATEST = 50
RESUME_LIMIT = 100


# events


class UserInRoom(ReplyModel):
    """A user joined or left a room."""

    room: int
    user: UserOut


class Presence(ReplyModel):
    """Who is online in a room now (distinct users with a live connection that joined it)."""

    room: int
    online: list[UserOut]


MESSAGE = states.event("message", MessageOut, "A new message in a room you joined.")
USER_JOINED = states.event("userJoined", UserInRoom, "A user became a member of the room.")
USER_LEFT = states.event("userLeft", UserInRoom, "A user stopped being a member of the room.")
TYPING = states.event("typing", UserInRoom, "A user is typing (at most once per 2 s).")
PRESENCE = states.event("presence", Presence)


def me(session: Session) -> UserOut:
    return UserOut(id=session.user.id, full_name=session.user.full_name)


async def announce_presence(session: Session, room: int) -> list[UserOut]:
    online = [UserOut(**user) for user in await session.online(service.topic(room))]
    await session.publish(
        service.topic(room), PRESENCE, Presence(room=room, online=online).model_dump(mode="json")
    )
    return online


# listRooms


class ListRoomsOut(ReplyModel):
    rooms: list[RoomOut]


@states.handler("listRooms")
async def list_rooms(session: Session) -> ListRoomsOut:
    """Every room, with member and online counts, and your unread count in those you joined."""
    rows = await service.list_rooms(session.db, session.user.id)
    online = await session.online_counts([service.topic(room.id) for room, _, _ in rows])
    return ListRoomsOut(
        rooms=[
            service.room_out(
                room,
                members=members,
                online=online.get(service.topic(room.id), 0),
                membership=membership,
            )
            for room, members, membership in rows
        ]
    )


# createRoom


class CreateRoomIn(RequestModel):
    name: str = Field(min_length=1, max_length=64)
    topic: str = Field(default="", max_length=256)


class CreateRoomOut(ReplyModel):
    room: RoomOut


@states.handler("createRoom")
async def create_room(data: CreateRoomIn, session: Session) -> CreateRoomOut:
    """Create a public room; you become its first member. A taken name is `conflict`."""
    room = await service.create_room(session.db, session.user.id, data.name, data.topic)
    return CreateRoomOut(
        room=RoomOut(
            id=room.id,
            name=room.name,
            topic=room.topic,
            member_count=1,
            online_count=0,
            last_seq=0,
            joined=True,
            unread=0,
        )
    )


# joinRoom


class JoinRoomIn(RequestModel):
    room: DbInt
    since: DbInt | None = Field(default=None, ge=0)


class JoinRoomOut(ReplyModel):
    room: RoomOut
    online: list[UserOut]
    messages: list[MessageOut]
    has_more: bool
    last_seq: int


@states.handler("joinRoom")
async def join_room(data: JoinRoomIn, session: Session) -> JoinRoomOut:
    """Become a member and receive the room's events on this connection.

    With `since`, `messages` are exactly those after it (up to 100, oldest
    first): how a reconnecting client recovers what it missed. Without it,
    the latest 50.
    """
    topic = service.topic(data.room)
    room, membership, is_new = await service.join(session.db, session.user.id, data.room)
    was_online = any(user["id"] == session.user.id for user in await session.online(topic))
    # Subscribe before reading, so a message committed meanwhile is either in the
    # reply or delivered as an event (or both: clients dedupe by id), never neither.
    await session.subscribe(topic)
    if data.since is not None:
        messages, has_more = await service.messages_after(
            session.db, data.room, data.since, RESUME_LIMIT
        )
    else:
        messages, has_more = await service.messages_before(session.db, data.room, None, JOIN_LATEST)
    room, membership = await service.member_access(session.db, session.user.id, data.room)
    members = await service.member_count(session.db, data.room)
    await session.db.commit()

    if is_new:
        await session.publish(
            topic, USER_JOINED, {"room": data.room, "user": me(session).model_dump()}
        )
    if was_online:
        online = [UserOut(**user) for user in await session.online(topic)]
    else:
        online = await announce_presence(session, data.room)
    return JoinRoomOut(
        room=service.room_out(room, members=members, online=len(online), membership=membership),
        online=online,
        messages=messages,
        has_more=has_more,
        last_seq=room.last_seq,
    )


# leaveRoom


class RoomIn(RequestModel):
    room: DbInt


class LeaveRoomOut(ReplyModel):
    room: int


@states.handler("leaveRoom")
async def leave_room(data: RoomIn, session: Session) -> LeaveRoomOut:
    """End your membership; this connection stops receiving the room's events."""
    await service.leave(session.db, session.user.id, data.room)
    topic = service.topic(data.room)
    await session.unsubscribe(topic, every_connection_of_user=True)
    await session.publish(topic, USER_LEFT, {"room": data.room, "user": me(session).model_dump()})
    await announce_presence(session, data.room)
    return LeaveRoomOut(room=data.room)


# sendMessage


class SendMessageIn(RequestModel):
    room: DbInt
    text: str = Field(min_length=1, max_length=4000)
    client_id: str | None = Field(default=None, min_length=1, max_length=64)


class SendMessageOut(ReplyModel):
    message: MessageOut


@states.handler("sendMessage")
async def send_message(data: SendMessageIn, session: Session) -> SendMessageOut:
    """Post a message. The reply comes after the commit; a retry with the same
    `client_id` returns the stored message and creates nothing."""
    # Group commit: stored together with every other connection's waiting messages.
    message, is_new = await service.posting.submit(
        session.sessionmaker, service.NewMessage(me(session), data.room, data.text, data.client_id)
    )
    if is_new:  # publish before any other await: a room's events then leave in seq order
        await session.publish(service.topic(data.room), MESSAGE, message.model_dump(mode="json"))
    return SendMessageOut(message=message)


# history


class HistoryIn(RequestModel):
    room: DbInt
    before: DbInt | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=100)


class HistoryOut(ReplyModel):
    messages: list[MessageOut]
    has_more: bool


@states.handler("history")
async def history(data: HistoryIn, session: Session) -> HistoryOut:
    """Older messages for scrolling back: those before seq `before`, oldest first."""
    await service.member_access(session.db, session.user.id, data.room)
    messages, has_more = await service.messages_before(
        session.db, data.room, data.before, data.limit
    )
    return HistoryOut(messages=messages, has_more=has_more)


# typing


class TypingOut(ReplyModel):
    pass


@states.handler("typing")
async def typing(data: RoomIn, session: Session) -> TypingOut:
    """Tell the room you are typing; others get at most one `typing` per 2 s from you."""
    await service.member_access(session.db, session.user.id, data.room)
    await session.db.commit()
    key = f"typing:{data.room}:{session.user.id}"
    if await session.throttle(key, TYPING_INTERVAL_SECONDS):
        await session.publish(
            service.topic(data.room), TYPING, {"room": data.room, "user": me(session).model_dump()}
        )
    return TypingOut()


# markRead


class MarkReadIn(RequestModel):
    room: DbInt
    seq: DbInt = Field(ge=0)


class MarkReadOut(ReplyModel):
    room: int
    unread: int


@states.handler("markRead")
async def mark_read(data: MarkReadIn, session: Session) -> MarkReadOut:
    """Everything up to `seq` is read; the reply has the room's new unread count."""
    unread = await service.mark_read(session.db, session.user.id, data.room, data.seq)
    return MarkReadOut(room=data.room, unread=unread)


# a connection that goes away stops counting as online


@states.disconnect_hook
async def forget_presence(session: Session) -> None:
    rooms = [int(topic.split(":", 1)[1]) for topic in session.topics if topic.startswith("room:")]
    for room in rooms:
        await session.unsubscribe(service.topic(room))
        online = await session.online(service.topic(room))
        if all(user["id"] != session.user.id for user in online):
            await announce_presence(session, room)


@states.presence_lost_hook
async def announce_crashed_presence(hub: Hub, topic: str) -> None:
    """Another server process died: tell the room who is still online."""
    if not topic.startswith("room:"):
        return
    room = int(topic.split(":", 1)[1])
    online = [UserOut(**user) for user in await hub.online(topic)]
    frame = frames.event(PRESENCE, Presence(room=room, online=online).model_dump(mode="json"))
    await hub.publish(topic, frame, None)
