"""The one list of features whose states the socket serves. Add yours here.

`make state name=yourState` appends new ones for you.
"""

from app.chat.states import states as chat_states
from app.polls.states import states as poll_states
from app.realtime.builtin import states as builtin_states
from app.realtime.registry import Registry, StateRouter

FEATURES: list[StateRouter] = [
    builtin_states,
    chat_states,
    poll_states,
]


def build_registry() -> Registry:
    return Registry(*FEATURES)
