"""From (registry, session, raw frame) to one outcome: the frame to send and maybe a close code.

Pure with respect to I/O: no socket here, so validation, guards and error
mapping are tested by calling `dispatch` directly.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from app.core import metrics
from app.realtime import errors, frames
from app.realtime.registry import Registry
from app.realtime.session import Session

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    frame: str
    close: int | None = None


async def dispatch(registry: Registry, session: Session, raw: str | bytes) -> Outcome:
    started = time.perf_counter()
    envelope: dict[str, Any] | None = None
    label = "unknown"
    outcome = "ok"
    try:
        allowed = session.limiter.allow()  # every frame counts, malformed ones too
        try:
            envelope = frames.load_object(raw)
        except errors.InvalidJson:
            if not allowed:
                raise errors.RateLimited() from None
            raise
        if not allowed:
            raise errors.RateLimited()
        request = frames.parse_request(envelope)
        if session.token_expired:
            raise errors.TokenExpired()
        state = registry.get(request.state)
        if state is None:
            raise errors.UnknownState(f"Unknown state {request.state!r}.")
        label = state.name
        for guard in state.requires:
            if not guard(session):
                raise errors.InvalidState(guard.message)
        if state.takes_data or request.data:  # a state without data still refuses any
            try:
                data = state.request.model_validate(request.data)
            except ValidationError as exc:
                raise errors.InvalidData.from_validation(exc) from None
        result = await (
            state.handler(data, session) if state.takes_data else state.handler(session)
        )
        payload: frames.Json | dict[str, Any]
        if isinstance(result, frames.Json):  # encoded by the handler itself (`reply=`)
            payload = result
        elif isinstance(result, BaseModel):  # straight to JSON (pydantic's serializer)
            payload = frames.raw(result.model_dump_json())
        else:
            payload = {}
        return Outcome(frames.reply(request.state, payload, request.id), session.take_close())
    except errors.SocketError as exc:
        outcome = exc.code
        state_name, request_id = frames.identify(envelope)
        return Outcome(frames.error(exc, state_name, request_id), exc.close_code)
    except Exception:
        outcome = errors.InternalError.code
        state_name, request_id = frames.identify(envelope)
        reference = uuid.uuid4().hex[:12]
        logger.exception("state %r failed (ref %s)", state_name, reference)
        failure = errors.InternalError(f"Internal error (ref {reference}).")
        return Outcome(frames.error(failure, state_name, request_id))
    finally:
        if session.db_open:  # most requests open none: no coroutine to await
            await session.end_request()
        if outcome != "ok":
            state_name, _ = frames.identify(envelope)
            if state_name is not None and state_name in registry:
                label = state_name
            metrics.ERRORS.labels(outcome).inc()
        metrics.REQUEST_TALLY.record(label, outcome, time.perf_counter() - started)
