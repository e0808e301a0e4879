"""Where tasks go (the shell's banner line) and a wait that says no worker listens."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from flask import Flask
from test_worker import BROKERS, as_env, broker_settings
from test_worker import wapp as wapp  # a fixture, used by its name
from test_worker import workers as workers  # a fixture, used by its name
from workers import Worker

from appfactory.celery import NoWorkerError, celeryfactory
from appfactory.celery.waiting import where_tasks_go
from appfactory.core import appfactory

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def make_app(tmp_path: Path) -> t.Callable[..., Flask]:
    def make(**config: t.Any) -> Flask:
        return appfactory(
            "bannerapp",
            None,
            instance_path=str(tmp_path / "instance"),
            EXTENSIONS=["appfactory.celery"],
            **config,
        )

    return make


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (
            {},
            "Celery: tasks go to the embedded broker in {instance}/celery; results with the tasks.",
        ),
        (
            {"CELERY_BROKER_URL": "redis://:s3cret@127.0.0.1:6379/3"},
            "Celery: tasks go to redis://:********@127.0.0.1:6379/3; results with the tasks.",
        ),
        (
            {"CELERY_BROKER_URL": "amqp://guest:s3cret@127.0.0.1:5672//"},
            "Celery: tasks go to amqp://guest:********@127.0.0.1:5672//; results in rpc://.",
        ),
        (
            {
                "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
                "CELERY_RESULT_BACKEND": "redis://:s3cret@127.0.0.1:6379/4",
            },
            "Celery: tasks go to redis://127.0.0.1:6379/3; "
            "results in redis://:********@127.0.0.1:6379/4.",
        ),
        (
            {"CELERY_BROKER_URL": "memory://"},
            "Celery: tasks go to memory://; no result backend (results cannot be waited for).",
        ),
    ],
)
def test_the_banner_line(
    make_app: t.Callable[..., Flask], tmp_path: Path, config: dict[str, str], line: str
) -> None:
    app = make_app(**config)
    assert where_tasks_go(app, celeryfactory(app, load_tasks=False)) == line.format(
        instance=tmp_path / "instance"
    )


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_no_worker_on_a_server_broker(
    kind: str, request: pytest.FixtureRequest, wapp: t.Callable[..., Flask]
) -> None:
    settings = broker_settings(kind, request)
    app = wapp(**settings)
    from mymodule.tasks import appctx

    celery = celeryfactory(app, load_tasks=False)
    try:
        with app.app_context():
            result = appctx.delay()
            with pytest.raises(NoWorkerError) as caught:
                result.get(timeout=0.5)
    finally:
        celery.control.purge()
    broker = settings["CELERY_BROKER_URL"].replace("guest:guest@", "guest:********@")
    assert str(caught.value) == (
        f"No result for task {result.id}: no worker listens on {broker}, where it waits "
        "until one takes it. Start a worker with this app's settings: celery -A wapp.celery worker"
    )
    assert isinstance(caught.value, CeleryTimeoutError)


@pytest.mark.parametrize("kind", BROKERS)
def test_a_slow_task_with_a_worker_is_a_plain_timeout(
    kind: str,
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
) -> None:
    """A worker answers: the task is only slow, so Celery's own TimeoutError."""
    settings = broker_settings(kind, request)
    workers("wapp.celery", as_env("WAPP", settings))
    app = wapp(**settings)
    from wtasks.tasks import where

    with app.app_context():
        result = where.delay(3.0)
        with pytest.raises(CeleryTimeoutError) as caught:
            result.get(timeout=0.5)
        assert not isinstance(caught.value, NoWorkerError)
        assert result.get(timeout=30)
