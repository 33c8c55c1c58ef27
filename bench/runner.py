"""One benchmark invocation: prepare databases, run every case on every server, record.

For each case, each repeat starts every server afresh, one after another,
the order rotated between repeats (so no server always runs first, on a
cold page cache or a grown database). Each measured run is written to the
results file as soon as it ends, so an interrupted run keeps what it got.
A run that fails is recorded as a failure and the benchmark goes on.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import orjson

from bench import procfs, report
from bench.cases import CASES, FULL, ORDER_CHECKS, QUICK, Record, Sizes
from bench.servers import (
    BACKEND_DIR,
    BenchEnv,
    ServerSpec,
    drop,
    launch,
    now_utc,
    postgres_database,
    sqlite_database,
)

BASELINE = ServerSpec("baseline", "baseline")
PEER = ServerSpec("peer", "peer")
APP = ServerSpec("app", "app")
APP_PLAIN = ServerSpec("app-plain", "app", plain=True)
APP_PG = ServerSpec("app-pg", "app", database="postgres")
PEER_2W = ServerSpec("peer-2w", "peer", workers=2, redis=True)
APP_2W = ServerSpec("app-2w", "app", database="postgres", workers=2, redis=True)

#: A timed run during which other processes kept this much of a core busy is run again (twice
#: at most; the soak is kept as it is).
DISTURBED = 0.3

#: Seconds one measured run of a case may take before it is abandoned.
BUDGET = {"ping": 300, "send": 300, "fanout": 600, "idle": 900, "redis": 600}


@dataclass
class Options:
    cases: list[str]
    sizes: Sizes
    quick: bool
    out: Path
    database_url: str | None
    redis_url: str | None
    command: str
    backend: Path = BACKEND_DIR
    servers: list[str] | None = None  # only these server names (None: every one)
    profile_dir: Path | None = None


def servers_for(case: str, options: Options) -> tuple[list[ServerSpec], str | None]:
    """The servers a case runs on, or why it cannot run here."""
    specs, reason = _all_servers_for(case, options)
    if options.servers is not None:
        specs = [spec for spec in specs if spec.name in options.servers]
        reason = reason or f"none of {options.servers} runs this case"
    return specs, reason


def _all_servers_for(case: str, options: Options) -> tuple[list[ServerSpec], str | None]:
    if case == "soak":
        return [APP], None
    if case == "send":
        return [BASELINE, PEER, APP, *([APP_PG] if options.database_url else [])], None
    if case == "redis":
        if not (options.database_url and options.redis_url):
            return [], "needs PostgreSQL and Redis (--database-url, --redis-url)"
        return [BASELINE, PEER_2W, APP_2W], None
    if case in ("ping", "idle"):
        return [BASELINE, PEER, APP, APP_PLAIN], None
    return [BASELINE, PEER, APP], None


def _split_cpus() -> tuple[set[int], set[int], str]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return set(cpus), set(cpus), "none (one core available)"
    client, servers = {cpus[0]}, set(cpus[1:])
    os.sched_setaffinity(0, client)
    return client, servers, f"load generator on core {cpus[0]}, servers on core(s) {cpus[1:]}"


def _raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _write(stream: IO[bytes], entry: dict[str, Any]) -> None:
    stream.write(orjson.dumps(entry) + b"\n")
    stream.flush()


def _summary(record: Record) -> str:
    shown = []
    for key in (
        "msgs_per_s",
        "cpu_us_per_msg",
        "last_p99_ms",
        "cpu_us_per_delivery",
        "kib_per_socket",
        "held",
        "growth_pct",
        "errors",
    ):
        if key in record.metrics:
            shown.append(f"{key}={record.metrics[key]:,.2f}")
    bad = {k: v for k, v in record.checks.items() if v}
    return " ".join(shown) + (f" CHECKS {bad}" if bad else "")


@contextmanager
def _workdir() -> Iterator[Path]:
    """A temporary directory for the SQLite file, the app's DATA_DIR and the server logs."""
    path = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _revision(backend: Path) -> str:
    """The commit the app was measured at, `+changes` when backend/app differs from it."""

    async def git(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=backend,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        output, _ = await process.communicate()
        return output.decode().strip() if process.returncode == 0 else ""

    commit = await git("rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    changed = await git("--no-optional-locks", "status", "--porcelain", "--", "app")
    return commit + (" +uncommitted changes in backend/app" if changed else "")


async def _services(env: BenchEnv) -> str:
    found = []
    if env.postgres is not None:
        import asyncpg

        connection = await asyncpg.connect(env.postgres.dropped_by)
        try:
            found.append(f"PostgreSQL {await connection.fetchval('SHOW server_version')}")
        finally:
            await connection.close()
    if env.redis_url:
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(env.redis_url)
        try:
            found.append(f"Redis {(await client.info('server'))['redis_version']}")
        finally:
            await client.aclose()
    found.append("SQLite (WAL, file in a temporary directory)")
    return ", ".join(found) + " — all on loopback, not pinned"


async def run(options: Options) -> int:
    """Run the benchmark; the number of failed runs and failed checks (0 is success)."""
    nofile = _raise_open_files()
    client_cpus, server_cpus, pinning = _split_cpus()
    started = time.time()
    problems = 0
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with _workdir() as workdir:
        needs_postgres = bool(options.database_url) and any(
            c in options.cases for c in ("send", "redis")
        )
        backend = options.backend
        env = BenchEnv(
            workdir=workdir,
            secret_key=os.urandom(32).hex(),
            sqlite=await sqlite_database(workdir, backend),
            postgres=await postgres_database(options.database_url, workdir, backend)
            if needs_postgres and options.database_url
            else None,
            redis_url=options.redis_url,
            client_cpus=client_cpus,
            server_cpus=server_cpus,
            backend_dir=backend,
            users=options.sizes.users,
            profile_dir=options.profile_dir,
        )
        try:
            with options.out.open("wb") as stream:
                _write(
                    stream,
                    {
                        "type": "meta",
                        "started": now_utc(),
                        "command": options.command,
                        "quick": options.quick,
                        "cases": options.cases,
                        "sizes": _sizes_text(options.sizes),
                        "pinning": pinning,
                        "backend": str(options.backend),
                        "revision": await _revision(options.backend),
                        "services": await _services(env),
                        "machine": report.machine() | {"nofile": nofile},
                    },
                )
                for case in options.cases:
                    problems += await _run_case(case, options, env, stream)
                _write(stream, {"type": "end", "duration_s": time.time() - started})
        finally:
            if env.postgres is not None:
                await drop(env.postgres)
            if problems:
                kept = Path(tempfile.mkdtemp(prefix="bench-logs-"))
                shutil.copytree(workdir / "logs", kept / "logs", dirs_exist_ok=True)
                print(f"server logs kept in {kept}", file=sys.stderr)
    return problems


def _sizes_text(sizes: Sizes) -> str:
    values = asdict(sizes)
    values.pop("repeats")
    return "quick" if sizes == QUICK else ("full" if sizes == FULL else str(values))


async def _run_case(case: str, options: Options, env: BenchEnv, stream: IO[bytes]) -> int:
    specs, reason = servers_for(case, options)
    if not specs:
        print(f"[{case}] skipped: {reason}", file=sys.stderr)
        _write(stream, {"type": "skipped", "case": case, "reason": reason})
        return 0
    repeats = options.sizes.repeats[case]
    problems = 0
    for repeat in range(repeats):
        shift = repeat % len(specs)
        for spec in specs[shift:] + specs[:shift]:
            label = f"[{case}] {spec.name} {repeat + 1}/{repeats}"
            for attempt in range(3):
                records = await _measure(case, spec, options, env, stream, label, repeat)
                if records is None:
                    problems += 1
                    break
                disturbed = max(r.metrics.get("other_cpu_util", 0.0) for r in records)
                # The soak judges memory and errors, which interference does not change.
                settled = case == "soak" or not options.sizes.wait_for_quiet or attempt == 2
                if disturbed < DISTURBED or settled:
                    break
                print(
                    f"{label} disturbed ({disturbed:.0%} of a core elsewhere): again",
                    file=sys.stderr,
                )
                for record in records:
                    _write(stream, _entry("disturbed", case, spec, repeat, record))
            for record in records or []:
                problems += sum(1 for k, v in record.checks.items() if v and k not in ORDER_CHECKS)
                print(f"{label} {record.variant}: {_summary(record)}", file=sys.stderr)
                _write(stream, _entry("result", case, spec, repeat, record))
    return problems


async def _measure(
    case: str,
    spec: ServerSpec,
    options: Options,
    env: BenchEnv,
    stream: IO[bytes],
    label: str,
    repeat: int,
) -> list[Record] | None:
    """One measured run on a fresh server; None (and a failure entry) when it failed."""
    busy = await procfs.wait_until_quiet() if options.sizes.wait_for_quiet else 0.0
    if busy >= 0.2:
        print(f"{label}: the machine is busy ({busy:.0%} of a core)", file=sys.stderr)
    budget = BUDGET.get(case, options.sizes.soak_seconds + 300)
    try:
        server = await launch(spec, env)
        try:
            async with asyncio.timeout(budget):
                return await CASES[case](server, options.sizes)
        finally:
            gc.enable()  # a run that failed inside a measured window (`Window`) left it off
            await server.stop()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        print(f"{label} FAILED {error}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        _write(
            stream,
            {
                "type": "failure",
                "case": case,
                "server": spec.name,
                "repeat": repeat,
                "error": error[:2000],
                "at": now_utc(),
            },
        )
        return None


def _entry(kind: str, case: str, spec: ServerSpec, repeat: int, record: Record) -> dict[str, Any]:
    return {
        "type": kind,
        "case": case,
        "variant": record.variant,
        "server": spec.name,
        "repeat": repeat,
        "at": now_utc(),
        "metrics": record.metrics,
        "checks": record.checks,
    }


def sizes_for(quick: bool, repeats: int | None, soak_seconds: float | None) -> Sizes:
    sizes = QUICK if quick else FULL
    if repeats is not None:
        sizes = replace(sizes, repeats={k: (1 if k == "soak" else repeats) for k in sizes.repeats})
    if soak_seconds is not None:
        sizes = replace(sizes, soak_seconds=soak_seconds)
    return sizes
