"""The checks reference (docs/reference/checks.rst) documents appfactory-sqlalchemy's checks."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from appfactory.sqlalchemy import CHECKS

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_every_sqlalchemy_check_is_documented_and_nothing_else() -> None:
    if not (DOCS / "conf.py").is_file():
        pytest.skip(f"{DOCS} is not here (the tests run outside the checkout)")
    checks_drift = runpy.run_path(str(DOCS / "conf.py"))["checks_drift"]
    text = (DOCS / "reference" / "checks.rst").read_text(encoding="utf-8")

    assert all(check_id.startswith("AF4") for check_id in CHECKS)
    assert checks_drift(text, CHECKS, ("AF4",)) == []
