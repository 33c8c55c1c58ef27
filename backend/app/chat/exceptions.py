"""Chat errors, each a subclass of the socket error that carries its wire code."""

from app.realtime.errors import Conflict, Forbidden, NotFound


class RoomNotFound(NotFound):
    default_message = "No such room."


class NotAMember(Forbidden):
    default_message = "Join the room first."


class RoomNameTaken(Conflict):
    default_message = "A room with this name already exists."
