"""Real workers over real brokers: tasks run in the app context of the worker's app."""

from __future__ import annotations

import typing as t
import uuid
from pathlib import Path

import pytest
from flask import Flask
from servers import Server
from workers import WORKER_APPS, Worker, start_worker

pytestmark = pytest.mark.timeout(180)

BROKERS = ["embedded", "redis", "rabbitmq"]
REDIS_DB = 5


def broker_settings(kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings (without prefix) that point an app at a broker, on a queue of its own."""
    settings = {"CELERY_TASK_DEFAULT_QUEUE": f"appfactory-test-{uuid.uuid4().hex[:8]}"}
    if kind == "redis":
        server: Server = request.getfixturevalue("redis_server")
        settings["CELERY_BROKER_URL"] = f"{server.url}/{REDIS_DB}"
    elif kind == "rabbitmq":
        server = request.getfixturevalue("rabbitmq_server")
        settings["CELERY_BROKER_URL"] = server.url
    return settings


def as_env(prefix: str, settings: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}_{key}": value for key, value in settings.items()}


@pytest.fixture
def wapp(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., Flask]:
    """The factory of the worker tests' app, importable in this process."""
    monkeypatch.syspath_prepend(str(WORKER_APPS))
    from wapp.app import create_app

    return t.cast(t.Callable[..., Flask], create_app)


@pytest.fixture
def workers(tmp_path: Path) -> t.Iterator[t.Callable[..., Worker]]:
    """Start workers with ``workers(module, env)``; all are stopped after the test."""
    started: list[Worker] = []

    def start(module: str, env: dict[str, str], **options: t.Any) -> Worker:
        worker = start_worker(module, env, tmp_path / f"worker-{len(started)}.log", **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.mark.parametrize("kind", BROKERS)
def test_worker_runs_tasks_in_its_app(
    kind: str,
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
) -> None:
    settings = broker_settings(kind, request)
    worker = workers("wapp.celery", {**as_env("WAPP", settings), "WAPP_MARKER": "worker"})
    app = wapp(**settings)

    from wtasks.tasks import fail, flaky, marker

    from mymodule.tasks import appctx, reqctx

    with app.app_context():
        assert appctx.delay().get(timeout=20) == "wapp"
        assert reqctx.delay().get(timeout=20) == "GET"
        # The task ran with the worker's configuration, not the sender's.
        assert app.config["MARKER"] == "unset"
        assert marker.delay().get(timeout=20) == "worker"
        with pytest.raises(ValueError, match="planned failure"):
            fail.delay().get(timeout=20)
        assert flaky.delay(2).get(timeout=30) == 2

    output = worker.output()
    assert "appctx runs in wapp" in output
    assert "planned failure" in output
    assert "Retry in" in output


def test_example_app_on_the_embedded_broker(workers: t.Callable[..., Worker]) -> None:
    """The tutorial: ``celery -A myapp.celery worker``, then appctx and reqctx."""
    worker = workers("myapp.celery", {})
    from myapp.app import create_app
    from mymodule.tasks import appctx, reqctx

    app = create_app()
    with app.app_context():
        assert appctx.delay().get(timeout=20) == "myapp"
        assert reqctx.delay().get(timeout=20) == "GET"
    banner = worker.output()
    assert f"transport:   sqlite-embedded://{app.instance_path}/celery/store.sqlite3" in banner
    assert "mymodule.tasks.appctx" in banner


def test_two_apps_in_one_process_use_their_own_brokers(
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
) -> None:
    over_redis = broker_settings("redis", request)
    embedded = broker_settings("embedded", request)
    workers("wapp.celery", {**as_env("WAPP", over_redis), "WAPP_MARKER": "A"})
    workers("wapp.celery", {**as_env("WAPP", embedded), "WAPP_MARKER": "B"})
    app_a = wapp(MARKER="sender A", **over_redis)
    app_b = wapp(MARKER="sender B", **embedded)

    from wtasks.tasks import marker

    for _ in range(2):
        with app_a.app_context():
            assert marker.app.conf.broker_url.startswith("redis://")
            assert marker.delay().get(timeout=20) == "A"
        with app_b.app_context():
            assert marker.app.conf.broker_url.startswith("sqlite-embedded:///")
            assert marker.delay().get(timeout=20) == "B"


@pytest.mark.parametrize("kind", ["redis", "embedded"])
def test_several_workers_share_a_queue(
    kind: str,
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
) -> None:
    settings = broker_settings(kind, request)
    first = workers("wapp.celery", as_env("WAPP", settings))
    second = workers("wapp.celery", as_env("WAPP", settings))
    app = wapp(**settings)

    from wtasks.tasks import where

    with app.app_context():
        results = [where.delay(0.05) for _ in range(30)]
        hosts = [result.get(timeout=60) for result in results]
    assert len(hosts) == 30
    assert set(hosts) == {first.name, second.name}


def test_broker_password_is_masked_in_banner_and_logs(
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from servers import start_private_redis

    password = f"planted-{uuid.uuid4().hex}"
    server = start_private_redis(password)
    try:
        settings = {"CELERY_BROKER_URL": f"{server.url}/0"}
        worker = workers("wapp.celery", {**as_env("WAPP", settings), "WAPP_DEBUG": "true"})
        with caplog.at_level("INFO"):
            app = wapp(**settings)
        from wtasks.tasks import marker

        with app.app_context():
            assert marker.delay().get(timeout=20) == "unset"
        logged = caplog.text + worker.output()
        assert "Celery broker of wapp: redis://:********@127.0.0.1" in caplog.text
        assert "transport:   redis://:**@127.0.0.1" in worker.output()
        assert password not in logged
    finally:
        server.stop()


def test_worker_on_the_embedded_broker_without_the_redis_extra(
    workers: t.Callable[..., Worker],
    wapp: t.Callable[..., Flask],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kombu's Redis transport needs ``packaging`` (the [redis] extra): not imported here."""
    shim = tmp_path / "without-redis-extra"
    for name in ("packaging", "redis"):
        (shim / name).mkdir(parents=True)
        (shim / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed (a fresh install without [redis])')\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(shim))
    worker = workers("wapp.celery", {})
    app = wapp()
    from wtasks.tasks import marker

    with app.app_context():
        assert marker.delay().get(timeout=30) == "unset"
    assert "Unrecoverable error" not in worker.output()
