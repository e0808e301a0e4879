"""Tasks that fail, retry, or tell which app and worker ran them."""

import time
from typing import Any

from celery import shared_task
from flask import current_app


@shared_task
def marker() -> str:
    """The MARKER setting of the app that runs the task."""
    return str(current_app.config["MARKER"])


@shared_task
def fail() -> None:
    """Always fails."""
    raise ValueError("planned failure")


@shared_task(bind=True, max_retries=5)
def flaky(self: Any, succeed_after: int) -> int:
    """Fails until it has been retried ``succeed_after`` times."""
    if self.request.retries < succeed_after:
        raise self.retry(countdown=0.1)
    return int(self.request.retries)


@shared_task(bind=True)
def where(self: Any, pause: float = 0.0) -> str:
    """The worker's host name, after a pause."""
    time.sleep(pause)
    return str(self.request.hostname)


@shared_task
def length(value: str) -> int:
    """The length of ``value`` (a large argument's round trip)."""
    return len(value)
