"""Test-only states, and an app factory that serves them beside the real ones.

Used in-process (`registry=registry_with_test_states()`) and by subprocess servers
(`uvicorn tests.realtime.apps:create_test_app --factory`).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from pydantic import Field

from app.main import create_app
from app.realtime import Guard, RequestModel, Session, StateRouter, errors
from app.realtime.registry import Registry, ReplyModel
from app.states import build_registry

router = StateRouter()
release = asyncio.Event()  # set by a test to let `slow` finish


class EchoIn(RequestModel):
    text: str = Field(min_length=1, max_length=10)
    count: int = 1


class EchoOut(ReplyModel):
    text: str
    count: int


class SleepIn(RequestModel):
    seconds: float = Field(default=0.5, ge=0, le=10)


class BlastIn(RequestModel):
    topic: str
    count: int = Field(ge=1, le=100_000)
    size: int = Field(ge=1, le=60_000)


class TopicIn(RequestModel):
    topic: str


class Sent(ReplyModel):
    sent: int


flag_set = Guard(
    "flag_set", lambda session: bool(session.context.get("flag")), "Send setFlag first."
)


@router.handler("echo")
async def echo(data: EchoIn, session: Session) -> EchoOut:
    return EchoOut(text=data.text, count=data.count)


@router.handler("setFlag")
async def set_flag(session: Session) -> None:
    session.context["flag"] = True


@router.handler("guarded", requires=flag_set)
async def guarded(session: Session) -> None:
    return None


@router.handler("boom")
async def boom(session: Session) -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.handler("deny")
async def deny(session: Session) -> None:
    raise errors.Forbidden("Not yours.")


@router.handler("missing")
async def missing(session: Session) -> None:
    raise errors.NotFound()


@router.handler("wait")
async def wait(session: Session) -> None:
    """Block this connection until the test sets `release`."""
    session.send("waiting", {})
    await release.wait()


@router.handler("sleep")
async def sleep(data: SleepIn, session: Session) -> None:
    session.send("sleeping", {})
    await asyncio.sleep(data.seconds)


@router.handler("listen")
async def listen(data: TopicIn, session: Session) -> None:
    await session.subscribe(data.topic)


@router.handler("blast")
async def blast(data: BlastIn, session: Session) -> Sent:
    payload = "x" * data.size
    for n in range(data.count):
        await session.publish(data.topic, "blast", {"n": n, "payload": payload})
        if n % 50 == 0:
            await asyncio.sleep(0)
    return Sent(sent=data.count)


def registry_with_test_states() -> Registry:
    registry = build_registry()
    registry.include(router)
    return registry


def create_test_app() -> FastAPI:
    return create_app(registry=registry_with_test_states())
