"""The report of a run: the JSON document, its validation, and the table.

The JSON format is described in ``docs/performance.rst``; :data:`FORMAT` names
its version, and :func:`validate_report` checks a document against it.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import sys
import typing as t
from pathlib import Path

from benchmarks.harness import MIN_RUNS, SYSTEMS, Case, Metric, Summary

#: The version of the JSON format; a change that breaks readers bumps it.
FORMAT = "appfactory-bench/1"
#: Distributions whose versions a report records.
VERSIONED = (
    "flask",
    "werkzeug",
    "celery",
    "kombu",
    "redis",
    "appfactory-core",
    "appfactory-celery",
    "invenio-base",
    "flask-celeryext",
)


def machine() -> dict[str, t.Any]:
    """The machine and interpreter of a run."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def versions(extra_paths: t.Sequence[str | Path] = ()) -> dict[str, str | None]:
    """The versions of the distributions under test (``None`` when not installed)."""
    found: dict[str, str | None] = dict.fromkeys(VERSIONED)
    paths = [*map(str, extra_paths), *sys.path]
    for dist in importlib.metadata.distributions(path=paths):
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in found and found[name] is None:
            found[name] = dist.version
    return found


def case_json(case: Case) -> dict[str, t.Any]:
    """One case as JSON: runs, absolute summaries, paired ratios, goal, checks, notes."""
    data: dict[str, t.Any] = {
        "runs": case.runs,
        "absolute": {},
        "ratios": {},
        "goal_met": case.goal_met,
        "checks": case.checks,
        "notes": case.notes,
        "skipped": case.skipped,
        "error": case.error,
    }
    if case.error is None and case.skipped is None and case.runs:
        data["absolute"] = {s: case.absolute(s).as_dict() for s in case.systems}
        data["ratios"] = {s: case.ratio(s).as_dict() for s in case.systems if s != "floor"}
    return data


def report(
    metrics: t.Sequence[Metric],
    mode: str,
    seconds: float,
    extra_paths: t.Sequence[str | Path] = (),
) -> dict[str, t.Any]:
    """The whole run as the JSON document described in ``docs/performance.rst``."""
    return {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "seconds": round(seconds, 1),
        "machine": machine(),
        "versions": versions(extra_paths),
        "metrics": {
            metric.name: {
                "title": metric.title,
                "unit": metric.unit,
                "better": metric.better,
                "systems": metric.systems,
                "goal": metric.goal,
                "cases": {case.case: case_json(case) for case in metric.cases},
            }
            for metric in metrics
        },
    }


def validate_report(data: t.Any) -> list[str]:
    """Problems of a JSON report against the format (an empty list: it is valid)."""
    problems: list[str] = []

    def need(where: str, obj: t.Any, key: str, kind: type | tuple[type, ...]) -> t.Any:
        if not isinstance(obj, dict) or key not in obj:
            problems.append(f"{where}: missing {key!r}")
            return None
        if not isinstance(obj[key], kind):
            problems.append(f"{where}.{key}: {type(obj[key]).__name__}, expected {kind}")
            return None
        return obj[key]

    if need("report", data, "format", str) not in (None, FORMAT):
        problems.append(f"report.format: {data['format']!r}, expected {FORMAT!r}")
    for key, kind in (("created", str), ("mode", str), ("seconds", (int, float))):
        need("report", data, key, kind)
    found = need("report", data, "machine", dict)
    for key in ("cpu_count", "python", "platform"):
        if found is not None and key not in found:
            problems.append(f"report.machine: missing {key!r}")
    need("report", data, "versions", dict)
    metrics = need("report", data, "metrics", dict) or {}
    for name, metric in metrics.items():
        where = f"metrics.{name}"
        if not name.isidentifier() or name.lower() != name:
            problems.append(f"{where}: metric names are snake_case")
        for key in ("title", "unit", "goal"):
            need(where, metric, key, str)
        if need(where, metric, "better", str) not in (None, "lower", "higher"):
            problems.append(f"{where}.better: must be 'lower' or 'higher'")
        systems = need(where, metric, "systems", dict) or {}
        if "floor" not in systems:
            problems.append(f"{where}.systems: no floor")
        for case_name, case in (need(where, metric, "cases", dict) or {}).items():
            problems.extend(_case_problems(f"{where}.cases.{case_name}", case, systems))
    return problems


def _case_problems(where: str, case: t.Any, systems: dict[str, str]) -> list[str]:
    if not isinstance(case, dict):
        return [f"{where}: not an object"]
    problems = [
        f"{where}: missing {key!r}"
        for key in ("runs", "absolute", "ratios", "goal_met", "checks", "notes", "skipped", "error")
        if key not in case
    ]
    if problems or case["skipped"] is not None or case["error"] is not None:
        return problems
    if not isinstance(case["runs"], int) or case["runs"] < MIN_RUNS:
        problems.append(f"{where}.runs: {case['runs']!r}, expected at least {MIN_RUNS}")
    for section, expected in (
        ("absolute", set(systems)),
        ("ratios", set(systems) - {"floor"}),
    ):
        if set(case[section]) != expected:
            problems.append(
                f"{where}.{section}: systems {sorted(case[section])}, not {sorted(expected)}"
            )
        for system, summary in case[section].items():
            if not isinstance(summary, dict) or set(summary) != {"median", "min", "max"}:
                problems.append(f"{where}.{section}.{system}: needs median, min and max")
            elif not summary["min"] <= summary["median"] <= summary["max"]:
                problems.append(f"{where}.{section}.{system}: min <= median <= max does not hold")
    return problems


def number(value: float) -> str:
    """A value with three significant digits, without an exponent for usual sizes.

    >>> [number(v) for v in (0.000123, 1.5, 12.345, 1234.5)]
    ['0.000123', '1.50', '12.3', '1234']
    """
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    digits = max(0, 2 - int(f"{abs(value):e}".split("e")[1]))
    return f"{value:.{digits}f}"


def ratio_text(summary: Summary) -> str:
    return f"{summary.median:.2f} [{summary.min:.2f}-{summary.max:.2f}]"


def table_rows(metrics: t.Sequence[Metric]) -> list[list[str]]:
    """The rows of the table (header first)."""
    # A column for each system that some metric measures (``peer2`` only in a few).
    shown = [s for s in SYSTEMS if s == "floor" or any(s in m.systems for m in metrics)]
    ratios = [system for system in shown if system != "floor"]
    rows = [["metric", "case", "runs", *shown, *(f"{s}/floor" for s in ratios), "goal"]]
    for metric in metrics:
        for case in metric.cases:
            head = [metric.name, case.case]
            if case.error is not None:
                rows.append([*head, "-", "ERROR", *[""] * (len(shown) + len(ratios))])
                continue
            if case.skipped is not None:
                rows.append([*head, "-", "skipped", *[""] * (len(shown) + len(ratios))])
                continue
            cells = [str(case.runs)]
            for system in shown:
                cells.append(
                    f"{number(case.absolute(system).median)} {metric.unit}"
                    if system in case.samples
                    else "-"
                )
            for system in ratios:
                cells.append(ratio_text(case.ratio(system)) if system in case.samples else "-")
            met = case.goal_met
            cells.append("-" if met is None else "met" if met else "MISSED")
            rows.append([*head, *cells])
    return rows


def format_table(metrics: t.Sequence[Metric]) -> str:
    """The table as aligned plain text, followed by the goals, checks, notes and errors."""
    rows = table_rows(metrics)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append("")
    for metric in metrics:
        lines.append(f"{metric.name}: {metric.title}. Goal: {metric.goal}.")
        for role in SYSTEMS:
            if role in metric.systems:
                lines.append(f"  {role}: {metric.systems[role]}")
        for case in metric.cases:
            for label, text in (
                *(("check", f"{k} = {v!r}") for k, v in case.checks.items()),
                *(("note", note) for note in case.notes),
                *((("skipped", case.skipped),) if case.skipped else ()),
                *((("ERROR", case.error),) if case.error else ()),
            ):
                lines.append(f"  [{case.case}] {label}: {text}")
    return "\n".join(lines)
