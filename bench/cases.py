"""The benchmark cases. Each runs against one freshly started server and returns its records.

    ping     round trips: 1 connection x 2,000 and 50 x 200, each connection closed-loop;
             messages/s, round-trip p50/p99, server CPU per message
    send     chat messages from 50 connections into 5 rooms (10 members each), closed-loop;
             messages/s, server CPU per message, every delivery checked: nothing lost,
             duplicated or reordered, and (app) each room's seq exactly 1..N
    fanout   one sender, a room of 100 or 1,000 members, 50 messages one after another;
             time until the last member has each message (p50/p99 over the messages),
             server CPU per delivery
    idle     1,000 then 10,000 handshaken sockets held open; server memory per socket,
             and every socket answers a round trip at the end
    redis    `fanout` to 1,000 members on a server of two workers behind Redis
    soak     the app under moderate load (100 sockets, 10 rooms, 1 message/s each) for
             minutes; memory growth after warm-up, errors of any kind

Server CPU time is read from /proc around the measured window only (setup,
warm-up and teardown excluded); client CPU is the load generator's own, so a
client-bound run shows as client CPU near 100 %.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import random
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import procfs
from bench.clients import AppConnection, Connection, RequestFailed
from bench.servers import Server

Metrics = dict[str, float]

#: Checks that describe order, not loss: reported and judged against the targets, but they do
#: not count as errors (the protocol does not promise events in `seq` order; the issue's target
#: asks for it).
ORDER_CHECKS = frozenset({"reordered"})
OPEN_CONCURRENCY = 100


@dataclass(frozen=True)
class Sizes:
    """How big each case is; `FULL` for `make bench`, `QUICK` for the CI smoke run."""

    ping: tuple[tuple[int, int], ...]
    send_connections: int
    send_rooms: int
    send_per_connection: int
    fanout_members: tuple[int, ...]
    fanout_messages: int
    idle: tuple[int, ...]
    redis_members: int
    redis_messages: int
    soak_seconds: float
    soak_connections: int
    soak_rooms: int
    soak_interval: float  # seconds between one socket's messages
    soak_sample_every: float
    repeats: dict[str, int]
    users: int  # the app's users; sockets are spread over them
    settle_seconds: float  # quiet before reading a server's memory
    wait_for_quiet: bool  # wait for an idle machine before each run


FULL = Sizes(
    ping=((1, 2000), (50, 200)),
    send_connections=50,
    send_rooms=5,
    send_per_connection=40,
    fanout_members=(100, 1000),
    fanout_messages=50,
    idle=(1000, 10000),
    redis_members=1000,
    redis_messages=50,
    soak_seconds=600.0,
    soak_connections=100,
    soak_rooms=10,
    soak_interval=1.0,
    soak_sample_every=5.0,
    repeats={"ping": 5, "send": 5, "fanout": 5, "idle": 3, "redis": 3, "soak": 1},
    users=20,
    settle_seconds=2.0,
    wait_for_quiet=True,
)

QUICK = Sizes(
    ping=((1, 100), (5, 20)),
    send_connections=10,
    send_rooms=2,
    send_per_connection=5,
    fanout_members=(20,),
    fanout_messages=5,
    idle=(50,),
    redis_members=20,
    redis_messages=5,
    soak_seconds=2.0,
    soak_connections=10,
    soak_rooms=2,
    soak_interval=0.5,
    soak_sample_every=0.5,
    repeats={"ping": 1, "send": 1, "fanout": 1, "idle": 1, "redis": 1, "soak": 1},
    users=3,
    settle_seconds=0.3,
    wait_for_quiet=False,
)


@dataclass
class Record:
    """One variant of a case on one server: its figures and its correctness checks."""

    variant: str
    metrics: Metrics
    checks: dict[str, int] = field(default_factory=dict)


# measuring


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Window:
    """Wall time, server CPU and client CPU between `start()` and `stop()`."""

    def __init__(self, server: Server, *, pause_gc: bool = True) -> None:
        self.server = server
        self.pause_gc = pause_gc
        self.wall = self.server_cpu = self.client_cpu = self.other_cpu = self.services_cpu = 0.0

    def start(self) -> Window:
        # The load generator's own garbage collector, off while measuring (as `timeit` does): a
        # full collection walks every object the client holds (1,000 connections: 50-120 ms),
        # and one landing in a fan-out window became that run's p99. Windows are bounded and
        # the garbage is collected at `stop`; the 10-minute soak keeps the collector on.
        if self.pause_gc:
            gc.collect()
            gc.disable()
        self._cpu = self.server.cpu()
        self._client = _client_cpu()
        self._system = procfs.system_busy_seconds()
        self._services = procfs.service_pids()
        self._services_cpu = procfs.ticks_seconds(self._services)
        self._t0 = time.perf_counter()
        return self

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def stop(self) -> Window:
        self.wall = time.perf_counter() - self._t0
        if self.pause_gc:
            gc.enable()
        self.client_cpu = _client_cpu() - self._client
        self.server_cpu = procfs.cpu_seconds(self._cpu, self.server.cpu())
        system = procfs.system_busy_seconds() - self._system
        services = sorted(set(self._services) | set(procfs.service_pids()))
        self.services_cpu = max(0.0, procfs.ticks_seconds(services) - self._services_cpu)
        self.other_cpu = max(0.0, system - self.server_cpu - self.client_cpu - self.services_cpu)
        return self

    def metrics(self) -> Metrics:
        return {
            "wall_s": self.wall,
            "server_cpu_s": self.server_cpu,
            "server_cpu_util": self.server_cpu / self.wall if self.wall else 0.0,
            "client_cpu_util": self.client_cpu / self.wall if self.wall else 0.0,
            # PostgreSQL and Redis (in cores), part of the system under test where used.
            "services_cpu_util": self.services_cpu / self.wall if self.wall else 0.0,
            # Everything else the machine ran meanwhile (in cores): interference, if not ~0.
            "other_cpu_util": self.other_cpu / self.wall if self.wall else 0.0,
        }


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0 to 100), nearest-rank on the sorted values; 0 when empty."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# connections


async def _bounded(jobs: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def open_many(
    server: Server, count: int, *, start: int = 0, room: int | None = None
) -> list[Connection]:
    """`count` handshaken sockets, at most OPEN_CONCURRENCY handshakes at a time."""
    jobs = [lambda i=i: server.open(i, room) for i in range(start, start + count)]
    return await _bounded(jobs, OPEN_CONCURRENCY)


async def close_all(connections: Iterable[Connection]) -> None:
    await _bounded([c.close for c in connections], 500)


async def settle(connections: list[Connection], quiet: float = 0.3, limit: float = 15.0) -> None:
    """Wait until no frame has arrived for `quiet` seconds (setup events drained)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        seen = sum(c.frames for c in connections)
        if seen == last:
            return
        last = seen
        await asyncio.sleep(quiet)


async def make_rooms(server: Server, count: int) -> list[int]:
    """Room ids: created through `createRoom` on the app, unique numbers elsewhere."""
    if server.spec.kind != "app":
        return random.sample(range(1, 10**9), count)
    owner = await server.open(10**6)
    assert isinstance(owner, AppConnection)
    try:
        tag = uuid.uuid4().hex[:8]
        return [await owner.create_room(f"bench-{tag}-{i}") for i in range(count)]
    finally:
        await owner.close()


# deliveries


class Ledger:
    """Every message sent and every `message` event received, for the lost/dup/order checks.

    Client ids are `"<sender index>-<n>"`, n counting up per sender, so order is
    checked per (receiver, sender) on every server, and globally by `seq` on the app.
    """

    def __init__(self) -> None:
        self.members: dict[int, list[int]] = {}  # room -> connection indexes
        self.sent: dict[int, list[tuple[int, str, int]]] = {}  # room -> (sender, client id, seq)
        self.received: dict[int, list[tuple[int, str, int]]] = {}  # receiver -> (room, cid, seq)
        self.count = 0
        self._target = 0
        self._drained = asyncio.Event()

    def reset(self, connections: Iterable[Connection]) -> None:
        """Forget what was sent and received so far (setup and warm-up traffic)."""
        self.sent.clear()
        self.received = {c.index: [] for c in connections}
        self.count = 0

    def join(self, room: int, connection: Connection) -> None:
        self.members.setdefault(room, []).append(connection.index)
        self.received.setdefault(connection.index, [])
        connection.on_message = self.on_message

    def on_message(self, connection: Connection, data: dict[str, Any], arrived: float) -> None:
        self.received[connection.index].append(
            (int(data["room"]), str(data["client_id"]), int(data.get("seq") or 0))
        )
        self.count += 1
        if self.count >= self._target:
            self._drained.set()

    def sent_one(self, room: int, sender: int, client_id: str, seq: int) -> None:
        self.sent.setdefault(room, []).append((sender, client_id, seq))

    @property
    def expected(self) -> int:
        total = 0
        for room, messages in self.sent.items():
            members = self.members.get(room, [])
            total += sum(len(members) - (sender in members) for sender, _, _ in messages)
        return total

    async def drained(self, limit: float) -> None:
        """Wait (at most `limit` seconds) until every expected delivery has arrived."""
        self._target = self.expected
        if self.count >= self._target:
            return
        self._drained.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), limit)

    def checks(self, *, with_seq: bool) -> dict[str, int]:
        lost = duplicated = reordered = seq_errors = 0
        for room, messages in self.sent.items():
            for receiver in self.members.get(room, []):
                expected = {cid for sender, cid, _ in messages if sender != receiver}
                got = [(cid, seq) for r, cid, seq in self.received[receiver] if r == room]
                ids = [cid for cid, _ in got]
                duplicated += len(ids) - len(set(ids))
                lost += len(expected - set(ids))
                reordered += _out_of_order(got, with_seq)
            if with_seq:
                seqs = sorted(seq for _, _, seq in messages)
                seq_errors += len(set(range(1, len(seqs) + 1)) ^ set(seqs))
                seq_errors += len(seqs) - len(set(seqs))
        found = {"lost": lost, "duplicated": duplicated, "reordered": reordered}
        if with_seq:
            found["seq_errors"] = seq_errors
        return found


def _out_of_order(got: list[tuple[str, int]], with_seq: bool) -> int:
    wrong = 0
    if with_seq:
        seqs = [seq for _, seq in got]
        return sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
    last: dict[str, int] = {}
    for cid, _ in got:
        sender, n = cid.rsplit("-", 1)
        if int(n) <= last.get(sender, -1):
            wrong += 1
        last[sender] = int(n)
    return wrong


def _socket_checks(connections: Iterable[Connection], failures: int = 0) -> dict[str, int]:
    connections = list(connections)
    return {
        "failed_requests": failures,
        "error_frames": sum(c.error_frames for c in connections),
        "disconnected": sum(c.lost for c in connections),
    }


# 1. ping


async def _echo_loop(connection: Connection, n: int, rtts: list[float] | None) -> int:
    """`n` closed-loop round trips; their times go to `rtts`; the number that failed."""
    failures = 0
    for _ in range(n):
        sent = time.perf_counter()
        try:
            await connection.echo()
        except (RequestFailed, TimeoutError):
            failures += 1
            continue
        if rtts is not None:
            rtts.append(time.perf_counter() - sent)
    return failures


async def ping(server: Server, sizes: Sizes) -> list[Record]:
    records = []
    for count, per_connection in sizes.ping:
        connections = await open_many(server, count)
        rtts: list[float] = []
        try:
            warm = max(10, per_connection // 10)
            await asyncio.gather(*(_echo_loop(c, warm, None) for c in connections))
            window = Window(server).start()
            failed = await asyncio.gather(
                *(_echo_loop(c, per_connection, rtts) for c in connections)
            )
            window.stop()
        finally:
            await close_all(connections)
        total = count * per_connection
        records.append(
            Record(
                f"{count}x{per_connection}",
                window.metrics()
                | {
                    "messages": total,
                    "msgs_per_s": len(rtts) / window.wall,
                    "rtt_p50_us": percentile(rtts, 50) * 1e6,
                    "rtt_p99_us": percentile(rtts, 99) * 1e6,
                    "cpu_us_per_msg": window.server_cpu / total * 1e6,
                },
                {"lost": total - len(rtts)} | _socket_checks(connections, sum(failed)),
            )
        )
    return records


# 2. send


async def send(server: Server, sizes: Sizes) -> list[Record]:
    n, per = sizes.send_connections, sizes.send_per_connection
    rooms = await make_rooms(server, sizes.send_rooms)
    ledger = Ledger()
    connections: list[Connection] = []
    try:
        for i in range(n):  # connection i is in room i % rooms
            connections.append(await server.open(i, rooms[i % len(rooms)]))
        await _bounded([lambda c=c: c.join(rooms[c.index % len(rooms)]) for c in connections], 50)
        for c in connections:
            ledger.join(rooms[c.index % len(rooms)], c)
        await settle(connections)
        ledger.reset(connections)
        rtts: list[float] = []
        failures = 0

        async def loop(connection: Connection) -> None:
            nonlocal failures
            room = rooms[connection.index % len(rooms)]
            for k in range(per):
                client_id = f"{connection.index}-{k}"
                sent = time.perf_counter()
                try:
                    message = await connection.say(
                        room, f"message {k} from {connection.index}", client_id
                    )
                except (RequestFailed, TimeoutError):
                    failures += 1
                    continue
                rtts.append(time.perf_counter() - sent)
                ledger.sent_one(room, connection.index, client_id, int(message.get("seq") or 0))

        window = Window(server).start()
        await asyncio.gather(*(loop(c) for c in connections))
        replied = window.elapsed()
        await ledger.drained(30.0)
        window.stop()
    finally:
        await close_all(connections)
    total = n * per
    return [
        Record(
            f"{n}c-{len(rooms)}r",
            window.metrics()
            | {
                "messages": total,
                "deliveries": ledger.count,
                "msgs_per_s": len(rtts) / replied,
                "rtt_p50_ms": percentile(rtts, 50) * 1e3,
                "rtt_p99_ms": percentile(rtts, 99) * 1e3,
                "cpu_us_per_msg": window.server_cpu / total * 1e6,
            },
            ledger.checks(with_seq=server.spec.kind == "app")
            | {"unreplied": total - len(rtts)}
            | _socket_checks(connections, failures),
        )
    ]


# 3. fan-out (and 5. the same across two workers behind Redis)


async def fanout_one(server: Server, members_count: int, messages: int, warm: int = 3) -> Record:
    room = (await make_rooms(server, 1))[0]
    ledger = Ledger()
    arrivals: dict[int, list[float]] = {}
    complete: dict[int, asyncio.Event] = {}

    def on_message(connection: Connection, data: dict[str, Any], arrived: float) -> None:
        ledger.on_message(connection, data, arrived)
        k = int(str(data["client_id"]).rsplit("-", 1)[1])
        times = arrivals.setdefault(k, [])
        times.append(arrived)
        if len(times) >= members_count and k in complete:
            complete[k].set()

    members: list[Connection] = []
    sender: Connection | None = None
    try:
        members = await open_many(server, members_count, start=1, room=room)
        await _bounded([lambda c=c: c.join(room) for c in members], 50)
        for c in members:
            ledger.join(room, c)
            c.on_message = on_message
        sender = await server.open(0, room)
        await sender.join(room)
        await settle([*members, sender])
        # How the kernel spread the sockets over the workers (their other sockets included).
        spread = {
            f"worker{i}_sockets": float(procfs.open_sockets(pid))
            for i, pid in enumerate(sorted(server.worker_pids()))
            if server.spec.workers > 1
        }

        latency_last: list[float] = []
        latency_all: list[float] = []
        failures = 0
        window = Window(server)
        for k in range(warm + messages):
            if k == warm:
                ledger.reset(members)
                window.start()
            complete[k] = asyncio.Event()
            sent = time.perf_counter()
            try:
                message = await sender.say(room, f"fan-out message {k}", f"0-{k}")
                await asyncio.wait_for(complete[k].wait(), 30.0)
            except (RequestFailed, TimeoutError):
                failures += 1
                continue
            if k >= warm:
                ledger.sent_one(room, 0, f"0-{k}", int(message.get("seq") or 0))
                times = arrivals[k]
                latency_last.append(max(times) - sent)
                latency_all.extend(t - sent for t in times)
        await ledger.drained(10.0)
        window.stop()
    finally:
        await close_all([*members, *([sender] if sender else [])])
    deliveries = ledger.count
    checks = ledger.checks(with_seq=False)  # seq is checked by `send`; here one sender
    return Record(
        f"{members_count}",
        window.metrics()
        | {
            "messages": messages,
            "deliveries": deliveries,
            "last_p50_ms": percentile(latency_last, 50) * 1e3,
            "last_p99_ms": percentile(latency_last, 99) * 1e3,
            "member_p50_ms": percentile(latency_all, 50) * 1e3,
            "deliveries_per_s": deliveries / window.wall,
            "cpu_us_per_delivery": window.server_cpu / max(deliveries, 1) * 1e6,
        }
        | spread,
        checks | _socket_checks([*members, *([sender] if sender else [])], failures),
    )


async def fanout(server: Server, sizes: Sizes) -> list[Record]:
    return [await fanout_one(server, n, sizes.fanout_messages) for n in sizes.fanout_members]


async def redis(server: Server, sizes: Sizes) -> list[Record]:
    return [await fanout_one(server, sizes.redis_members, sizes.redis_messages)]


# 4. idle


async def idle(server: Server, sizes: Sizes) -> list[Record]:
    records = []
    warm = await open_many(server, 20)
    await asyncio.gather(*(c.echo() for c in warm))
    await close_all(warm)
    await asyncio.sleep(sizes.settle_seconds)
    rss0 = server.rss_kib()
    held: list[Connection] = []
    try:
        for target in sizes.idle:
            window = Window(server).start()
            added = await open_many(server, target - len(held), start=len(held))
            window.stop()
            held += added
            await asyncio.sleep(sizes.settle_seconds)  # quiet before reading its memory
            rss = server.rss_kib()
            answers = await _bounded([lambda c=c: _answers(c) for c in held], 500)
            answered = sum(answers)
            records.append(
                Record(
                    f"{target}",
                    {
                        "held": answered,
                        "rss_kib": rss,
                        "rss_before_kib": rss0,
                        "kib_per_socket": (rss - rss0) / target,
                        "opened_per_s": len(added) / window.wall,
                        "cpu_us_per_open": window.server_cpu / len(added) * 1e6,
                    },
                    {"not_answering": target - answered} | _socket_checks(held),
                )
            )
    finally:
        await close_all(held)
    return records


async def _answers(connection: Connection) -> bool:
    try:
        await connection.echo()
    except (RequestFailed, TimeoutError):
        return False
    return True


# 6. soak


async def soak(server: Server, sizes: Sizes) -> list[Record]:
    rooms = await make_rooms(server, sizes.soak_rooms)
    ledger = Ledger()
    connections: list[Connection] = []
    samples: list[tuple[float, int]] = []
    failures = 0
    sent = 0
    try:
        for i in range(sizes.soak_connections):
            connections.append(await server.open(i, rooms[i % len(rooms)]))
        await _bounded([lambda c=c: c.join(rooms[c.index % len(rooms)]) for c in connections], 50)
        for c in connections:
            ledger.join(rooms[c.index % len(rooms)], c)
        await settle(connections)
        ledger.reset(connections)
        started = time.monotonic()
        end = started + sizes.soak_seconds

        async def loop(connection: Connection) -> None:
            nonlocal failures, sent
            room = rooms[connection.index % len(rooms)]
            await asyncio.sleep(random.uniform(0, sizes.soak_interval))  # noqa: S311  (jitter)
            k = 0
            next_at = time.monotonic()
            while time.monotonic() < end:
                client_id = f"{connection.index}-{k}"
                try:
                    message = await connection.say(room, f"soak {k}", client_id)
                    ledger.sent_one(room, connection.index, client_id, int(message["seq"]))
                    sent += 1
                    if k % 5 == 0:
                        await connection.echo()
                except (RequestFailed, TimeoutError):
                    failures += 1
                k += 1
                next_at += sizes.soak_interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        async def sampler() -> None:
            while time.monotonic() < end:
                samples.append((time.monotonic() - started, server.rss_kib()))
                await asyncio.sleep(sizes.soak_sample_every)

        window = Window(server, pause_gc=False).start()
        await asyncio.gather(sampler(), *(loop(c) for c in connections))
        await ledger.drained(30.0)
        window.stop()
        samples.append((time.monotonic() - started, server.rss_kib()))
    finally:
        await close_all(connections)
    warm_until = sizes.soak_seconds * 0.2
    after = [rss for t, rss in samples if t >= warm_until] or [samples[-1][1]]
    head = statistics.median(after[:3])
    tail = statistics.median(after[-3:])
    checks = ledger.checks(with_seq=True) | _socket_checks(connections, failures)
    return [
        Record(
            f"{sizes.soak_seconds:.0f}s",
            window.metrics()
            | {
                "messages": sent,
                "deliveries": ledger.count,
                "rss_start_kib": float(samples[0][1]),
                "rss_warm_kib": head,
                "rss_end_kib": tail,
                "rss_peak_kib": float(max(rss for _, rss in samples)),
                "growth_pct": (tail - head) / head * 100 if head else 0.0,
                "cpu_us_per_msg": window.server_cpu / max(sent, 1) * 1e6,
                "errors": float(sum(n for k, n in checks.items() if k not in ORDER_CHECKS)),
            },
            checks,
        )
    ]


CASES: dict[str, Callable[[Server, Sizes], Awaitable[list[Record]]]] = {
    "ping": ping,
    "send": send,
    "fanout": fanout,
    "idle": idle,
    "redis": redis,
    "soak": soak,
}
