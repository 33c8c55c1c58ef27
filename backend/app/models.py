"""Every table, imported in one place so Alembic and the app see the same metadata."""

from app.accounts.models import RefreshToken, User
from app.chat.models import Membership, Message, Room
from app.core.db import Base
from app.polls.models import Poll, PollVote

__all__ = ["Base", "Membership", "Message", "Poll", "PollVote", "RefreshToken", "Room", "User"]
