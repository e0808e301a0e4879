"""Tests written with celery.contrib.pytest's documented fixtures, run with appfactory's."""

import pytest
from celery.contrib.testing.worker import TestWorkController
from flask import current_app

from mymodule.tasks import appctx


def test_session_worker_runs_the_apps_tasks(celery_session_app, celery_session_worker):
    assert celery_session_app.flask_app.name == "myapp"
    assert celery_session_app.conf.broker_url.startswith("sqlite-embedded://")
    assert celery_session_app.conf.result_extended
    assert isinstance(celery_session_worker, TestWorkController)
    # Outside any app context, as with Celery's plugin: the session app is current.
    assert appctx.delay().get(timeout=10) == "myapp"


def test_includes_reach_the_session_worker(celery_session_app, celery_session_worker):
    assert celery_session_app.tasks["tests.where"].delay().get(timeout=10) == "myapp"


def test_task_defined_in_the_test(celery_app, celery_worker):
    # The example of Celery's documentation, "Testing with pytest".
    @celery_app.task
    def mul(x, y):
        return x * y, current_app.name

    celery_worker.reload()
    assert mul.delay(4, 4).get(timeout=10) == [16, "myapp"]


def test_app_and_worker_are_one(app, celery_app, celery_worker):
    assert celery_worker.app is celery_app
    assert celery_app.flask_app is app
    assert not celery_app.conf.task_always_eager
    with app.app_context():
        assert appctx.delay().get(timeout=10) == "myapp"


@pytest.mark.celery(task_default_priority=3)
def test_marker_goes_over_celery_config(celery_app, celery_worker):
    assert celery_app.conf.task_default_priority == 3
    assert celery_app.conf.result_extended
    assert celery_app.tasks["tests.where"].delay().get(timeout=10) == "myapp"


def test_depends_on_current_app(celery_app, depends_on_current_app):
    from celery import current_app as current_celery

    assert current_celery._get_current_object() is celery_app
