"""Security of the Celery side, with real workers and a real Redis.

- Workers accept JSON only: a pickle message, whose loading would run code,
  is refused and never loaded (and, as a control, the same message is loaded
  by a worker that opted in to pickle, so the refusal is not an accident of a
  malformed message).
- Secrets never reach any output: planted in ``SECRET_KEY``, a ``*_PASSWORD``,
  a ``*_TOKEN``, an ``*_API_KEY`` and the broker URL's password, they are
  absent from ``myapp config show``, ``myapp check``, ``myapp packages``,
  errors, the web side's logs, the worker's banner and logs, and the
  configuration a worker reports to ``celery inspect conf``.
- The embedded broker keeps its messages in a store of mode 0o600 in a folder of 0o700.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path

import pytest
from flask import Flask
from kombu import Connection, Exchange, Queue
from servers import LOOPBACK, Server, free_port, start_private_redis, wait_until
from workers import WORKER_APPS, Worker, start_worker

from appfactory.celery import BrokerUnavailableError, celeryfactory
from appfactory.core import AppFactoryError, appfactory, describe_exception

pytestmark = pytest.mark.timeout(180)

REDIS_DB = 6


@pytest.fixture
def workers(tmp_path: Path) -> t.Iterator[t.Callable[..., Worker]]:
    """Start workers with ``workers(module, env)``; each is stopped (by its PID) at the end."""
    started: list[Worker] = []

    def start(module: str, env: dict[str, str]) -> Worker:
        worker = start_worker(module, env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def wapp(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., Flask]:
    monkeypatch.syspath_prepend(str(WORKER_APPS))
    from wapp.app import create_app

    return t.cast(t.Callable[..., Flask], create_app)


# -- Pickle is refused -----------------------------------------------------------------------


class Trap:
    """Unpickling this runs ``touch <path>``: what a hostile pickle message could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[t.Any, tuple[str]]:
        return (os.system, (f"touch {self.path}",))


def send_pickle_message(url: str, queue: str, task_id: str, target: Path) -> None:
    """Publish, with kombu alone, a task message of ``wtasks.tasks.where`` serialized by pickle.

    Its positional argument unpickles to ``os.system("touch <target>")``, so
    the file appears exactly when a worker loads the message.
    """
    body = ((Trap(target),), {}, {"callbacks": None, "errbacks": None, "chain": None})
    headers = {
        "lang": "py",
        "task": "wtasks.tasks.where",
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": "(<trap>,)",
        "kwargsrepr": "{}",
        "origin": "test_worker_security",
        "ignore_result": False,
    }
    with Connection(url, connect_timeout=5) as connection:
        exchange = Exchange(queue, type="direct")
        connection.Producer().publish(
            body,
            serializer="pickle",
            exchange=exchange,
            routing_key=queue,
            declare=[Queue(queue, exchange, routing_key=queue)],
            headers=headers,
            retry=True,
            retry_policy={"max_retries": 3},
        )


@pytest.mark.parametrize("broker", ["redis", "embedded"])
@pytest.mark.parametrize("accept", ["default", "pickle opted in"])
def test_worker_refuses_a_pickle_message_unless_opted_in(
    accept: str,
    broker: str,
    request: pytest.FixtureRequest,
    wapp: t.Callable[..., Flask],
    workers: t.Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """The message is planted in the broker (for the embedded one: in its store)."""
    queue = f"appfactory-pickle-{uuid.uuid4().hex[:8]}"
    settings = {"CELERY_TASK_DEFAULT_QUEUE": queue}
    if broker == "redis":
        redis_server: Server = request.getfixturevalue("redis_server")
        settings["CELERY_BROKER_URL"] = f"{redis_server.url}/{REDIS_DB}"
    env = {f"WAPP_{k}": v for k, v in settings.items()}
    if accept != "default":
        env["WAPP_CELERY_ACCEPT_CONTENT"] = "['json', 'pickle']"
        # Celery itself refuses to run a pickle-accepting worker as root without this.
        env["C_FORCE_ROOT"] = "1"
    worker = workers("wapp.celery", env)
    app = wapp(**settings)
    target = tmp_path / "unpickled"
    trap_id = uuid.uuid4().hex

    send_pickle_message(app.config["CELERY_BROKER_URL"], queue, trap_id, target)
    from wtasks.tasks import marker, where

    with app.app_context():
        # Sent after the pickle message, on the same queue: once it ran, the
        # worker has dealt with the pickle message.
        assert marker.delay().get(timeout=30) == "unset"
        trapped = where.AsyncResult(trap_id)
        if accept == "default":
            assert trapped.state == "PENDING"
        else:
            assert trapped.get(timeout=30) == worker.name

    output = worker.output()
    if accept == "default":
        assert not target.exists(), "the worker loaded a pickle message"
        assert (
            "Refusing to deserialize untrusted content of type pickle "
            "(application/x-python-serialize)"
        ) in output
        assert f"Task wtasks.tasks.where[{trap_id}] received" not in output
    else:
        # The control: the same message, loaded, runs its code.
        assert wait_until(target.exists, 10)
        assert f"Task wtasks.tasks.where[{trap_id}] succeeded" in output


def test_web_side_sends_json_only(wapp: t.Callable[..., Flask]) -> None:
    """Messages leave the web side as JSON, so no worker ever needs to accept pickle."""
    app = wapp(CELERY_BROKER_URL="memory://")
    celery = celeryfactory(app)
    from wtasks.tasks import marker

    with app.app_context(), celery.connection_for_write() as connection:
        marker.delay()
        message = connection.SimpleQueue(celery.conf.task_default_queue).get(timeout=5)
    assert message.content_type == "application/json"
    assert celery.conf.accept_content == ["json"]
    assert celery.conf.result_accept_content == ["json"]


# -- Secrets never reach any output ----------------------------------------------------------


def planted(name: str) -> str:
    return f"planted-{name}-{uuid.uuid4().hex[:12]}"


def run(*command: str, env: dict[str, str], cwd: Path) -> str:
    """Run a command; returns its standard output and error together."""
    result = subprocess.run(
        list(command), env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    return f"$ {' '.join(command)} (exit {result.returncode})\n{result.stdout}{result.stderr}"


def test_planted_secrets_never_appear_in_any_output(
    workers: t.Callable[..., Worker],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    secrets = {
        "SECRET_KEY": planted("secret-key"),
        "MAIL_PASSWORD": planted("mail-password"),
        "GITHUB_TOKEN": planted("github-token"),
        "STRIPE_API_KEY": planted("stripe-api-key"),
    }
    # A '+' is a character of a URL's password that needs no encoding.
    broker_password = planted("broker+password")
    server = start_private_redis(broker_password)
    try:
        instance = tmp_path / "instance" / "myapp"
        instance.mkdir(parents=True, mode=0o700)
        (instance / "myapp.cfg").write_text(f"SECRET_KEY = {secrets['SECRET_KEY']!r}\n")
        env = {
            "MYAPP_INSTANCE_PATH": str(instance),
            "MYAPP_CELERY_BROKER_URL": f"{server.url}/0",
            "MYAPP_CELERY_TASK_DEFAULT_QUEUE": f"appfactory-secrets-{uuid.uuid4().hex[:8]}",
            **{f"MYAPP_{key}": value for key, value in secrets.items() if key != "SECRET_KEY"},
        }
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        everything = {**secrets, "broker password": broker_password}
        bin_dir = Path(sys.executable).parent
        process_env = {**os.environ, **env}
        outputs: list[str] = []

        # The management command.
        for args in (
            ["config", "show"],
            ["config", "show", "--history", "SECRET_KEY"],
            *(["config", "show", "--history", key] for key in secrets),
            ["config", "show", "--history", "CELERY_BROKER_URL"],
            ["config", "show", "--history", "CELERY_RESULT_BACKEND"],
            ["check", "--fail-level", "info"],
            ["packages"],
        ):
            outputs.append(run(str(bin_dir / "myapp"), *args, env=process_env, cwd=tmp_path))
        bad_scheme = {**process_env, "MYAPP_CELERY_BROKER_URL": f"reddis://:{broker_password}@h/0"}
        outputs.append(run(str(bin_dir / "myapp"), "check", env=bad_scheme, cwd=tmp_path))

        # The worker: its banner, its logs (in debug, so that the app's own
        # info lines are logged too), and the configuration it reports.
        worker = workers("myapp.celery", {**env, "MYAPP_DEBUG": "true"})
        from myapp.app import create_app
        from mymodule.tasks import appctx, reqctx

        with caplog.at_level(logging.DEBUG):
            app = create_app()
            celeryfactory(app, load_tasks=False)
            with app.app_context():
                assert appctx.delay().get(timeout=30) == "myapp"
                assert reqctx.delay().get(timeout=30) == "GET"
        inspect = ["-A", "myapp.celery", "inspect", "conf", "--timeout", "10", "-d", worker.name]
        outputs.append(run(str(bin_dir / "celery"), *inspect, env=process_env, cwd=tmp_path))
        outputs.append(worker.output())
        outputs.append(caplog.text)

        # Errors: a broker that is down, on a URL with the password.
        down = f"redis://:{broker_password}@{LOOPBACK}:{free_port()}/0"
        sender = appfactory(
            "testapp", None, EXTENSIONS=["appfactory.celery"], CELERY_BROKER_URL=down
        )
        celeryfactory(sender, load_tasks=False)
        with sender.app_context(), pytest.raises(BrokerUnavailableError) as info:
            appctx.apply_async(retry_policy={"max_retries": 0})
        outputs.append(str(info.value))
        cause = info.value.__cause__
        assert isinstance(cause, BaseException)
        outputs.append(describe_exception(cause))
        assert isinstance(info.value, AppFactoryError)
    finally:
        server.stop()

    text = "\n".join(outputs)
    # The secrets were there to leak: the app holds them, the outputs name their keys.
    assert app.config["SECRET_KEY"] == secrets["SECRET_KEY"]
    assert app.config["STRIPE_API_KEY"] == secrets["STRIPE_API_KEY"]
    for line in (
        "SECRET_KEY = ********  [instance file",
        "MAIL_PASSWORD = ********  [environment variable (MYAPP_MAIL_PASSWORD)]",
        "GITHUB_TOKEN = ********",
        "STRIPE_API_KEY = ********",
        f"CELERY_BROKER_URL = 'redis://:********@{LOOPBACK}:",
        "Celery broker of myapp: redis://:********@",
        "transport:   redis://:**@",
        "appctx runs in myapp with broker redis://:********@",
        '"broker_url": "redis://:********@',
        "CELERY_BROKER_URL = 'reddis://:********@h/0' has the unknown scheme",
        "was not sent: the broker redis://:********@",
    ):
        assert line in text, f"{line!r} not in the outputs:\n{text}"
    leaked = [name for name, secret in everything.items() if secret in text]
    assert leaked == [], f"{leaked} leaked into the outputs:\n{text}"


#: Broker URLs whose password a URL parser does not find; ``{secret}`` is planted.
UNPARSED_PASSWORDS = {
    "raw characters": "redis://:{secret}/a#b?c+d@127.0.0.1:6379/0",
    "raw slash in an amqp password": "amqp://guest:{secret}/x@127.0.0.1:5672//",
    "query string": "redis://127.0.0.1:6379/0?password={secret}",
    "list of URLs": "redis://:{secret}#x@127.0.0.1:6379/0;redis://127.0.0.1:6380/0",
}


@pytest.mark.parametrize("url", UNPARSED_PASSWORDS.values(), ids=list(UNPARSED_PASSWORDS))
def test_a_password_a_url_parser_misses_never_appears(url: str, tmp_path: Path) -> None:
    """Refused when the app is made, by every command and by the worker, never shown."""
    secret = planted("unparsed")
    instance = tmp_path / "instance" / "myapp"
    instance.mkdir(parents=True, mode=0o700)
    env = {
        **os.environ,
        "MYAPP_INSTANCE_PATH": str(instance),
        "MYAPP_CELERY_BROKER_URL": url.format(secret=secret),
    }
    bin_dir = Path(sys.executable).parent
    outputs = [
        run(str(bin_dir / "myapp"), *args, env=env, cwd=tmp_path)
        for args in (
            ["config", "show"],
            ["config", "show", "--history", "CELERY_BROKER_URL"],
            ["check"],
            ["--traceback", "check"],
            ["packages"],
        )
    ]
    worker = [str(bin_dir / "celery"), "-A", "myapp.celery", "worker", "--pool", "solo"]
    outputs.append(run(*worker, env=env, cwd=tmp_path))
    text = "\n".join(outputs)

    assert secret not in text, text
    assert "********" in text
    for output in outputs:
        # Every command refuses the app, naming the setting (the worker after Celery's stack).
        assert "(exit 0)" not in output.splitlines()[0], output
        assert "CELERY_BROKER_URL = '" in output, output


# -- The embedded broker's folders -----------------------------------------------------------


def test_embedded_broker_messages_are_private(tmp_path: Path) -> None:
    previous = os.umask(0)  # the most permissive umask
    try:
        app = appfactory(
            "testapp",
            None,
            EXTENSIONS=["appfactory.celery"],
            PACKAGES=["mymodule"],
        )
        celery = celeryfactory(app)
        from mymodule.tasks import appctx

        with app.app_context():
            appctx.delay()
    finally:
        os.umask(previous)

    instance = Path(app.instance_path)
    for folder in [instance, instance / "celery"]:
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        assert mode == 0o700, f"{folder}: {oct(mode)}"
    files = sorted(p.name for p in (instance / "celery").iterdir())
    assert files[0] == "store.sqlite3"
    assert set(files) <= {
        "store.sqlite3",
        "store.sqlite3-wal",
        "store.sqlite3-shm",
    }
    for name in files:
        mode = stat.S_IMODE(os.stat(instance / "celery" / name).st_mode)
        assert mode == 0o600, f"{name}: {oct(mode)}"
    # The message is there, in that store.
    with sqlite3.connect(instance / "celery" / "store.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    assert celery.conf.broker_url.startswith("sqlite-embedded:///")


def test_filesystem_broker_named_keeps_private_folders(tmp_path: Path) -> None:
    """kombu's filesystem transport, named explicitly, still gets private folders."""
    previous = os.umask(0)
    try:
        app = appfactory(
            "testapp",
            None,
            EXTENSIONS=["appfactory.celery"],
            PACKAGES=["mymodule"],
            CELERY_BROKER_URL="filesystem://",
        )
        celery = celeryfactory(app)
        from mymodule.tasks import appctx

        with app.app_context():
            appctx.delay()
    finally:
        os.umask(previous)

    instance = Path(app.instance_path)
    folders = sorted(p for p in (instance / "celery").rglob("*") if p.is_dir())
    assert [p.name for p in folders] == ["control", "processed", "queue", "results"]
    for folder in [instance, instance / "celery", *folders]:
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        assert mode == 0o700, f"{folder}: {oct(mode)}"
    assert len(list((instance / "celery" / "queue").iterdir())) == 1
    assert celery.conf.broker_url == "filesystem://"
