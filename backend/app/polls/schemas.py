"""What poll states and events send."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.chat.schemas import UserOut


class PollOut(BaseModel):
    id: int
    room: int
    question: str
    options: list[str]
    counts: list[int]
    total: int
    created_by: UserOut
    created_at: datetime
