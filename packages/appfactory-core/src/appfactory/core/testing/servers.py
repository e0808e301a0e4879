"""Tests that need a server (a database, a broker): skipped where it is missing,
failed instead under CI, which must run every test."""

from __future__ import annotations

import os
import typing as t

import pytest


def unavailable(reason: str) -> t.NoReturn:
    """Skip the test, or fail it when the ``CI`` variable is set, saying why.

    >>> unavailable("no PostgreSQL answers on 127.0.0.1:5432")  # doctest: +SKIP
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)
