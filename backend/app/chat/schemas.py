"""What chat sends: users, rooms and messages as they appear in replies and events."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UserOut(BaseModel):
    id: int
    full_name: str


class RoomOut(BaseModel):
    id: int
    name: str
    topic: str
    member_count: int
    online_count: int
    last_seq: int
    joined: bool
    unread: int


class MessageOut(BaseModel):
    id: int
    room: int
    seq: int
    user: UserOut
    text: str
    created_at: datetime
    client_id: str | None
