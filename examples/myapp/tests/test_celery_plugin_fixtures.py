"""A suite written for Celery's pytest plugin runs with appfactory's, against myapp.

The suite (``docs/guide/celery_plugin_example/``, shown in the testing guide)
uses ``celery.contrib.pytest``'s documented fixtures, the session worker and
the ``celery`` marker; its ``conftest.py`` names appfactory's plugins instead
of Celery's. It runs in a new process, as
a user runs it, with real workers on the embedded broker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[3] / "docs" / "guide" / "celery_plugin_example"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    files = sorted(SUITE.glob("*.py"))
    assert [path.name for path in files] == [
        "conftest.py",
        "tasks_of_the_tests.py",
        "test_celery_fixtures.py",
    ], f"the suite is missing from {SUITE}"
    for path in files:
        shutil.copy(path, pytester.path / path.name)
    return pytester


def test_celerys_fixtures_run_with_appfactorys_plugin(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=6)


def test_enabling_celerys_plugin_too_stops_the_run(suite: pytest.Pytester) -> None:
    conftest = suite.path / "conftest.py"
    conftest.write_text(
        conftest.read_text().replace(
            '"appfactory.celery.testing"]', '"appfactory.celery.testing", "celery.contrib.pytest"]'
        )
    )
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: appfactory.celery.testing and Celery's plugin celery.contrib.pytest are both "
            "enabled; they define the same fixtures. Keep appfactory.celery.testing*"
        ]
    )
