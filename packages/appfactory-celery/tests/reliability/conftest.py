"""The ``reliability`` marker: these tests run with ``-m reliability`` only.

``nox -s reliability`` selects them; any other run (``nox -s tests``, plain
``pytest``) skips them, as they take minutes. The figures of the tests that
ran close the run, under "reliability figures".

``--redis-restarts N`` (an option of the suite's ``conftest.py``, so that
it is known whatever path is given) sets how many times the broker-restart
test restarts Redis under load.
"""

from __future__ import annotations

import typing as t

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reliability: fault injection with real workers and brokers (minutes); skipped "
        "unless selected with -m, as `nox -s reliability` does",
    )
    config.addinivalue_line(
        "markers", "redis_restarts: the test restarts Redis --redis-restarts times (its timeout)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``reliability`` tests unless the ``-m`` expression names them."""
    if "reliability" in (config.getoption("markexpr", "") or ""):
        restarts = config.getoption("--redis-restarts")
        if restarts < 1:
            raise pytest.UsageError(f"--redis-restarts must be 1 or more, not {restarts}")
        for item in items:
            if item.get_closest_marker("redis_restarts") is not None:
                # Time for the restarts (about 4 s each), on top of the rest.
                item.add_marker(pytest.mark.timeout(180 + 6 * restarts), append=False)
        return
    skip = pytest.mark.skip(
        reason="reliability test (real workers and brokers, minutes): run `nox -s "
        "reliability` or `pytest -m reliability`"
    )
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: t.Any) -> None:
    """The figures of the reliability tests that ran, one line per fault."""
    import faults

    if faults.REPORTS:
        terminalreporter.section("reliability figures")
        for line in faults.REPORTS:
            terminalreporter.write_line(line)
