"""Hostile frames, and the oracle that says what the protocol promises for each.

The strategies make text and binary frames of every kind: arbitrary bytes and
text, any JSON value, request envelopes with every field of the wrong type,
data built from each registered state's own field names with values at the
limits, unicode edge cases, deep nesting, frames around the size limit, and
mutations (flipped, dropped, inserted, truncated bytes) of valid requests.

`expect` is docs/protocol.md written as code: from the raw frame alone it says
whether the socket closes (1009) or which error code the answer must carry;
for a request that reaches its handler it names the state, so the answer can be
checked against what a handler may say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st
from pydantic import ValidationError

from app.realtime.registry import Registry

LIMIT_INTS = [
    0,
    1,
    -1,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**53 - 1,
    2**53,
    -(2**53 - 1),
    -(2**53),
    2**63 - 1,
    2**63,
    -(2**63),
    2**64,
    10**30,
]
LIMIT_FLOATS = [0.0, -0.0, 0.5, 1e-310, 1.7976931348623157e308, 1e16, 2.0**53, 3.0]
UNICODE_EDGES = [
    "",
    " ",
    "\t\n\r ",
    "\u202e",  # right-to-left override
    "\u200f\u200e",  # RTL / LTR marks
    "\u200b\u200c\u200d\u2060",  # zero-width space, non-joiner, joiner, word joiner
    "\ufeff",  # byte order mark
    "\u2028\u2029",  # line and paragraph separators
    "e\u0301\u0301\u0301",  # combining marks
    "\U0001f389\U0001f468\u200d\U0001f469\u200d\U0001f467",  # emoji, ZWJ sequence
    "\U0010ffff\ufffe\uffff",  # noncharacters
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\ud800",  # a lone high surrogate: only as a JSON escape
    "\udfff",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%s%n{0}${x}",
    "x" * 64,
    "x" * 65,
    "x" * 128,
    "x" * 129,
    "x" * 4000,
    "x" * 4001,
    "\u00e9" * 4000,
    " " * 4001,
]
BAD_STATE_NAMES = [
    "",
    " ",
    "error",
    "initialised",
    "__init__",
    "ping ",
    "PING",
    "constructor",
    "toString",
    "\u0000",
    "\u202eping",
]
ERROR_KEYS = {"state", "error", "code", "request", "id", "details"}
NON_FATAL_CODES = {
    "invalid_json",
    "invalid_request",
    "unknown_state",
    "invalid_data",
    "invalid_state",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "internal_error",
}
#: What a handler may answer besides its reply (a feature may raise InvalidData itself).
HANDLER_CODES = {"forbidden", "not_found", "conflict", "invalid_data", "invalid_state"}
INTERNAL = re.compile(r"Internal error \(ref [0-9a-f]{12}\)\.")


# values


def json_leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(LIMIT_INTS),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(LIMIT_FLOATS),
        st.text(max_size=40),
        st.sampled_from(UNICODE_EDGES),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        json_leaves(),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def field_values(ids: list[int], secrets: list[str]) -> st.SearchStrategy[Any]:
    """Values for a state's fields: real object ids and tokens, limits, edge strings, anything.

    Plausible values come up often enough for requests to reach their handlers.
    """
    plausible = st.one_of(
        st.sampled_from(ids),
        st.integers(min_value=0, max_value=max(ids) + 5),
        st.text(min_size=1, max_size=30),
        st.sampled_from(secrets or ["x"]),
    )
    hostile = st.one_of(
        st.sampled_from(LIMIT_INTS),
        st.integers(),
        st.sampled_from(UNICODE_EDGES),
        st.text(max_size=80),
        st.lists(st.text(max_size=20), max_size=12),
        json_values(6),
    )
    return st.one_of(plausible, plausible, hostile)


# frames


@dataclass(frozen=True)
class Fuzz:
    """One frame to send: text or bytes, and how it was made (for the figures)."""

    raw: str | bytes
    kind: str


def render(value: Any, *, ascii_only: bool, binary: bool, kind: str) -> Fuzz:
    """JSON text of `value`; lone surrogates force \\u escapes (a socket frame is UTF-8)."""
    try:
        text = json.dumps(value, ensure_ascii=ascii_only)
        encoded = text.encode()
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True)
        encoded = text.encode()
    return Fuzz(encoded if binary else text, kind)


@st.composite
def envelopes(draw: st.DrawFn, registry: Registry, ids: list[int], secrets: list[str]) -> Fuzz:
    """Request envelopes: mostly well-formed ones for registered states (so the data
    reaches validation and the handlers), the rest with every field of the wrong type."""
    names = [state.name for state in registry]
    plausible = draw(st.integers(0, 9)) < 7
    frame: dict[str, Any] = {}
    if plausible:
        frame["state"] = draw(st.sampled_from(names))
        if draw(st.integers(0, 3)):
            frame["id"] = draw(
                st.one_of(
                    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
                    st.text(max_size=128),
                    st.sampled_from([0, -1, 2**53 - 1, -(2**53) + 1, "", "i" * 128]),
                )
            )
    else:
        state = draw(
            st.one_of(
                st.sampled_from(names),
                st.sampled_from(sorted(registry.events) + BAD_STATE_NAMES),
                st.text(max_size=30),
                json_values(3),
            )
        )
        if state is not None or draw(st.booleans()):
            frame["state"] = state
        if draw(st.integers(0, 3)):
            frame["id"] = draw(
                st.one_of(
                    st.sampled_from(LIMIT_INTS),
                    st.integers(),
                    st.integers(126, 131).map(lambda n: "i" * n),
                    st.sampled_from(UNICODE_EDGES),
                    json_values(3),
                )
            )
    state = frame.get("state")
    known = registry.get(state) if isinstance(state, str) else None
    if known is not None and (plausible or draw(st.booleans())):
        fields = list(known.request.model_fields)
        chosen = (
            draw(st.one_of(st.just(fields), st.lists(st.sampled_from(fields), unique=True)))
            if fields
            else []
        )
        data = {name: draw(field_values(ids, secrets)) for name in chosen}
        if draw(st.integers(0, 7)) == 0:
            data.update(draw(st.dictionaries(st.text(max_size=10), json_values(3), max_size=3)))
        if data or draw(st.booleans()):
            frame["data"] = data
    elif draw(st.integers(0, 3)):
        frame["data"] = draw(json_values(6))
    if draw(st.integers(0, 5)) == 0:  # top-level keys the protocol ignores
        for key in draw(st.lists(st.sampled_from(["user", "user_id", "session", "token", "x"]))):
            frame[key] = draw(json_values(3))
    return render(
        frame, ascii_only=draw(st.booleans()), binary=draw(st.integers(0, 4)) == 0, kind="envelope"
    )


@st.composite
def deep(draw: st.DrawFn) -> Fuzz:
    """Nesting around the parser's depth limit, in data, in id, or as the whole frame."""
    depth = draw(st.one_of(st.integers(1, 40), st.integers(1000, 1100), st.integers(5000, 20000)))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = opener * depth + "1" + closer * depth
    where = draw(st.sampled_from(["data", "id", "frame", "state"]))
    if where == "frame":
        return Fuzz(inner, "deep")
    return Fuzz(f'{{"state": "ping", "{where}": {inner}}}', "deep")


@st.composite
def sized(draw: st.DrawFn, limit: int) -> Fuzz:
    """A ping padded to within a few bytes of the size limit, with 1- to 4-byte characters."""
    char = draw(st.sampled_from(["x", "\u00e9", "\u20ac", "\U0001f600"]))
    target = draw(st.integers(limit - 8, limit + 8))
    head = '{"state": "ping", "id": "sized", "pad": "'
    tail = '"}'
    room = target - len((head + tail).encode())
    count, rest = divmod(room, len(char.encode()))
    text = head + char * count + "x" * rest + tail
    return Fuzz(text.encode() if draw(st.booleans()) else text, "sized")


@st.composite
def mutated(draw: st.DrawFn, corpus: list[str]) -> Fuzz:
    raw = bytearray(draw(st.sampled_from(corpus)).encode())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "drop", "insert", "truncate", "repeat"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "drop" and raw:
            del raw[at]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "truncate":
            del raw[at:]
        elif op == "repeat":
            raw[at:at] = raw[at : at + draw(st.integers(1, 16))]
    data = bytes(raw)
    if not draw(st.booleans()):
        try:
            return Fuzz(data.decode(), "mutated")
        except UnicodeDecodeError:
            pass
    return Fuzz(data, "mutated")


def frames(
    registry: Registry, ids: list[int], corpus: list[str], limit: int, secrets: list[str]
) -> Any:
    """Every kind of frame; envelopes of registered states weigh the most."""
    return st.one_of(
        envelopes(registry, ids, secrets),
        envelopes(registry, ids, secrets),
        envelopes(registry, ids, secrets),
        mutated(corpus),
        st.binary(max_size=512).map(lambda b: Fuzz(b, "bytes")),
        st.text(max_size=512).map(lambda t: Fuzz(t, "text")),
        json_values().flatmap(
            lambda v: st.booleans().map(
                lambda a: render(v, ascii_only=a, binary=False, kind="json value")
            )
        ),
        deep(),
        sized(limit),
    )


# the oracle


@dataclass(frozen=True)
class Expect:
    close: int | None = None  # the socket closes instead of answering (1009)
    code: str | None = None  # the error code the answer must carry
    request: str | None = None  # the answer's `request`
    id: str | int | None = None  # the id the answer must echo
    state: str | None = None  # reached this state's handler: a reply or a handler error
    data: dict[str, Any] | None = None


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    return len(value) <= 128 if isinstance(value, str) else abs(value) < 2**53


def expect(raw: str | bytes, registry: Registry, limit: int) -> Expect:
    size = len(raw.encode()) if isinstance(raw, str) else len(raw)
    if size > limit:
        return Expect(close=1009)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Expect(code="invalid_json")
    if not isinstance(value, dict):
        return Expect(code="invalid_json")
    raw_id, state, data = value.get("id"), value.get("state"), value.get("data")
    echo = raw_id if raw_id is not None and _valid_id(raw_id) else None
    request = state if isinstance(state, str) else None
    if raw_id is not None and echo is None:
        return Expect(code="invalid_request", request=request)
    if not isinstance(state, str) or not state:
        return Expect(code="invalid_request", request=request, id=echo)
    if data is not None and not isinstance(data, dict):
        return Expect(code="invalid_request", request=request, id=echo)
    known = registry.get(state)
    if known is None:
        return Expect(code="unknown_state", request=state, id=echo)
    try:
        known.request.model_validate(data or {})
    except ValidationError:
        return Expect(code="invalid_data", request=state, id=echo)
    return Expect(request=state, id=echo, state=state, data=data or {})


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def known_bug(data: dict[str, Any] | None, postgres: bool) -> str | None:
    """The reported bug an `internal_error` answer to this data is explained by, if any."""
    low, high = (-(2**31), 2**31 - 1) if postgres else (-(2**63), 2**63 - 1)
    for value in walk(data):
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            return "integer out of the database's range"
        if postgres and isinstance(value, str) and "\x00" in value:
            return "NUL character on PostgreSQL"
    return None


def check_error_shape(frame: dict[str, Any]) -> None:
    """Every error frame: the documented keys, a known code, a message, no traceback."""
    assert set(frame) <= ERROR_KEYS, frame
    assert {"state", "error", "code", "request"} <= set(frame), frame
    assert isinstance(frame["error"], str) and frame["error"], frame
    assert frame["request"] is None or isinstance(frame["request"], str), frame
    if "details" in frame:
        assert frame["code"] == "invalid_data", frame
        assert isinstance(frame["details"], list) and frame["details"], frame
        for detail in frame["details"]:
            assert set(detail) == {"loc", "type", "msg"}, detail
            assert isinstance(detail["loc"], list), detail
    if frame["code"] == "internal_error":
        assert INTERNAL.fullmatch(frame["error"]), frame
    text = json.dumps(frame)
    assert "Traceback" not in text and 'File "' not in text, frame
