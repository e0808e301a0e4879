"""The harness's building blocks: paired ratios, alternation, goals, the JSON format, the table.

No test here times anything: the figures are made up, so that the statistics
and the format are checked exactly.
"""

from __future__ import annotations

import json
import typing as t

import pytest

from benchmarks.harness import (
    MIN_RUNS,
    Case,
    Goal,
    Metric,
    Summary,
    child_env,
    interleave,
    paired_ratios,
    round_order,
)
from benchmarks.report import (
    FORMAT,
    format_table,
    number,
    report,
    table_rows,
    validate_report,
)


def metric(*cases: Case, better: str = "lower") -> Metric:
    return Metric(
        name="create_app",
        title="create an app",
        unit="ms",
        better=better,
        systems={"floor": "plain", "ours": "appfactory", "peer": "invenio-base"},
        goal="ours/floor <= 1.10",
        cases=list(cases),
    )


def full_case(name: str = "n_10") -> Case:
    return Case(
        name,
        samples={"floor": [2.0, 4.0, 3.0], "ours": [2.2, 4.0, 3.6], "peer": [1.0, 4.0, 6.0]},
        goal=Goal.ratio_at_most(1.10),
    )


def test_summary_of_values() -> None:
    assert Summary.of([5.0, 1.0, 3.0, 2.0]) == Summary(median=2.5, min=1.0, max=5.0)
    with pytest.raises(ValueError, match="no values"):
        Summary.of([])


def test_paired_ratios_divide_round_by_round() -> None:
    assert paired_ratios([2.2, 4.0, 3.6], [2.0, 4.0, 3.0]) == pytest.approx([1.1, 1.0, 1.2])


@pytest.mark.parametrize(
    ("values", "floor", "message"),
    [
        ([1.0], [1.0, 2.0], "unpaired runs"),
        ([1.0, 2.0], [1.0, 0.0], "not positive"),
    ],
)
def test_paired_ratios_refuse_bad_input(
    values: list[float], floor: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        paired_ratios(values, floor)


def test_the_median_of_paired_ratios_is_not_the_ratio_of_medians() -> None:
    case = full_case()
    # Medians 3.0 / 3.6 would give 1.2; the rounds' own ratios are 1.1, 1.0 and 1.2.
    assert case.ratio("ours") == Summary(median=pytest.approx(1.1), min=1.0, max=pytest.approx(1.2))
    assert case.ratio("peer") == Summary(median=1.0, min=0.5, max=2.0)
    assert case.absolute("ours") == Summary(median=3.6, min=2.2, max=4.0)


def test_rounds_alternate_the_order_of_the_systems() -> None:
    calls: list[tuple[str, int]] = []

    def measure(system: str, index: int) -> float:
        calls.append((system, index))
        return float(len(calls))

    samples = interleave(["floor", "ours", "peer"], 3, measure)
    assert [system for system, _ in calls] == [
        *("floor", "ours", "peer"),
        *("peer", "ours", "floor"),
        *("floor", "ours", "peer"),
    ]
    # Index i of every system's list is round i.
    assert samples == {"floor": [1.0, 6.0, 7.0], "ours": [2.0, 5.0, 8.0], "peer": [3.0, 4.0, 9.0]}
    assert round_order(["a", "b"], 5) == ["b", "a"]


def test_no_figure_comes_from_a_single_round() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_RUNS}"):
        interleave(["floor", "ours"], 1, lambda system, index: 1.0)


@pytest.mark.parametrize(
    ("goal", "met"),
    [
        (Goal.ratio_at_most(1.10), True),
        (Goal.ratio_at_most(1.05), False),
        (Goal.ratio_at_least(1.05), True),
        (Goal.median_at_most(3.5, "ms"), False),
        (Goal.ratio_at_most(1.10) & Goal.median_at_most(4.0, "ms"), True),
        (Goal.ratio_at_most(1.10) & Goal.median_at_most(3.5, "ms"), False),
    ],
)
def test_goals_test_the_median(goal: Goal, met: bool) -> None:
    case = full_case()
    case.goal = goal
    assert case.goal_met is met


def test_a_case_without_goal_or_that_failed_has_no_verdict() -> None:
    assert Case("x", samples={"floor": [1.0, 1.0]}).goal_met is None
    failed = full_case()
    failed.error = "the worker died"
    assert failed.goal_met is None


def sample_report() -> dict[str, t.Any]:
    skipped = Case("solo", skipped="no Redis")
    failed = Case("prefork_c2", error="Traceback ...")
    throughput = metric(full_case("solo"), better="higher")
    throughput.name = "worker_redis"
    broken = metric(skipped, failed)
    broken.name = "cold_cli_help"
    return report(
        [metric(full_case("n_10"), full_case("n_50")), throughput, broken],
        mode="quick",
        seconds=12.345,
    )


def test_the_report_follows_its_format() -> None:
    data = json.loads(json.dumps(sample_report()))
    assert validate_report(data) == []
    assert data["format"] == FORMAT
    assert data["mode"] == "quick"
    assert {"cpu_count", "python", "platform"} <= set(data["machine"])
    case = data["metrics"]["create_app"]["cases"]["n_10"]
    assert case["runs"] == 3
    assert case["absolute"]["ours"] == {"median": 3.6, "min": 2.2, "max": 4.0}
    assert case["ratios"]["ours"]["median"] == pytest.approx(1.1)
    assert set(case["ratios"]) == {"ours", "peer"}
    assert case["goal_met"] is True
    assert data["metrics"]["worker_redis"]["better"] == "higher"


def test_skipped_and_failed_cases_have_no_figures() -> None:
    data = sample_report()
    cases = data["metrics"]["cold_cli_help"]["cases"]
    assert cases["solo"]["skipped"] == "no Redis"
    assert cases["solo"]["absolute"] == {}
    assert cases["prefork_c2"]["error"].startswith("Traceback")
    assert cases["prefork_c2"]["goal_met"] is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("machine"), "missing 'machine'"),
        (lambda d: d.update(format="other/9"), "expected 'appfactory-bench/1'"),
        (lambda d: d["metrics"].update({"Create-App": d["metrics"]["create_app"]}), "snake_case"),
        (lambda d: d["metrics"]["create_app"].update(better="faster"), "'lower' or 'higher'"),
        (lambda d: _case(d)["absolute"]["ours"].update(min=99.0), "min <= median <= max"),
        (lambda d: _case(d).update(runs=1), "expected at least 2"),
        (lambda d: _case(d)["ratios"].pop("peer"), "systems ['ours']"),
        (lambda d: _case(d).pop("goal_met"), "missing 'goal_met'"),
    ],
)
def test_validation_names_what_is_wrong(
    change: t.Callable[[dict[str, t.Any]], t.Any], problem: str
) -> None:
    data = sample_report()
    data["metrics"] = {"create_app": data["metrics"]["worker_redis"]}
    change(data)
    assert any(problem in found for found in validate_report(data)), validate_report(data)


def _case(data: dict[str, t.Any]) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], data["metrics"]["create_app"]["cases"]["solo"])


def test_the_table_shows_ratios_goals_and_failures() -> None:
    skipped = Case("solo", skipped="no Redis")
    failed = Case("prefork_c2", error="boom")
    rows = table_rows([metric(full_case(), skipped, failed)])
    assert rows[0][:3] == ["metric", "case", "runs"]
    assert rows[1] == ["create_app", "n_10", "3", "3.00 ms", "3.60 ms", "4.00 ms",
                       "1.10 [1.00-1.20]", "1.00 [0.50-2.00]", "met"]  # fmt: skip
    assert rows[2][3] == "skipped"
    assert rows[3][3] == "ERROR"
    text = format_table([metric(full_case(), failed)])
    assert "[prefork_c2] ERROR: boom" in text
    assert "ours: appfactory" in text


def test_a_second_peer_gets_columns_only_when_a_metric_measures_it() -> None:
    tasks = Metric(
        name="eager_task_call",
        title="eager delay()",
        unit="us",
        better="lower",
        systems={"floor": "Celery", "ours": "appfactory", "peer2": "celery_init_app"},
        goal="ours/floor <= 1.10",
        cases=[
            Case("trivial", samples={"floor": [2.0, 4.0], "ours": [2.2, 4.0], "peer2": [3.0, 6.0]}),
            Case("broken", error="boom"),
        ],
    )
    rows = table_rows([metric(full_case()), tasks])
    assert rows[0][3:] == ["floor", "ours", "peer", "peer2", "ours/floor", "peer/floor",
                           "peer2/floor", "goal"]  # fmt: skip
    assert rows[2][6] == "4.50 us"
    assert rows[2][9] == "1.50 [1.50-1.50]"
    assert rows[1][6] == "-"
    assert {len(row) for row in rows} == {len(rows[0])}
    assert table_rows([metric(full_case())])[0][3:7] == ["floor", "ours", "peer", "ours/floor"]


@pytest.mark.parametrize(
    ("value", "text"), [(0.000123, "0.000123"), (2.0, "2.00"), (12.345, "12.3"), (1234.5, "1234")]
)
def test_numbers_have_three_significant_digits(value: float, text: str) -> None:
    assert number(value) == text


def test_children_do_not_inherit_the_systems_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHAPP_SECRET_KEY", "leak")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = child_env(["/somewhere"], {"BENCH_PACKAGES": "10"}, pycache="/tmp/pycache")
    assert "BENCHAPP_SECRET_KEY" not in env
    assert "FLASK_DEBUG" not in env
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["BENCH_PACKAGES"] == "10"
    assert env["PYTHONPYCACHEPREFIX"] == "/tmp/pycache"
    assert env["PYTHONPATH"].split(":")[0] == "/somewhere"
