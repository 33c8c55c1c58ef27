"""Poll errors, subclasses of the socket errors that carry the wire codes."""

from app.realtime.errors import InvalidData, NotFound


class PollNotFound(NotFound):
    default_message = "No such poll."


class NoSuchOption(InvalidData):
    default_message = "The poll has no such option."
