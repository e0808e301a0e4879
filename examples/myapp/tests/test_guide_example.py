"""The example of the guide "Testing your application" passes, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The files that docs/guide/testing.rst includes.
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "guide" / "testing_example"


def test_the_guides_example_passes(pytester: pytest.Pytester) -> None:
    files = sorted(EXAMPLE.glob("*.py"))
    assert [path.name for path in files] == ["conftest.py", "test_example.py"], (
        f"the guide's example is missing from {EXAMPLE}"
    )
    for path in files:
        (pytester.path / path.name).write_text(path.read_text())
    # In a new process, as a user runs it: nothing of this run's state carries over.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=7)
