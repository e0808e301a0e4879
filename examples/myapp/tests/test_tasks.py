"""mymodule's tasks in myapp: eagerly in the test, and through a real worker."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.worker import WorkController
from flask import Flask

from mymodule.tasks import appctx, reqctx


def test_tasks_run_eagerly_in_myapp(app: Flask, celery_app: Celery) -> None:
    assert celery_app.flask_app is app
    assert {"mymodule.tasks.appctx", "mymodule.tasks.reqctx"} <= set(celery_app.tasks)
    with app.app_context():
        assert appctx.delay().get() == "myapp"
        assert reqctx.delay().get() == "GET"


@pytest.mark.parametrize("celery_broker", ["memory", "embedded", "redis"])
def test_worker_runs_the_tasks_in_myapp(app: Flask, celery_worker: WorkController) -> None:
    assert celery_worker.app.flask_app is app
    with app.app_context():
        results = [appctx.delay(), reqctx.delay()]
    assert [result.get(timeout=20) for result in results] == ["myapp", "GET"]
