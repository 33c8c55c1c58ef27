"""`python -m bench`: the benchmark's one command (run from the repository root).

    backend/.venv/bin/python -m bench                       the full run, tables printed
    backend/.venv/bin/python -m bench --write-docs          … and docs/performance.md updated
    backend/.venv/bin/python -m bench --quick               the CI smoke sizes (seconds per case)
    backend/.venv/bin/python -m bench --cases ping,fanout --repeats 3
    backend/.venv/bin/python -m bench --soak-seconds 180    a shorter soak
    backend/.venv/bin/python -m bench --report bench/results/<file>.jsonl [--write-docs]

PostgreSQL and Redis cases use --database-url / --redis-url, defaulting to
BENCH_DATABASE_URL / BENCH_REDIS_URL, then TEST_DATABASE_URL / TEST_REDIS_URL;
without them those cases are skipped. Every target is loopback. The exit
status is 0 only when every run finished and every integrity check (lost, duplicated,
errors, disconnections) found nothing; events out of `seq` order are reported, and judged
against the targets, without failing the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.cases import CASES
from bench.runner import Options, run, sizes_for
from bench.servers import BACKEND_DIR

REPO_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_DIR / "bench" / "results"
DOCS = REPO_DIR / "docs" / "performance.md"


def _env(*names: str) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _loopback(url: str | None, what: str) -> str | None:
    if url and not any(
        host in url
        for host in ("@127.0.0.1", "//127.0.0.1", "@localhost", "//localhost", "@[::1]", "//[::1]")
    ):
        raise SystemExit(f"{what} must point at a loopback host, not {url!r}")
    return url


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke sizes, one repeat")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {list(CASES)}")
    parser.add_argument(
        "--servers", help="comma list: only these of baseline, peer, app, app-pg, peer-2w, app-2w"
    )
    parser.add_argument("--repeats", type=int, help="runs per server and case (soak: always 1)")
    parser.add_argument("--soak-seconds", type=float, help="soak duration (full run: 600)")
    parser.add_argument("--database-url", default=_env("BENCH_DATABASE_URL", "TEST_DATABASE_URL"))
    parser.add_argument("--redis-url", default=_env("BENCH_REDIS_URL", "TEST_REDIS_URL"))
    parser.add_argument(
        "--backend",
        type=Path,
        default=BACKEND_DIR,
        help="the backend directory `python -m app` starts from (A/B an engine change)",
    )
    parser.add_argument("--out", type=Path, help="results file (default bench/results/<utc>.jsonl)")
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    parser.add_argument(
        "--profile", type=Path, help="record py-spy samples of every app server into this directory"
    )
    parser.add_argument("--report", type=Path, help="print the tables of an existing results file")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; known: {list(CASES)}")
    return args


def _run(coroutine: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    problems = 0
    path: Path = args.report
    if path is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = args.out or RESULTS_DIR / f"{stamp}.jsonl"
        options = Options(
            cases=args.cases,
            sizes=sizes_for(args.quick, args.repeats, args.soak_seconds),
            quick=args.quick,
            out=path,
            database_url=_loopback(args.database_url, "--database-url"),
            redis_url=_loopback(args.redis_url, "--redis-url"),
            backend=args.backend.resolve(),
            servers=[s.strip() for s in args.servers.split(",")] if args.servers else None,
            profile_dir=args.profile.resolve() if args.profile else None,
            command=shlex.join(
                ["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)]
            ),
        )
        problems = _run(run(options))
    text = report.markdown(
        report.load(path), path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path
    )
    print(text)
    if args.write_docs:
        report.write_docs(text, DOCS)
        print(f"\nupdated {DOCS.relative_to(REPO_DIR)}", file=sys.stderr)
    if problems:
        print(f"\n{problems} failed run(s) or check(s): see the tables above", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
