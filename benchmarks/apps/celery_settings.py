"""Ours' safe Celery settings, for the systems we compare ours with.

:data:`appfactory.celery.settings.SAFE_DEFAULTS` without our own classes (the
consumer that survives a Redis restart is code of ours, not a setting), so
that a ratio measures our code rather than the settings.
"""

from __future__ import annotations

import typing as t

from appfactory.celery.settings import SAFE_DEFAULTS

#: Safe defaults that are code of ours rather than Celery settings.
OURS_ONLY = ("worker_consumer",)


def celery_settings() -> dict[str, t.Any]:
    """Ours' safe Celery settings, without our own classes."""
    return {name: value for name, value in SAFE_DEFAULTS.items() if name not in OURS_ONLY}
