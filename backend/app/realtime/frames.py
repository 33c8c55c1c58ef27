"""The frame codec: bytes or text in, a parsed request or a typed error out; dicts in, text out.

No I/O here. `orjson` does the encoding because replies and broadcast events
are encoded once and sent as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from app.realtime import errors

RequestId = str | int


@dataclass(slots=True)
class Request:
    state: str
    data: dict[str, Any]
    id: RequestId | None


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


#: JSON encoded already, embedded in a frame as it is.
Json = orjson.Fragment


def raw(json: str | bytes) -> Json:
    """Already-encoded JSON to embed in a frame as it is (a pydantic `model_dump_json()`)."""
    return orjson.Fragment(json)


def reply(state: str, data: Any, request_id: RequestId | None) -> str:
    frame: dict[str, Any] = {"state": state, "data": data}
    if request_id is not None:
        frame["id"] = request_id
    return encode(frame)


def event(state: str, data: Any) -> str:
    return encode({"state": state, "data": data})


def error(
    exc: errors.SocketError, request: str | None = None, request_id: RequestId | None = None
) -> str:
    frame: dict[str, Any] = {
        "state": "error",
        "error": exc.message,
        "code": exc.code,
        "request": request,
    }
    if request_id is not None:
        frame["id"] = request_id
    if exc.details is not None:
        frame["details"] = exc.details
    return encode(frame)


def load_object(raw: str | bytes) -> dict[str, Any]:
    """A JSON object, or `InvalidJson`."""
    try:
        value = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise errors.InvalidJson() from None
    if not isinstance(value, dict):
        raise errors.InvalidJson()
    return value


#: Integer ids a JavaScript client can echo back exactly lie strictly between ±2**53.
MAX_SAFE_ID = 2**53


def valid_id(value: Any) -> bool:
    """A string of up to 128 characters, or an integer a JavaScript client keeps exact."""
    if isinstance(value, str):
        return len(value) <= 128
    if isinstance(value, int) and not isinstance(value, bool):
        return -MAX_SAFE_ID < value < MAX_SAFE_ID
    return False


def identify(envelope: dict[str, Any] | None) -> tuple[str | None, RequestId | None]:
    """The `state` and `id` of a frame as far as they are usable, for an error frame."""
    if envelope is None:
        return None, None
    state, request_id = envelope.get("state"), envelope.get("id")
    if not isinstance(state, str):
        state = None
    if not valid_id(request_id):
        request_id = None
    return state, request_id


def parse_request(frame: dict[str, Any]) -> Request:
    """The request envelope, or `InvalidRequest`. Unknown top-level keys are ignored."""
    request_id = frame.get("id")
    if request_id is not None and not valid_id(request_id):
        raise errors.InvalidRequest("`id` must be a string (up to 128 characters) or an integer.")
    state = frame.get("state")
    if not isinstance(state, str) or not state:
        raise errors.InvalidRequest("`state` must be a non-empty string.")
    data = frame.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        raise errors.InvalidRequest("`data` must be an object.")
    return Request(state, data, request_id)
