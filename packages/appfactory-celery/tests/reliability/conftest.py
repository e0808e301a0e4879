"""The ``reliability`` marker: these tests run with ``-m reliability`` only.

``nox -s reliability`` selects them; any other run (``nox -s tests``, plain
``pytest``) skips them, as they take minutes. The figures of the tests that
ran close the run, under "reliability figures".
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``reliability`` tests unless the ``-m`` expression names them."""
    if "reliability" in (config.getoption("markexpr", "") or ""):
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
