"""Run a coroutine now, in the caller's step; a task only for what has to wait.

`start(coro)` runs `coro` until it first really waits. Most sends on a socket
never do (the transport takes the bytes at once), so delivering an event to a
thousand sockets costs a thousand plain calls, not a thousand tasks, each
with its own trip through the event loop and its garbage. A send that does
wait (the peer reads slowly and the transport has paused writing) goes on in
a task, exactly where it stopped.

Python 3.12's `asyncio.eager_task_factory` does the same for every task of a
loop; this is the one call site that needs it, and it creates no Task at all
when nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def start(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T] | None:
    """Run `coro` up to its first wait; None if it finished, else the task finishing it.

    An exception raised before the first wait is raised here, to the caller.
    """
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_rest(coro, waiting_on))


async def _rest(coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    return await _Resume(coro, waiting_on)


class _Resume(Generic[T]):
    """Awaitable for a coroutine already started: hands what it waits on to the task, and back."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, T], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, T]:
        coro, waiting_on = self._coro, self._waiting_on
        try:
            while True:
                try:
                    answer = yield waiting_on  # the task waits on it, as if `coro` had yielded it
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:  # thrown in by the task: a cancellation, mostly
                    waiting_on = coro.throw(exc)
                else:
                    waiting_on = coro.send(answer)
        except StopIteration as stop:
            value: T = stop.value
            return value
