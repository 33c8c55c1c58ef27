"""The one list of features whose states the socket serves. Add yours here."""

from app.chat.states import states as chat_states
from app.realtime.builtin import states as builtin_states
from app.realtime.registry import Registry


def build_registry() -> Registry:
    return Registry(builtin_states, chat_states)
