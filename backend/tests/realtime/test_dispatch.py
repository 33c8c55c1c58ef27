"""The dispatcher without a socket: envelope rules, validation, guards, error mapping."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.realtime import RequestModel, Session, StateRouter, frames
from app.realtime.broadcast import MemoryBroadcaster
from app.realtime.builtin import PingOut, ping_reply
from app.realtime.dispatch import Outcome, dispatch
from app.realtime.hub import Hub
from app.realtime.registry import Registry
from app.realtime.session import Outbox, Principal, TokenBucket
from tests.conftest import make_settings
from tests.realtime.apps import registry_with_test_states

REGISTRY = registry_with_test_states()


@pytest.fixture
def session(tmp_path: Path) -> Session:
    settings: Settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    s = Session(
        hub=Hub(MemoryBroadcaster()),
        outbox=Outbox(100),
        sessionmaker=async_sessionmaker(create_engine(settings.DATABASE_URL)),
        limiter=TokenBucket(1000, 1000),
        settings=settings,
    )
    s.user = Principal(1, "a@example.com", "Ann")
    s.expires_at = time.time() + 600
    return s


async def run(session: Session, frame: Any) -> tuple[dict[str, Any], int | None]:
    raw = frame if isinstance(frame, str | bytes) else json.dumps(frame)
    outcome: Outcome = await dispatch(REGISTRY, session, raw)
    return json.loads(outcome.frame), outcome.close


@pytest.mark.parametrize(
    ("frame", "code", "request_state"),
    [
        pytest.param("not json", "invalid_json", None, id="not-json"),
        pytest.param("[1, 2]", "invalid_json", None, id="array"),
        pytest.param('"text"', "invalid_json", None, id="string"),
        pytest.param(b"\xff\xfe", "invalid_json", None, id="bad-utf8"),
        pytest.param("[" * 5000 + "]" * 5000, "invalid_json", None, id="too-deep"),
        pytest.param({"data": {}}, "invalid_request", None, id="no-state"),
        pytest.param({"state": 5}, "invalid_request", None, id="state-not-string"),
        pytest.param({"state": ""}, "invalid_request", "", id="empty-state"),
        pytest.param({"state": "ping", "data": []}, "invalid_request", "ping", id="data-array"),
        pytest.param({"state": "ping", "id": 1.5}, "invalid_request", "ping", id="float-id"),
        pytest.param({"state": "ping", "id": True}, "invalid_request", "ping", id="bool-id"),
        pytest.param({"state": "ping", "id": [1]}, "invalid_request", "ping", id="list-id"),
        pytest.param({"state": "ping", "id": "x" * 129}, "invalid_request", "ping", id="long-id"),
        pytest.param({"state": "nope"}, "unknown_state", "nope", id="unknown"),
        pytest.param({"state": "error"}, "unknown_state", "error", id="reserved-name"),
        pytest.param({"state": "echo", "data": {}}, "invalid_data", "echo", id="missing-field"),
        pytest.param(
            {"state": "echo", "data": {"text": "x" * 11}}, "invalid_data", "echo", id="too-long"
        ),
        pytest.param(
            {"state": "echo", "data": {"text": "  "}}, "invalid_data", "echo", id="blank-after-trim"
        ),
        pytest.param(
            {"state": "echo", "data": {"text": "a", "extra": 1}},
            "invalid_data",
            "echo",
            id="extra-field",
        ),
        pytest.param(
            {"state": "echo", "data": {"text": "a", "count": "many"}},
            "invalid_data",
            "echo",
            id="wrong-type",
        ),
        pytest.param({"state": "guarded"}, "invalid_state", "guarded", id="guard"),
        pytest.param({"state": "deny"}, "forbidden", "deny", id="forbidden"),
        pytest.param({"state": "missing"}, "not_found", "missing", id="not-found"),
        pytest.param({"state": "boom"}, "internal_error", "boom", id="internal"),
    ],
)
async def test_errors_have_their_code_and_keep_the_connection(
    session: Session, frame: Any, code: str, request_state: str | None
) -> None:
    reply, close = await run(session, frame)
    assert reply["state"] == "error"
    assert reply["code"] == code
    assert reply["request"] == request_state
    assert isinstance(reply["error"], str) and reply["error"]
    assert close is None
    assert ("details" in reply) == (code == "invalid_data")


async def test_invalid_data_details_look_like_fastapi(session: Session) -> None:
    reply, _ = await run(session, {"state": "echo", "id": 3, "data": {"count": "x"}})
    assert reply["id"] == 3
    assert reply["details"] == [
        {"loc": ["text"], "type": "missing", "msg": "Field required"},
        {
            "loc": ["count"],
            "type": "int_parsing",
            "msg": "Input should be a valid integer, unable to parse string as an integer",
        },
    ]


@pytest.mark.parametrize("request_id", [7, "abc", 0, -(2**53) + 1, ""], ids=repr)
async def test_ids_are_echoed_on_replies_and_errors(session: Session, request_id: Any) -> None:
    reply, _ = await run(session, {"state": "echo", "id": request_id, "data": {"text": "hi"}})
    assert reply == {"state": "echo", "data": {"text": "hi", "count": 1}, "id": request_id}
    error, _ = await run(session, {"state": "nope", "id": request_id})
    assert error["id"] == request_id


async def test_no_id_means_no_id(session: Session) -> None:
    reply, _ = await run(session, {"state": "ping"})
    assert set(reply) == {"state", "data"}
    assert "time" in reply["data"]


async def test_data_defaults_to_empty_and_null_is_empty(session: Session) -> None:
    assert (await run(session, {"state": "setFlag"}))[0]["state"] == "setFlag"
    assert (await run(session, {"state": "guarded", "data": None}))[0] == {
        "state": "guarded",
        "data": {},
    }


async def test_guard_passes_once_the_session_is_in_that_state(session: Session) -> None:
    assert (await run(session, {"state": "guarded"}))[0]["code"] == "invalid_state"
    await run(session, {"state": "setFlag"})
    assert (await run(session, {"state": "guarded"}))[0]["state"] == "guarded"


async def test_internal_error_is_logged_with_a_reference_and_never_sent(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply, _ = await run(session, {"state": "boom", "id": 1})
    reference = reply["error"].split("ref ")[1].rstrip(").")
    assert "hunter2" not in json.dumps(reply) and "Traceback" not in json.dumps(reply)
    assert any(reference in record.getMessage() for record in caplog.records)
    assert any(record.exc_info for record in caplog.records)


async def test_rate_limit_answers_in_place(session: Session) -> None:
    session.limiter = TokenBucket(rate=0.001, burst=2)
    codes = [(await run(session, {"state": "ping", "id": n}))[0] for n in range(4)]
    assert [c["state"] for c in codes] == ["ping", "ping", "error", "error"]
    assert [c.get("code") for c in codes[2:]] == ["rate_limited", "rate_limited"]
    assert [c["id"] for c in codes] == [0, 1, 2, 3]


async def test_malformed_frames_count_against_the_rate_limit(session: Session) -> None:
    session.limiter = TokenBucket(rate=0.001, burst=2)
    codes = [(await run(session, "garbage"))[0]["code"] for _ in range(2)]
    codes.append((await run(session, {"state": "ping", "id": 1}))[0]["code"])
    assert codes == ["invalid_json", "invalid_json", "rate_limited"]


async def test_expired_token_closes_with_4001(session: Session) -> None:
    session.expires_at = time.time() - 1
    reply, close = await run(session, {"state": "ping", "id": 1})
    assert (reply["code"], reply["id"], close) == ("token_expired", 1, 4001)


async def test_close_state_replies_then_closes_normally(session: Session) -> None:
    reply, close = await run(session, {"state": "close", "id": "bye"})
    assert (reply, close) == ({"state": "close", "data": {}, "id": "bye"}, 1000)


# the registry


class In(RequestModel):
    x: int


class Out(BaseModel):
    y: int


def test_registering_a_state_twice_fails_at_startup() -> None:
    first, second = StateRouter(), StateRouter()

    @first.handler("dup")
    async def one(session: Session) -> None: ...

    @second.handler("dup")
    async def two(session: Session) -> None: ...

    with pytest.raises(ValueError, match=r"'dup' from .* is already registered by"):
        Registry(first, second)
    with pytest.raises(ValueError, match="registered twice"):
        first.handler("dup")(two)


@pytest.mark.parametrize("name", ["error", "initialised"])
def test_protocol_names_are_reserved(name: str) -> None:
    router = StateRouter()

    @router.handler(name)
    async def handler(session: Session) -> None: ...

    with pytest.raises(ValueError, match="already registered by the protocol"):
        Registry(router)


def test_handlers_must_be_typed_coroutines() -> None:
    router = StateRouter()
    with pytest.raises(TypeError, match="async def"):
        router.handler("sync")(lambda session: None)  # type: ignore[arg-type]

    async def untyped(data, session):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(TypeError, match="pydantic model"):
        router.handler("untyped")(untyped)
    with pytest.raises(ValueError, match="identifier"):
        router.handler("has space")


def test_schemas_list_every_state_with_request_and_reply() -> None:
    router = StateRouter()

    @router.handler("double")
    async def double(data: In, session: Session) -> Out:
        """Twice x."""
        return Out(y=data.x * 2)

    schemas = Registry(router).schemas()["states"]["double"]
    assert schemas["summary"] == "Twice x."
    assert schemas["request"]["properties"] == {"x": {"title": "X", "type": "integer"}}
    assert schemas["reply"]["properties"] == {"y": {"title": "Y", "type": "integer"}}


def test_every_built_in_and_chat_state_is_registered() -> None:
    names = {state.name for state in REGISTRY}
    assert {"ping", "reauth", "close"} <= names
    assert {
        "listRooms",
        "createRoom",
        "joinRoom",
        "leaveRoom",
        "sendMessage",
        "history",
        "typing",
        "markRead",
    } <= names
    assert {"message", "userJoined", "userLeft", "typing", "presence"} <= set(REGISTRY.events)


def test_a_handler_may_reply_with_json_it_encoded_if_it_names_the_model() -> None:
    router = StateRouter()

    @router.handler("fast", reply=Out)
    async def fast(session: Session) -> frames.Json:
        return frames.raw(b'{"y":2}')

    assert Registry(router).get("fast").reply is Out  # type: ignore[union-attr]
    assert Registry(router).schemas()["states"]["fast"]["reply"]["properties"] == {
        "y": {"title": "Y", "type": "integer"}
    }

    async def unnamed(session: Session) -> frames.Json:
        return frames.raw(b"{}")

    with pytest.raises(TypeError, match="reply="):
        router.handler("unnamed")(unnamed)

    async def modelled(session: Session) -> Out:
        return Out(y=1)

    with pytest.raises(TypeError, match="reply= is for"):
        router.handler("modelled", reply=Out)(modelled)


async def test_a_pre_encoded_reply_is_sent_as_it_is(session: Session) -> None:
    router = StateRouter()

    @router.handler("fast", reply=Out)
    async def fast(session: Session) -> frames.Json:
        return frames.raw(b'{"y":2}')

    outcome = await dispatch(Registry(router), session, '{"state": "fast", "id": 7}')
    assert outcome.frame == '{"state":"fast","data":{"y":2},"id":7}'


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 1, 2, 3, 4, tzinfo=UTC),
        datetime(2026, 11, 22, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1999, 12, 31, 12, 0, 0, 450000, tzinfo=UTC),
    ],
)
def test_ping_encodes_its_reply_exactly_as_pydantic_would(now: datetime) -> None:
    assert orjson.dumps(ping_reply(now)) == PingOut(time=now).model_dump_json().encode()


async def test_ping_replies_with_data_its_model_accepts(session: Session) -> None:
    reply, _ = await run(session, {"state": "ping", "id": 1})
    assert abs(PingOut.model_validate(reply["data"]).time - datetime.now(UTC)) < timedelta(
        minutes=1
    )
