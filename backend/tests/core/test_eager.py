"""eager.start: a coroutine runs in the caller's step; only what waits becomes a task."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from app.core import eager

TIMEOUT = 5

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="")


async def test_a_coroutine_that_never_waits_runs_to_the_end_before_start_returns() -> None:
    done: list[str] = []

    async def work() -> None:
        done.append(where.get())

    where.set("caller")
    assert eager.start(work()) is None
    assert done == ["caller"]  # already ran, in the caller's context


async def test_a_coroutine_that_waits_goes_on_in_a_task_from_where_it_stopped() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def work() -> int:
        steps.append("before")
        await gate.wait()
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield after a real wait is passed on as well
        steps.append("end")
        return 42

    task = eager.start(work())
    assert task is not None
    assert steps == ["before"]  # ran up to the wait, synchronously
    await asyncio.sleep(0)
    assert steps == ["before"]  # and waits
    gate.set()
    assert await asyncio.wait_for(task, TIMEOUT) == 42
    assert steps == ["before", "after", "end"]


async def test_an_error_after_the_wait_is_the_task_s_error() -> None:
    gate = asyncio.Event()

    async def work() -> None:
        await gate.wait()
        raise ValueError("boom")

    task = eager.start(work())
    assert task is not None
    gate.set()
    with pytest.raises(ValueError, match="boom"):
        await asyncio.wait_for(task, TIMEOUT)


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    gate = asyncio.Event()
    seen: list[str] = []

    async def work() -> None:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("cleaned up")

    task = eager.start(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert seen == ["cancelled", "cleaned up"]
    assert not gate._waiters  # the Event forgot the abandoned wait


async def test_a_coroutine_may_catch_the_cancellation_and_return() -> None:
    gate = asyncio.Event()

    async def work() -> str:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            return "caught"
        return "not cancelled"

    task = eager.start(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    assert await asyncio.wait_for(task, TIMEOUT) == "caught"


async def test_an_error_before_any_wait_is_raised_to_the_caller() -> None:
    async def work() -> None:
        raise KeyError("now")

    with pytest.raises(KeyError):
        eager.start(work())
