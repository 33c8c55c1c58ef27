"""Hardening: hostile input, token attacks, abuse, crashes and restarts.

Every test records what it saw (frames fuzzed, connections held, messages sent
and lost...) with the `figures` fixture. At the end of the session the figures
are written as JSON to `$HARDENING_REPORT`, or else to
`<pytest basetemp>/hardening-report.json`; docs/reliability.md quotes them.

Hypothesis runs under the `hardening` profile: no deadline (a real server is on
the other end), no example database (nothing written into the repository), and
example counts scaled by `HARDENING_SCALE` (default 1; try 10 for a long soak).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "hardening",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)
HARDENING = settings.get_profile("hardening")
SCALE = float(os.environ.get("HARDENING_SCALE", "1"))


#: Hypothesis runs in a worker thread while the event loop keeps serving; the loop's
#: WebSocket code draws mask keys and ping payloads from the `random` module, which
#: hypothesis would take for a strategy using `random`. Only that notice is ignored.
CONCURRENT_RANDOM = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)


def examples(count: int) -> int:
    """`count` hypothesis examples, times HARDENING_SCALE."""
    return max(1, int(count * SCALE))


class Report:
    """Figures by test id, written once at the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sections: dict[str, dict[str, Any]] = {}

    def write(self) -> None:
        if not self.sections:
            return
        document = {
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": sys.version.split()[0],
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "scale": SCALE,
            "postgres": bool(os.environ.get("TEST_DATABASE_URL")),
            "redis": bool(os.environ.get("TEST_REDIS_URL")),
            "tests": {name: figures for name, figures in sorted(self.sections.items()) if figures},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(document, indent=2) + "\n")


_REPORT_KEY = pytest.StashKey[Report]()


@pytest.fixture(scope="session")
def hardening_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Report]:
    target = os.environ.get("HARDENING_REPORT")
    path = Path(target) if target else tmp_path_factory.getbasetemp() / "hardening-report.json"
    report = Report(path)
    request.config.stash[_REPORT_KEY] = report
    yield report
    report.write()


@pytest.fixture
def figures(hardening_report: Report, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A dict for this test's figures; it lands in the report under the test's id."""
    name = request.node.nodeid.split("hardening/", 1)[-1]
    return hardening_report.sections.setdefault(name, {})


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT_KEY, None)
    if report is not None and report.path.exists():
        terminalreporter.write_line(f"hardening figures: {report.path}")
