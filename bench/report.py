"""From a results file (JSON lines) to markdown: the machine, one table per case, the targets.

Each cell is the median over the repeats with the min-max beside it; ratio
columns divide the app's median by the baseline's (or the peer's) median
measured in the same run. `write_docs` replaces the generated block of
docs/performance.md (between the two `bench:results` markers) and leaves
the hand-written analysis around it alone.
"""

from __future__ import annotations

import platform
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

#: Written as escapes: ruff (RUF001) flags these characters in literals.
TIMES = "\u00d7"
DASH = "\u2013"
BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


# the machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


PACKAGES = (
    "uvicorn",
    "starlette",
    "fastapi",
    "websockets",
    "uvloop",
    "httptools",
    "orjson",
    "pydantic",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "redis",
    "python-socketio",
    "python-engineio",
)


def machine() -> dict[str, Any]:
    import os
    import resource

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(_memory_gib(), 1),
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
        if hasattr(platform, "freedesktop_os_release")
        else platform.system(),
        "python": platform.python_version(),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "packages": versions,
    }


# loading and aggregating


@dataclass
class Results:
    meta: dict[str, Any]
    records: list[dict[str, Any]]
    failures: list[dict[str, Any]]


def load(path: Path) -> Results:
    meta: dict[str, Any] = {}
    records, failures = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        entry = orjson.loads(line)
        if entry["type"] == "meta":
            meta = entry
        elif entry["type"] == "result":
            records.append(entry)
        elif entry["type"] in ("failure", "skipped"):
            failures.append(entry)
        elif entry["type"] == "end":
            meta["duration_s"] = entry["duration_s"]
    return Results(meta, records, failures)


Key = tuple[str, str, str]  # case, variant, server


def group(records: Iterable[dict[str, Any]]) -> dict[Key, list[dict[str, Any]]]:
    grouped: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[(record["case"], record["variant"], record["server"])].append(record)
    return grouped


def median(runs: list[dict[str, Any]], metric: str) -> float | None:
    values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
    return statistics.median(values) if values else None


def spread(runs: list[dict[str, Any]], metric: str) -> tuple[float, float] | None:
    values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
    return (min(values), max(values)) if values else None


# tables


Format = Callable[[float], str]


def _num(digits: int) -> Format:
    return lambda value: f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def _mib(value: float) -> str:
    return f"{value / 1024:,.0f}"


@dataclass(frozen=True)
class Column:
    metric: str
    label: str
    fmt: Format


@dataclass(frozen=True)
class Ratio:
    metric: str
    against: str  # the server whose median is the denominator
    label: str


@dataclass(frozen=True)
class CaseView:
    title: str
    columns: tuple[Column, ...]
    ratios: tuple[Ratio, ...] = ()


VIEWS: dict[str, CaseView] = {
    "ping": CaseView(
        "1. `ping` round trips (connections x round trips each)",
        (
            Column("msgs_per_s", "msg/s", _num(0)),
            Column("rtt_p50_us", "RTT p50 µs", _num(0)),
            Column("rtt_p99_us", "RTT p99 µs", _num(0)),
            Column("cpu_us_per_msg", "server CPU µs/msg", _num(1)),
            Column("client_cpu_util", "client CPU", _pct),
            Column("other_cpu_util", "other CPU", _pct),
        ),
        (Ratio("cpu_us_per_msg", "baseline", f"CPU/msg {TIMES} baseline"),),
    ),
    "send": CaseView(
        "2. `sendMessage` (persisted + fan-out to the room's 9 others), connections-rooms",
        (
            Column("msgs_per_s", "msg/s", _num(0)),
            Column("rtt_p50_ms", "RTT p50 ms", _num(2)),
            Column("rtt_p99_ms", "RTT p99 ms", _num(2)),
            Column("cpu_us_per_msg", "server CPU µs/msg", _num(0)),
            Column("deliveries", "deliveries", _num(0)),
            Column("services_cpu_util", "PostgreSQL CPU", _pct),
            Column("client_cpu_util", "client CPU", _pct),
            Column("other_cpu_util", "other CPU", _pct),
        ),
        (Ratio("msgs_per_s", "baseline", f"msg/s {TIMES} baseline relay"),),
    ),
    "fanout": CaseView(
        "3. Room fan-out (members), 50 messages one after another",
        (
            Column("last_p50_ms", "to last member p50 ms", _num(1)),
            Column("last_p99_ms", "to last member p99 ms", _num(1)),
            Column("member_p50_ms", "per member p50 ms", _num(1)),
            Column("deliveries_per_s", "deliveries/s", _num(0)),
            Column("cpu_us_per_delivery", "server CPU µs/delivery", _num(2)),
            Column("client_cpu_util", "client CPU", _pct),
            Column("other_cpu_util", "other CPU", _pct),
        ),
        (
            Ratio("cpu_us_per_delivery", "baseline", f"CPU/delivery {TIMES} baseline"),
            Ratio("last_p99_ms", "peer", f"p99 {TIMES} peer"),
        ),
    ),
    "idle": CaseView(
        "4. Idle handshaken sockets held (count)",
        (
            Column("kib_per_socket", "KiB/socket", _num(1)),
            Column("held", "answering at the end", _num(0)),
            Column("rss_kib", "server RSS MiB", _mib),
            Column("opened_per_s", "opened/s", _num(0)),
            Column("cpu_us_per_open", "server CPU µs/open", _num(0)),
        ),
        (Ratio("kib_per_socket", "baseline", f"KiB/socket {TIMES} baseline"),),
    ),
    "redis": CaseView(
        "5. Fan-out across two workers behind Redis (members), 50 messages",
        (
            Column("last_p50_ms", "to last member p50 ms", _num(1)),
            Column("last_p99_ms", "to last member p99 ms", _num(1)),
            Column("deliveries_per_s", "deliveries/s", _num(0)),
            Column("cpu_us_per_delivery", "server CPU µs/delivery", _num(2)),
            Column("services_cpu_util", "PostgreSQL+Redis CPU", _pct),
            Column("worker0_sockets", "sockets worker 1", _num(0)),
            Column("worker1_sockets", "sockets worker 2", _num(0)),
            Column("client_cpu_util", "client CPU", _pct),
            Column("other_cpu_util", "other CPU", _pct),
        ),
        (Ratio("last_p99_ms", "peer-2w", f"p99 {TIMES} peer-2w"),),
    ),
    "soak": CaseView(
        "6. Soak: moderate load (duration)",
        (
            Column("messages", "messages", _num(0)),
            Column("deliveries", "deliveries", _num(0)),
            Column("server_cpu_util", "server CPU", _pct),
            Column("rss_warm_kib", "RSS after warm-up MiB", _mib),
            Column("rss_end_kib", "RSS at the end MiB", _mib),
            Column("growth_pct", "growth %", _num(2)),
            Column("errors", "errors", _num(0)),
            Column("other_cpu_util", "other CPU", _pct),
        ),
    ),
}

SERVER_ORDER = ("baseline", "peer", "app", "app-pg", "peer-2w", "app-2w")
CASE_ORDER = tuple(VIEWS)


def _cell(runs: list[dict[str, Any]], column: Column) -> str:
    value = median(runs, column.metric)
    if value is None:
        return DASH
    low, high = spread(runs, column.metric) or (value, value)
    if len(runs) == 1 or column.fmt(low) == column.fmt(high):
        return column.fmt(value)
    return f"{column.fmt(value)} ({column.fmt(low)}{DASH}{column.fmt(high)})"


def _checks(runs: list[dict[str, Any]]) -> str:
    totals: dict[str, int] = defaultdict(int)
    for run in runs:
        for name, count in run["checks"].items():
            totals[name] += count
    bad = {name: count for name, count in totals.items() if count}
    return ", ".join(f"{name} {count}" for name, count in sorted(bad.items())) or "0"


def ratio(
    grouped: dict[Key, list[dict[str, Any]]], case: str, variant: str, metric: str, against: str
) -> tuple[str, float] | None:
    """The app's median over `against`'s, for each app flavour measured; (server, ratio)."""
    denominator = median(grouped.get((case, variant, against), []), metric)
    if not denominator:
        return None
    for server in ("app", "app-2w", "app-pg"):
        numerator = median(grouped.get((case, variant, server), []), metric)
        if numerator is not None:
            return server, numerator / denominator
    return None


def _ratio_cell(
    grouped: dict[Key, list[dict[str, Any]]], case: str, variant: str, server: str, r: Ratio
) -> str:
    if not server.startswith("app"):
        return ""
    denominator = median(grouped.get((case, variant, r.against), []), r.metric)
    numerator = median(grouped.get((case, variant, server), []), r.metric)
    if not denominator or numerator is None:
        return DASH
    return f"**{numerator / denominator:.2f}{TIMES}**"


def _variant_key(variant: str) -> tuple[int, str]:
    digits = "".join(ch for ch in variant.split("x")[0] if ch.isdigit())
    return (int(digits) if digits else 0, variant)


def tables(results: Results) -> str:
    grouped = group(results.records)
    out = []
    for case in CASE_ORDER:
        view = VIEWS[case]
        variants = sorted({v for c, v, _ in grouped if c == case}, key=_variant_key)
        if not variants:
            continue
        out.append(f"### {view.title}\n")
        header = ["variant", "server", "runs"]
        header += [c.label for c in view.columns] + [r.label for r in view.ratios] + ["checks"]
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for variant in variants:
            servers = sorted(
                {s for c, v, s in grouped if c == case and v == variant},
                key=lambda s: SERVER_ORDER.index(s) if s in SERVER_ORDER else 99,
            )
            for server in servers:
                runs = grouped[(case, variant, server)]
                row = [variant, server, str(len(runs))]
                row += [_cell(runs, column) for column in view.columns]
                row += [_ratio_cell(grouped, case, variant, server, r) for r in view.ratios]
                row.append(_checks(runs))
                out.append("| " + " | ".join(row) + " |")
        out.append("")
    if results.failures:
        out.append("### Runs that failed or were skipped\n")
        for failure in results.failures:
            if failure["type"] == "skipped":
                out.append(f"- {failure['case']}: skipped, {failure['reason']}")
                continue
            out.append(
                f"- {failure['case']} on {failure['server']} (repeat {failure['repeat']}): "
                f"{failure['error']}"
            )
        out.append("")
    return "\n".join(out)


# targets


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: not measured in this run


def _largest(grouped: dict[Key, list[dict[str, Any]]], case: str) -> str | None:
    variants = {v for c, v, _ in grouped if c == case}
    return max(variants, key=_variant_key) if variants else None


def _checks_clean(runs: list[dict[str, Any]]) -> bool:
    return all(count == 0 for run in runs for count in run["checks"].values())


def verdicts(results: Results) -> list[Verdict]:
    grouped = group(results.records)
    found: list[Verdict] = []

    def compare(
        target: str,
        case: str,
        variant: str | None,
        metric: str,
        against: str,
        limit: float,
        *,
        at_least: bool = False,
    ) -> None:
        got = ratio(grouped, case, variant, metric, against) if variant else None
        if got is None:
            found.append(Verdict(target, "not measured", None))
            return
        server, value = got
        met = value >= limit if at_least else value <= limit
        found.append(Verdict(target, f"{value:.2f}{TIMES} ({server}, {case} {variant})", met))

    for variant in sorted({v for c, v, _ in grouped if c == "ping"}, key=_variant_key):
        compare(
            f"`ping` {variant}: server CPU/msg ≤ 1.25{TIMES} raw Starlette echo",
            "ping",
            variant,
            "cpu_us_per_msg",
            "baseline",
            1.25,
        )
    fan = _largest(grouped, "fanout")
    compare(
        f"Fan-out to {fan}: server CPU/delivery ≤ 1.3{TIMES} raw Starlette relay",
        "fanout",
        fan,
        "cpu_us_per_delivery",
        "baseline",
        1.3,
    )
    compare(
        f"Fan-out to {fan}: p99 time to last member ≤ 0.25{TIMES} python-socketio",
        "fanout",
        fan,
        "last_p99_ms",
        "peer",
        0.25,
    )

    send_variant = _largest(grouped, "send")
    echo_variant = max(
        (v for c, v, _ in grouped if c == "ping"),
        key=lambda v: (int(v.split("x")[0]), v),
        default=None,
    )
    app_send = median(grouped.get(("send", send_variant or "", "app"), []), "msgs_per_s")
    echo = median(grouped.get(("ping", echo_variant or "", "baseline"), []), "msgs_per_s")
    if app_send is not None and echo:
        found.append(
            Verdict(
                f"`sendMessage` {send_variant} on SQLite: "
                f"≥ 0.5{TIMES} raw echo msg/s ({echo_variant})",
                f"{app_send / echo:.2f}{TIMES} ({app_send:,.0f} vs {echo:,.0f} msg/s)",
                app_send / echo >= 0.5,
            )
        )
    else:
        found.append(
            Verdict(f"`sendMessage` on SQLite: ≥ 0.5{TIMES} raw echo msg/s", "not measured", None)
        )
    for server in ("app", "app-pg"):
        runs = grouped.get(("send", send_variant or "", server), [])
        if runs:
            found.append(
                Verdict(
                    f"`sendMessage` on {server}: zero lost, duplicated or reordered; seq 1..N",
                    _checks(runs),
                    _checks_clean(runs),
                )
            )

    idle_variant = _largest(grouped, "idle")
    compare(
        f"Idle {idle_variant}: memory per socket ≤ 1.2{TIMES} raw Starlette socket",
        "idle",
        idle_variant,
        "kib_per_socket",
        "baseline",
        1.2,
    )
    held_runs = grouped.get(("idle", idle_variant or "", "app"), [])
    if held_runs:
        held = min(r["metrics"]["held"] for r in held_runs)
        found.append(
            Verdict(
                f"Idle: {idle_variant} sockets held by one worker",
                f"{held:,.0f} answering (worst run)",
                held >= int(idle_variant or 0),
            )
        )

    soak_runs = [
        r for (c, _, s), runs in grouped.items() if c == "soak" and s == "app" for r in runs
    ]
    if soak_runs:
        growth = max(r["metrics"]["growth_pct"] for r in soak_runs)
        errors = sum(r["metrics"]["errors"] for r in soak_runs)
        found.append(
            Verdict("Soak: memory growth < 5 % after warm-up", f"{growth:.2f} %", growth < 5)
        )
        found.append(Verdict("Soak: 0 errors", f"{errors:.0f}", errors == 0))
    return found


def targets_table(results: Results) -> str:
    lines = ["| target | measured (medians, same run) | met |", "|---|---|---|"]
    for verdict in verdicts(results):
        met = {True: "yes", False: "**no**", None: DASH}[verdict.met]
        lines.append(f"| {verdict.target} | {verdict.measured} | {met} |")
    return "\n".join(lines)


def describe_machine(meta: dict[str, Any]) -> str:
    m = meta.get("machine", {})
    packages = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    pinning = meta.get("pinning", "none")
    return (
        f"- **Machine**: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
        f"{m.get('os')}, kernel {m.get('kernel')}, Python {m.get('python')}, "
        f"open files limit {m.get('nofile')}\n"
        f"- **Pinning**: {pinning}\n"
        f"- **Services**: {meta.get('services', '-')}\n"
        f"- **Packages**: {packages}\n"
        f"- **App measured**: {meta.get('revision', '-')}\n"
        f"- **Run**: `{meta.get('command', '')}`, started {meta.get('started', '')}, "
        f"{meta.get('duration_s', 0) / 60:.0f} min, sizes `{meta.get('sizes', '')}`"
    )


def markdown(results: Results, source: Path | None = None) -> str:
    parts = [
        describe_machine(results.meta),
        f"- **Results file**: `{source}`" if source else "",
        "",
        "#### Targets",
        "",
        targets_table(results),
        "",
        tables(results),
    ]
    return "\n".join(part for part in parts if part is not None)


def write_docs(text: str, docs: Path) -> None:
    """Replace the generated block of `docs` with `text` (the markers must be there)."""
    content = docs.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"{docs} has no {BEGIN} … {END} block to replace")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    docs.write_text(f"{head}{BEGIN}\n{text.rstrip()}\n{END}{tail}")
