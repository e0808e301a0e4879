"""A worker that does not know a task puts its message back, with one error line.

Celery drops such a message; with several hosts, one started with other
``PACKAGES`` would lose every task of the package it lacks. Real workers:
one that lacks ``wtasks`` receives the task first, then one that has it runs it.
"""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from servers import wait_until
from test_worker import as_env, broker_settings, wapp, workers  # noqa: F401 - fixtures
from workers import Worker

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_unknown_task_goes_back_for_a_worker_that_knows_it(
    kind: str,
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],  # noqa: F811
    workers: t.Callable[..., Worker],  # noqa: F811
) -> None:
    settings = broker_settings(kind, request)
    env = as_env("WAPP", settings)
    lacking = workers("wapp.celery", {**env, "WAPP_PACKAGES": "['mymodule']"})
    app = wapp(**settings)

    from wtasks.tasks import marker

    with app.app_context():
        result = marker.delay()
        # The worker without wtasks receives it, reports it, and does not drop it.
        assert wait_until(lambda: "is not registered" in lacking.output(), 20), lacking.output()
        output = lacking.output()
        assert "Task 'wtasks.tasks.marker' is not registered in this worker" in output
        assert "its packages: mymodule" in output
        assert "add the package that defines 'wtasks.tasks.marker' to PACKAGES" in output
        assert "Received unregistered task" not in output
        lacking.stop()
        workers("wapp.celery", {**env, "WAPP_MARKER": "knows"})
        assert result.get(timeout=30) == "knows"
