"""The socket loop under generated and mutated frames, with an honest client beside it.

Hypothesis runs in a worker thread and hands each frame to the event loop that
serves the app, so the server, the fuzzed connection and the honest one all
keep running between examples. After every fuzzed frame the fuzzer sends a
sentinel `ping`: everything before the sentinel's reply is the fuzzed frame's
answer (and events), and the sentinel's reply proves the connection survived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from app.core.config import Settings
from app.realtime.registry import Registry
from tests.client import SocketClient
from tests.conftest import Account, RunningServer, create_account, make_settings, run_server
from tests.hardening import fuzz
from tests.hardening.conftest import CONCURRENT_RANDOM, HARDENING, examples

pytestmark = [pytest.mark.slow, CONCURRENT_RANDOM]

SENTINEL = f"sentinel-{uuid.uuid4().hex}"
ANSWER_TIMEOUT = 10.0
UNAUTHORIZED = {
    "state": "error",
    "error": "Could not validate credentials.",
    "code": "unauthorized",
    "request": None,
}


@dataclass
class World:
    server: RunningServer
    registry: Registry
    postgres: bool
    fuzzer: Account
    honest: Account
    client: SocketClient  # the fuzzed connection; replaced after a fatal frame
    rooms: dict[str, int]
    corpus: list[str]
    reconnects: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # frames sent, by how they were made
    outcomes: Counter[str] = field(default_factory=Counter)  # answers, by code

    @property
    def limit(self) -> int:
        return self.server.settings.SOCKET_MAX_MESSAGE_BYTES

    @property
    def ids(self) -> list[int]:
        return [*self.rooms.values(), 0, -1, 10**6]

    @property
    def events(self) -> set[str]:
        """Event names that are not also state names: frames of these are never answers."""
        return set(self.registry.events) - {state.name for state in self.registry}

    async def reconnect(self) -> None:
        self.client = await SocketClient.connect(self.server.socket_url, self.fuzzer.token)
        self.server.clients.append(self.client)
        self.reconnects += 1


@pytest.fixture(scope="module")
async def world(settings: Settings) -> AsyncIterator[World]:
    """A server with the rate limit out of the way, three users and their rooms."""
    fuzz_settings = make_settings(
        settings.DATA_DIR,
        settings.DATABASE_URL,
        SOCKET_RATE_LIMIT=1_000_000,
        SOCKET_RATE_BURST=1_000_000,
    )
    async with run_server(fuzz_settings) as srv:
        async with httpx.AsyncClient(base_url=srv.url) as http:
            fuzzer, honest, owner = [
                await create_account(http, name) for name in ("Fuzzer", "Honest", "Owner")
            ]
        tag = uuid.uuid4().hex[:6]
        rooms = {}
        for who, key in ((owner, "owner"), (honest, "honest"), (fuzzer, "fuzzer")):
            client = await srv.connect(who.token)
            reply = await client.request("createRoom", {"name": f"fuzz-{key}-{tag}"})
            rooms[key] = reply["room"]["id"]
        room = rooms["fuzzer"]
        corpus = [
            json.dumps(frame)
            for frame in (
                {"state": "ping", "id": 1},
                {"state": "listRooms", "id": "l", "data": {}},
                {"state": "joinRoom", "id": 2, "data": {"room": room, "since": 0}},
                {"state": "sendMessage", "id": 3, "data": {"room": room, "text": "hi"}},
                {"state": "history", "id": 4, "data": {"room": room, "before": 2, "limit": 5}},
                {"state": "markRead", "id": 5, "data": {"room": room, "seq": 1}},
                {"state": "typing", "data": {"room": room}},
                {"state": "createRoom", "id": 6, "data": {"name": "n", "topic": "t"}},
            )
        ]
        client = await srv.connect(fuzzer.token)
        yield World(
            srv,
            srv.app.state.registry,
            not settings.is_sqlite,
            fuzzer,
            honest,
            client,
            rooms,
            corpus,
        )


class Honest:
    """A well-behaved user on the same server: ping, post, read back, over and over.

    Every reply is checked and timed; a wrong or late one (over `limit` seconds)
    is a failure, raised when the block ends.
    """

    def __init__(self, server: RunningServer, who: Account, room: int, limit: float = 3.0):
        self.server, self.who, self.room, self.limit = server, who, room, limit
        self.latencies: list[float] = []
        self.sent: list[str] = []
        self.failures: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        client = await self.server.connect(self.who.token)
        await client.request("joinRoom", {"room": self.room})
        last_seq = 0
        for n in itertools.count():
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                assert (await client.request("ping", timeout=self.limit))["time"]
                client_id = f"honest-{n}"
                message = (
                    await client.request(
                        "sendMessage",
                        {"room": self.room, "text": f"honest {n}", "client_id": client_id},
                        timeout=self.limit,
                    )
                )["message"]
                assert message["text"] == f"honest {n}" and message["client_id"] == client_id
                assert message["user"]["id"] == self.who.id and message["seq"] > last_seq
                self.sent.append(client_id)
                last_seq = message["seq"]
                page = await client.request(
                    "history", {"room": self.room, "limit": 1}, timeout=self.limit
                )
                assert page["messages"][-1]["seq"] >= last_seq
                for frame in client.pending:  # events the fuzzer caused must be well-formed
                    assert frame["state"] != "error" and "id" not in frame, frame
                client.pending.clear()
            except (AssertionError, TimeoutError, ConnectionClosed) as exc:
                self.failures.append(f"round {n}: {type(exc).__name__} {exc}")
                return
            self.latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> Honest:
        self._task = asyncio.create_task(self._run(), name="honest")
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._stop.set()  # finish the round in progress: its message must be counted
        await asyncio.wait_for(self._task, 3 * self.limit + 1)
        assert not self.failures, self.failures
        assert self.sent, "the honest client never completed a round"

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "rounds": len(ordered),
            "requests": 3 * len(ordered),
            "round_p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "round_max_ms": round(ordered[-1] * 1000, 1),
        }


def run_in_thread(
    loop: asyncio.AbstractEventLoop, strategy: Any, check: Callable[[Any], Any], count: int
) -> Callable[[], None]:
    """A hypothesis run, for a worker thread, that checks each example on `loop`."""

    @settings(HARDENING, max_examples=count)
    @given(st.deferred(lambda: strategy))  # deferred: a short repr in failure reports
    def run(example: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(example), loop).result(timeout=120)

    return run


async def answer_of(w: World, item: fuzz.Fuzz, n: int) -> tuple[list[dict[str, Any]], int | None]:
    """Send the frame and a sentinel; the frames before the sentinel's reply, and the
    close code if the connection closed instead."""
    sentinel = f"{SENTINEL}-{n}"
    client = w.client
    await client.send(item.raw)
    with contextlib.suppress(ConnectionClosed):
        await client.send({"state": "ping", "id": sentinel})
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                frame = json.loads(await client.ws.recv())
                if frame.get("id") == sentinel:
                    assert frame["state"] == "ping" and frame["data"]["time"], frame
                    return frames, None
                frames.append(frame)
    except ConnectionClosed as exc:
        return frames, exc.rcvd.code if exc.rcvd else None


async def check_frame(w: World, item: fuzz.Fuzz) -> None:
    n = w.kinds.total()
    w.kinds[item.kind] += 1
    expected = fuzz.expect(item.raw, w.registry, w.limit)
    received, closed = await answer_of(w, item, n)
    if expected.close is not None:
        assert closed == expected.close and not received, (item, received, closed)
        w.outcomes[f"closed {closed}"] += 1
        await w.reconnect()
        return
    answers = [f for f in received if not ("id" not in f and f.get("state") in w.events)]
    assert len(answers) == 1, (item, received)
    answer = answers[0]
    w.outcomes[answer["code"] if answer["state"] == "error" else "reply"] += 1
    if expected.id is None:
        assert "id" not in answer, (item, answer)
    else:
        assert answer.get("id") == expected.id, (item, answer)
    fatal: int | None = None
    if answer["state"] == "error":
        fuzz.check_error_shape(answer)
        assert answer["request"] == expected.request, (item, answer)
        code = answer["code"]
        if expected.code is not None:
            assert code == expected.code, (item, answer)
            if code == "invalid_data":
                assert answer.get("details"), answer
        elif code == "internal_error":
            bug = fuzz.known_bug(expected.data, w.postgres)
            assert bug is not None, (item, answer)  # a handler crashed on input: a new bug
            w.outcomes[f"internal_error: {bug}"] += 1
        elif expected.state == "reauth" and code == "unauthorized":
            fatal = 1008
        else:
            assert code in fuzz.HANDLER_CODES, (item, answer)
    else:
        assert expected.code is None, (item, answer)
        assert answer["state"] == expected.state and isinstance(answer["data"], dict), answer
        assert set(answer) <= {"state", "data", "id"}, answer
        if expected.state == "close":
            fatal = 1000
    assert closed == fatal, (item, received, closed)
    if fatal is not None:
        w.outcomes[f"closed {fatal}"] += 1
        await w.reconnect()


async def test_fuzzed_frames_never_break_the_socket(world: World, figures: dict[str, Any]) -> None:
    w = world
    strategy = fuzz.frames(
        w.registry, w.ids, w.corpus, w.limit, secrets=[w.fuzzer.token, w.honest.token]
    )
    count = examples(1000)
    started = time.monotonic()
    async with Honest(w.server, w.honest, w.rooms["honest"]) as honest:
        run = run_in_thread(
            asyncio.get_running_loop(), strategy, lambda f: check_frame(w, f), count
        )
        await asyncio.to_thread(run)
    # nothing the honest client posted went missing meanwhile
    reader = await w.server.connect(w.honest.token)
    stored: list[str] = []
    since = 0
    while True:
        page = await reader.request("joinRoom", {"room": w.rooms["honest"], "since": since})
        stored += [m["client_id"] for m in page["messages"] if m["user"]["id"] == w.honest.id]
        since = page["last_seq"] if not page["has_more"] else page["messages"][-1]["seq"]
        if not page["has_more"]:
            break
    assert stored == honest.sent
    figures.update(
        {
            "frames_fuzzed": w.kinds.total(),
            "by_kind": dict(sorted(w.kinds.items())),
            "answers": dict(sorted(w.outcomes.items())),
            "reconnects_after_fatal_frames": w.reconnects,
            "honest_client": honest.summary() | {"messages_posted_and_found": len(stored)},
            "seconds": round(time.monotonic() - started, 1),
        }
    )


def token_variants(good: str, other: str, refresh: str) -> st.SearchStrategy[Any]:
    """First-message tokens that must all be refused (none keeps a valid signature)."""
    header, payload, signature = good.split(".")
    interior = [(0, i) for i in range(len(header) - 1)] + [(1, i) for i in range(len(payload) - 1)]

    def flip(where: tuple[int, int], char: str) -> str:
        parts = [header, payload, signature]
        part, index = where
        text = parts[part]
        replacement = char if text[index] != char else ("B" if char != "B" else "C")
        parts[part] = text[:index] + replacement + text[index + 1 :]
        return ".".join(parts)

    o_header, o_payload, o_signature = other.split(".")
    return st.one_of(
        st.tuples(st.sampled_from(interior), st.sampled_from("AQgw_-9z")).map(lambda t: flip(*t)),
        st.integers(1, len(good) - 1).map(lambda n: good[:n]),
        st.sampled_from(
            [
                f"{header}.{o_payload}.{signature}",  # someone else's claims, my signature
                f"{o_header}.{payload}.{o_signature}",
                f"{header}.{payload}.",
                f"{header}.{payload}",
                good + ".",
                good + "." + signature,
                refresh,
                good * 2,
                "Bearer " + good,
                good.upper(),
            ]
        ),
        fuzz.json_values(4),
    )


async def test_fuzzed_first_frames_never_authenticate(
    world: World, figures: dict[str, Any]
) -> None:
    w = world
    url = w.server.socket_url
    tried: Counter[str] = Counter()
    strategy = st.one_of(
        fuzz.frames(w.registry, w.ids, w.corpus, w.limit, secrets=[]),
        token_variants(w.fuzzer.token, w.honest.token, w.fuzzer.refresh_token).flatmap(
            lambda token: st.sampled_from(["token", "Token", "access_token"]).map(
                lambda key: fuzz.Fuzz(json.dumps({key: token}), "token")
            )
        ),
    )

    async def check(item: fuzz.Fuzz) -> None:
        tried[item.kind] += 1
        client = await SocketClient.connect(url)
        try:
            await client.send(item.raw)
            assert await client.recv(timeout=ANSWER_TIMEOUT) == UNAUTHORIZED, item
            assert await client.closed(timeout=ANSWER_TIMEOUT) == 1008, item
            assert not client.pending, (item, client.pending)  # never an `initialised`
        finally:
            await client.close()

    run = run_in_thread(asyncio.get_running_loop(), strategy, check, examples(200))
    await asyncio.to_thread(run)
    figures.update(
        {"first_frames_fuzzed": sum(tried.values()), "by_kind": dict(sorted(tried.items()))}
    )
