"""Group commit: concurrent writes of one kind share one transaction.

    posting = GroupCommit(post_messages)            # post_messages(db, items) -> one result each
    message, is_new = await posting.submit(sessionmaker, item)

Callers queue their item and wait. One flusher per database takes every item
waiting, runs `write(db, items)` in a fresh database session, and hands each
caller its own result (or raises the exception returned in its place). While
one batch is being written the next one gathers, so under load a transaction
carries many items and the per-transaction cost (BEGIN, COMMIT, SQLite's
write lock, PostgreSQL's round trips) is paid once per batch; alone, an item
waits for nothing.

Results are handed out in submission order, so callers resume in that order:
code that publishes right after `submit` returns publishes in commit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")
R = TypeVar("R")

#: `write(db, items)` returns, in order, each item's result or the exception its caller gets.
Write = Callable[[AsyncSession, Sequence[T]], Awaitable[Sequence[R | Exception]]]

MAX_BATCH = 256


class _Queue(Generic[T, R]):
    __slots__ = ("flusher", "waiting")

    def __init__(self) -> None:
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.flusher: asyncio.Task[None] | None = None


class GroupCommit(Generic[T, R]):
    """Batches `write` across concurrent callers, one batch at a time per database."""

    def __init__(self, write: Write[T, R], *, max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self._max_batch = max_batch
        self._queues: WeakKeyDictionary[async_sessionmaker[AsyncSession], _Queue[T, R]] = (
            WeakKeyDictionary()
        )

    async def submit(self, sessionmaker: async_sessionmaker[AsyncSession], item: T) -> R:
        """`item`'s result once the transaction holding it has committed."""
        queue = self._queues.get(sessionmaker)
        if queue is None:
            queue = self._queues[sessionmaker] = _Queue()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        queue.waiting.append((item, future))
        if queue.flusher is None:
            queue.flusher = loop.create_task(self._flush(sessionmaker, queue))
        return await future

    async def _flush(
        self, sessionmaker: async_sessionmaker[AsyncSession], queue: _Queue[T, R]
    ) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while queue.waiting:
                batch = queue.waiting[: self._max_batch]
                del queue.waiting[: self._max_batch]
                try:
                    async with sessionmaker() as db:
                        results = await self._write(db, [item for item, _ in batch])
                except Exception as exc:  # the whole transaction failed: every caller hears it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller went away; the write stands
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:  # cancelled (shutdown): nobody may wait forever
            for _, future in [*batch, *queue.waiting]:
                if not future.done():
                    future.cancel()
            queue.waiting.clear()
            queue.flusher = None
