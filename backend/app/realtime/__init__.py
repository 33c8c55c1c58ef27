"""The socket engine: it knows sessions, states and frames, and nothing about chat.

Public surface for features:

    from app.realtime import Session, StateRouter, errors
"""

from app.realtime import errors
from app.realtime.registry import Guard, Registry, RequestModel, StateRouter
from app.realtime.session import Session

__all__ = ["Guard", "Registry", "RequestModel", "Session", "StateRouter", "errors"]
