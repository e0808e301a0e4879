"""The checks reference (docs/reference/checks.rst) and the declared checks agree."""

from __future__ import annotations

import runpy
import typing as t
from pathlib import Path

import pytest

from appfactory.core import CHECKS, Check, Level

DOCS = Path(__file__).resolve().parents[3] / "docs"
#: The ids of appfactory-core's checks start with these.
CORE_PREFIXES = ("AF0", "AF1", "AF2")


@pytest.fixture(scope="module")
def checks_drift() -> t.Callable[..., list[str]]:
    """The comparison that ``nox -s docs`` makes (docs/conf.py), without Sphinx."""
    if not (DOCS / "conf.py").is_file():
        pytest.skip(f"{DOCS} is not here (the tests run outside the checkout)")
    return t.cast(t.Callable[..., list[str]], runpy.run_path(str(DOCS / "conf.py"))["checks_drift"])


def reference() -> str:
    return (DOCS / "reference" / "checks.rst").read_text(encoding="utf-8")


def test_every_core_check_is_documented_and_nothing_else(
    checks_drift: t.Callable[..., list[str]],
) -> None:
    assert all(check_id.startswith(CORE_PREFIXES) for check_id in CHECKS)
    assert checks_drift(reference(), CHECKS, CORE_PREFIXES) == []


def test_drift_is_found_both_ways(checks_drift: t.Callable[..., list[str]]) -> None:
    declared = {
        **CHECKS,
        "AF299": Check("AF299", "brand-new", Level.INFO, "New.", "None.", "a new check"),
    }
    del declared["AF203"]

    assert checks_drift(reference(), declared, CORE_PREFIXES) == [
        "no section '.. _AF299:' titled 'AF299 ``brand-new`` (info)'",
        "AF203 is documented, but no CHECKS declares it",
    ]


def test_a_changed_level_is_drift(checks_drift: t.Callable[..., list[str]]) -> None:
    declared = dict(CHECKS)
    af001 = declared["AF001"]
    declared["AF001"] = Check(
        af001.id, af001.name, Level.ERROR, af001.message, af001.hint, af001.summary
    )

    assert checks_drift(reference(), declared, CORE_PREFIXES) == [
        "no section '.. _AF001:' titled 'AF001 ``secret-key-missing`` (error)'"
    ]
