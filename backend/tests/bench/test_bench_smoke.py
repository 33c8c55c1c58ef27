"""The benchmark's smoke run: every case at `--quick` sizes, so `make bench` never rots.

`python -m bench` runs as it would for `make bench`, in its own process from
the repository root. What is checked is that every case produced its figures
on every server and that nothing was lost, duplicated or refused, never how
fast anything was (nor whether events came in `seq` order: that is a target).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.core.config import REPO_DIR

pytestmark = pytest.mark.slow

#: Checks about order rather than loss (mirrors bench.cases.ORDER_CHECKS).
ORDER_CHECKS = {"reordered"}

#: The figure every result of a case must carry (a positive, finite number).
HEADLINE = {
    "ping": "cpu_us_per_msg",
    "send": "cpu_us_per_msg",
    "fanout": "cpu_us_per_delivery",
    "idle": "kib_per_socket",
    "redis": "cpu_us_per_delivery",
    "soak": "messages",
}


def run_bench(tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    """`python -m bench --quick ARGS`; its results file, once it exited successfully."""
    out = tmp_path / "results.jsonl"
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), *args],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-6000:]
    assert "| target |" in finished.stdout  # the markdown report was printed
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def check(entries: list[dict[str, Any]], expected: dict[str, set[str]]) -> None:
    """Every (case, server) expected produced a clean result with its headline figure."""
    assert entries[0]["type"] == "meta"
    assert entries[-1]["type"] == "end"
    assert [e for e in entries if e["type"] in ("failure", "skipped")] == []
    results = [e for e in entries if e["type"] == "result"]
    found = {(r["case"], r["server"]) for r in results}
    assert found == {(case, server) for case, servers in expected.items() for server in servers}
    for result in results:
        where = f"{result['case']} {result['variant']} on {result['server']}"
        value = result["metrics"][HEADLINE[result["case"]]]
        assert math.isfinite(value) and value > 0, where
        assert result["metrics"]["wall_s" if result["case"] != "idle" else "held"] > 0, where
        # Order is a target, judged in docs/performance.md; loss and errors are failures here.
        integrity = {k: n for k, n in result["checks"].items() if k not in ORDER_CHECKS}
        assert all(n == 0 for n in integrity.values()), (where, result["checks"])


def test_every_case_on_sqlite(tmp_path: Path) -> None:
    entries = run_bench(
        tmp_path, "--cases", "ping,send,fanout,idle,soak", "--database-url", "", "--redis-url", ""
    )
    everyone = {"baseline", "peer", "app"}
    check(
        entries,
        {
            "ping": everyone | {"app-plain"},
            "send": everyone,
            "fanout": everyone,
            "idle": everyone | {"app-plain"},
            "soak": {"app"},
        },
    )
    sends = [e for e in entries if e.get("case") == "send" and e.get("server") == "app"]
    assert "seq_errors" in sends[0]["checks"]  # the app's seq 1..N was checked


def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    return url


@pytest.mark.postgres
def test_send_on_postgres(tmp_path: Path) -> None:
    entries = run_bench(
        tmp_path,
        *("--cases", "send", "--servers", "app-pg"),
        *("--database-url", database_url(), "--redis-url", ""),
    )
    check(entries, {"send": {"app-pg"}})


@pytest.mark.postgres
@pytest.mark.redis
def test_two_workers_behind_redis(tmp_path: Path) -> None:
    database = database_url()
    redis = os.environ.get("TEST_REDIS_URL")
    if not redis:
        pytest.skip("TEST_REDIS_URL is not set")
    entries = run_bench(
        tmp_path,
        *("--cases", "redis", "--servers", "peer-2w,app-2w"),
        *("--database-url", database, "--redis-url", redis),
    )
    check(entries, {"redis": {"peer-2w", "app-2w"}})
