"""The result backend of the ``celery_worker`` fixture (imported by Celery, by name)."""

from __future__ import annotations

import typing as t

from celery.backends.cache import CacheBackend

#: Seconds between two looks for a result while the test waits (Celery's default is 0.5).
POLLING_INTERVAL = 0.01


class MemoryResultBackend(CacheBackend):  # type: ignore[misc]
    """Celery's in-memory cache backend (``cache+memory://``), polled every 10 ms.

    Its results are kept for the whole process, so the worker's thread
    stores them where the test reads them.
    """

    def wait_for(
        self,
        task_id: str,
        timeout: float | None = None,
        interval: float = 0.5,
        *args: t.Any,
        **kwargs: t.Any,
    ) -> t.Any:
        """Wait for a result, looking every :data:`POLLING_INTERVAL` seconds at most."""
        return super().wait_for(task_id, timeout, min(interval, POLLING_INTERVAL), *args, **kwargs)
