"""GroupCommit: concurrent callers share one write, each gets its own result, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.batch import GroupCommit
from app.core.db import Database

TIMEOUT = 10


class Refused(Exception):
    pass


@pytest.fixture
async def sessionmaker(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}")
    try:
        yield database.sessionmaker
    finally:
        await database.dispose()


class Recorder:
    """A write that stores nothing: it records its batches and answers ten times each item."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail_batch: int | None = None

    async def __call__(self, db: AsyncSession, items: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        await db.execute(text("SELECT 1"))  # a real round trip: others queue meanwhile
        if self.fail_batch == len(self.batches):
            raise Refused("the whole transaction failed")
        return [Refused(f"no {item}") if item < 0 else item * 10 for item in items]


async def test_callers_arriving_during_a_write_share_the_next_one(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    write = Recorder()
    group = GroupCommit(write)
    results = await asyncio.wait_for(
        asyncio.gather(*(group.submit(sessionmaker, n) for n in range(1, 21))), TIMEOUT
    )
    assert results == [n * 10 for n in range(1, 21)]
    assert [n for batch in write.batches for n in batch] == list(range(1, 21))  # in order
    assert len(write.batches) < 20  # shared: 20 callers, fewer transactions
    assert max(len(batch) for batch in write.batches) > 1


async def test_a_caller_alone_waits_for_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    write = Recorder()
    group = GroupCommit(write)
    assert await asyncio.wait_for(group.submit(sessionmaker, 7), TIMEOUT) == 70
    assert await asyncio.wait_for(group.submit(sessionmaker, 8), TIMEOUT) == 80
    assert write.batches == [[7], [8]]


async def test_batches_are_bounded(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    write = Recorder()
    group = GroupCommit(write, max_batch=4)
    await asyncio.wait_for(
        asyncio.gather(*(group.submit(sessionmaker, n) for n in range(1, 15))), TIMEOUT
    )
    assert max(len(batch) for batch in write.batches) == 4
    assert [n for batch in write.batches for n in batch] == list(range(1, 15))


async def test_an_item_error_reaches_only_its_caller(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    group = GroupCommit(Recorder())
    results = await asyncio.wait_for(
        asyncio.gather(
            *(group.submit(sessionmaker, n) for n in (1, -2, 3)), return_exceptions=True
        ),
        TIMEOUT,
    )
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], Refused) and str(results[1]) == "no -2"


async def test_a_failed_transaction_fails_its_batch_and_the_next_one_runs(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    write = Recorder()
    write.fail_batch = 1
    group = GroupCommit(write)
    first = asyncio.ensure_future(group.submit(sessionmaker, 1))
    await asyncio.sleep(0)  # the first batch starts with this item alone
    rest = [asyncio.ensure_future(group.submit(sessionmaker, n)) for n in (2, 3)]
    with pytest.raises(Refused, match="whole transaction"):
        await asyncio.wait_for(first, TIMEOUT)
    assert await asyncio.wait_for(asyncio.gather(*rest), TIMEOUT) == [20, 30]
    assert write.batches == [[1], [2, 3]]


async def test_a_caller_that_goes_away_does_not_disturb_the_others(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    write = Recorder()
    group = GroupCommit(write)
    first = asyncio.ensure_future(group.submit(sessionmaker, 1))
    await asyncio.sleep(0)
    gone = asyncio.ensure_future(group.submit(sessionmaker, 2))
    staying = asyncio.ensure_future(group.submit(sessionmaker, 3))
    await asyncio.sleep(0)
    gone.cancel()
    assert await asyncio.wait_for(asyncio.gather(first, staying), TIMEOUT) == [10, 30]
    assert write.batches == [[1], [2, 3]]  # its write still happened; nobody got its result
    assert gone.cancelled()
