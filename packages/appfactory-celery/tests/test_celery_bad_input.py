"""What a user can get wrong with Celery, told plainly.

The same promises as appfactory-core's ``test_bad_input.py``, for the
mistakes met when the Celery app is made (``CONFIG_CASES``) and when a task is
sent or its result fetched (``SEND_CASES``): the exact error, a message that
names the culprit and the fix (never a password), one ``Error:`` line from the
management command, a bounded wait, and nothing half-applied.

A broker that is down is a free loopback port on which nothing listens.
"""

from __future__ import annotations

import functools
import re
import time
import typing as t
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery import _state
from celery.exceptions import ImproperlyConfigured
from click.testing import CliRunner, Result
from flask import Flask
from kombu.exceptions import EncodeError, OperationalError
from servers import LOOPBACK, Server, free_port, start_private_redis

from appfactory.celery import (
    BrokerUnavailableError,
    NoResultBackendError,
    TaskArgumentError,
    celeryfactory,
)
from appfactory.celery.state import get_state
from appfactory.core import (
    AppFactoryError,
    AppFactoryWarning,
    ConfigError,
    ExtensionError,
    PackageModuleError,
    appfactory,
    clifactory,
    describe_exception,
)

pytestmark = [
    pytest.mark.timeout(120),
    # Apps of earlier tests, not yet collected, meet this test's new sendpkg.tasks.
    pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning"),
]

PLANTED = "planted-broker-password"
TRACEBACK_HINT = "  (run with --traceback to see the full stack)"

#: A package whose commands send a task, as a web view or a command would.
SENDER = {
    "tasks.py": """\
        from celery import shared_task


        @shared_task
        def work(*args, **kwargs):
            return len(args) + len(kwargs)
        """,
    "cli.py": """\
        import click
        from flask.cli import with_appcontext

        from sendpkg.tasks import work


        class Order:
            pass


        @click.command("send")
        @with_appcontext
        def send():
            click.echo(work.delay(1).id)


        @click.command("send-set")
        @with_appcontext
        def send_set():
            work.delay(1, tags={"new", "paid"})


        @click.command("send-object")
        @with_appcontext
        def send_object():
            work.delay(Order())


        @click.command("fetch")
        @with_appcontext
        def fetch():
            click.echo(work.delay(1).get(timeout=5))


        @click.command("send-pickle")
        @with_appcontext
        def send_pickle():
            work.apply_async((1,), serializer="pickle")


        @click.command("send-int-keys")
        @with_appcontext
        def send_int_keys():
            work.delay({"totals": {2025: 10, 2026: 12}})


        commands = [send, send_set, send_object, fetch, send_pickle, send_int_keys]
        """,
}


def make_app(load: bool = True, **config: t.Any) -> Flask:
    config.setdefault("EXTENSIONS", ["appfactory.celery"])
    config.setdefault("SECRET_KEY", "test")
    return appfactory("testapp", None, load=load, **config)


def invoke(config: dict[str, t.Any], *args: str, **kwargs: t.Any) -> Result:
    return CliRunner().invoke(clifactory(make_app, **config), list(args), **kwargs)


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def assert_one_error_line(result: Result, expected: str | re.Pattern[str]) -> None:
    """Exit status 1, ``Error: <expected>`` and the hint, nothing else but warnings."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if not line.startswith("Warning:")]
    assert lines[-1] == TRACEBACK_HINT, result.output
    assert len(lines) == 2, result.output
    if isinstance(expected, str):
        assert lines[0] == f"Error: {expected}"
    else:
        assert expected.fullmatch(lines[0]), lines[0]
    assert "Traceback" not in result.output


# -- Mistakes met when the Celery app is made ------------------------------------------------


@dataclass(frozen=True)
class ConfigCase:
    id: str
    error: type[AppFactoryError]
    #: The exception the error is chained to (a ConfigError behind EXTENSIONS).
    cause: type[BaseException]
    culprit: tuple[str, ...]
    fix: str
    config: dict[str, t.Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    packages: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The instance file ``testapp.cfg``.
    instance: str | None = None
    #: ``"factory"``: making the app fails; ``"tasks"``: loading the tasks does.
    raised_by: str = "factory"


CONFIG_CASES = [
    ConfigCase(
        "broker-url-with-unknown-scheme",
        ExtensionError,
        ConfigError,
        (
            f"CELERY_BROKER_URL = 'reddis://:********@{LOOPBACK}:6379/0' has the unknown "
            "scheme 'reddis'",
        ),
        "Use one of: ",
        config={"CELERY_BROKER_URL": f"reddis://:{PLANTED}@{LOOPBACK}:6379/0"},
    ),
    ConfigCase(
        "legacy-broker-url-with-unknown-scheme-from-the-environment",
        ExtensionError,
        ConfigError,
        ("BROKER_URL = 'rabbitmq://guest:********@rabbit//' has the unknown scheme 'rabbitmq'",),
        "or leave it unset for the embedded broker.",
        env={"TESTAPP_BROKER_URL": f"rabbitmq://guest:{PLANTED}@rabbit//"},
    ),
    ConfigCase(
        "broker-password-with-raw-characters",
        ExtensionError,
        ConfigError,
        (
            f"CELERY_BROKER_URL = 'redis://:********@{LOOPBACK}:6379/0' has a password with a "
            "raw '#' and '/' and '?', which ends the URL's host part early",
        ),
        "Percent-encode the password: urllib.parse.quote(password, safe='')",
        config={"CELERY_BROKER_URL": f"redis://:{PLANTED}/x#y?z+w@{LOOPBACK}:6379/0"},
    ),
    ConfigCase(
        "broker-password-in-the-query-string",
        ExtensionError,
        ConfigError,
        (
            f"CELERY_BROKER_URL = 'redis://{LOOPBACK}:6379/0?password=********' has its "
            "password in the query string, which kombu cannot read for a broker.",
        ),
        "Put it before the host instead: redis://:PASSWORD@host:6379/0",
        env={"TESTAPP_CELERY_BROKER_URL": f"redis://{LOOPBACK}:6379/0?password={PLANTED}"},
    ),
    ConfigCase(
        "broker-url-not-a-string",
        ExtensionError,
        ConfigError,
        ("CELERY_BROKER_URL must be a broker URL",),
        "such as 'redis://127.0.0.1:6379/0', not 6379.",
        config={"CELERY_BROKER_URL": 6379},
    ),
    ConfigCase(
        "typed-celery-setting-malformed-in-the-environment",
        ExtensionError,
        ConfigError,
        (
            "CELERY_BROKER_CONNECTION_TIMEOUT='fast' (environment variable "
            "(TESTAPP_CELERY_BROKER_CONNECTION_TIMEOUT)) is not a valid float",
        ),
        "give a number such as 2.5.",
        env={"TESTAPP_CELERY_BROKER_CONNECTION_TIMEOUT": "fast"},
    ),
    ConfigCase(
        "boolean-celery-setting-malformed",
        ExtensionError,
        ConfigError,
        ("CELERY_TASK_ALWAYS_EAGER='perhaps' (keyword argument", "is not a valid bool"),
        "give true or false (also yes/no, on/off, 1/0).",
        config={"CELERY_TASK_ALWAYS_EAGER": "perhaps"},
    ),
    ConfigCase(
        "old-and-new-broker-names-mixed",
        ExtensionError,
        ConfigError,
        ("BROKER_URL (instance file", "and CELERY_BROKER_URL (keyword argument"),
        "Keep one of them, preferably CELERY_BROKER_URL.",
        config={"CELERY_BROKER_URL": "memory://"},
        instance=f"BROKER_URL = 'redis://:{PLANTED}@{LOOPBACK}/0'\n",
    ),
    ConfigCase(
        "pickle-serializer-not-accepted",
        ExtensionError,
        ConfigError,
        ("CELERY_TASK_SERIALIZER is 'pickle', but CELERY_ACCEPT_CONTENT allows only ['json']",),
        "To opt in, set CELERY_ACCEPT_CONTENT = ['json', 'pickle']",
        config={"CELERY_TASK_SERIALIZER": "pickle"},
    ),
    ConfigCase(
        "accept-content-given-as-text",
        ExtensionError,
        ConfigError,
        ("CELERY_TASK_SERIALIZER is 'pickle', but CELERY_ACCEPT_CONTENT allows only ['json']",),
        "To opt in, set CELERY_ACCEPT_CONTENT = ['json', 'pickle']",
        config={"CELERY_ACCEPT_CONTENT": "json", "CELERY_TASK_SERIALIZER": "pickle"},
    ),
    ConfigCase(
        "flask-celery-dict-names-no-setting",
        ExtensionError,
        ConfigError,
        (
            "CELERY['brokr_url'] (keyword argument",
            "is not a Celery setting. Did you mean 'broker_url'?",
        ),
        "Give Celery's lower-case names, such as CELERY = {'broker_url': ",
        config={"CELERY": {"brokr_url": f"redis://:{PLANTED}@{LOOPBACK}:6379/0"}},
    ),
    ConfigCase(
        "flask-celery-dict-not-a-dict",
        ExtensionError,
        ConfigError,
        ("CELERY (keyword argument", "is of type list"),
        "give a dict of Celery's lower-case settings",
        config={"CELERY": [f"redis://:{PLANTED}@{LOOPBACK}:6379/0"]},
    ),
    ConfigCase(
        "flask-celery-dict-and-setting-both",
        ExtensionError,
        ConfigError,
        ("CELERY['broker_url'] (keyword argument", "and CELERY_BROKER_URL (instance file"),
        "Keep one of them, preferably CELERY_BROKER_URL.",
        config={"CELERY": {"broker_url": "memory://"}},
        instance=f"CELERY_BROKER_URL = 'redis://:{PLANTED}@{LOOPBACK}/0'\n",
    ),
    ConfigCase(
        "tasks-module-raises",
        PackageModuleError,
        RuntimeError,
        ("Module 'pkg_bad.tasks' of package 'pkg_bad' failed to import", "RuntimeError: boom"),
        "Fix the error in pkg_bad.tasks, or remove 'pkg_bad' from PACKAGES.",
        config={"PACKAGES": ["pkg_bad"]},
        packages={"pkg_bad": {"tasks.py": "raise RuntimeError('boom')\n"}},
        raised_by="tasks",
    ),
    ConfigCase(
        "tasks-module-needs-a-missing-dependency",
        PackageModuleError,
        ModuleNotFoundError,
        ("Module 'pkg_bad.tasks' of package 'pkg_bad'", "No module named 'qwxzy_client'"),
        "Fix the error in pkg_bad.tasks, or remove 'pkg_bad' from PACKAGES.",
        config={"PACKAGES": ["pkg_bad"]},
        packages={"pkg_bad": {"tasks.py": "import qwxzy_client\n"}},
        raised_by="tasks",
    ),
]


@pytest.fixture
def config_case(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    make_package: t.Callable[[str, dict[str, str]], Path],
    isolated: Path,
) -> ConfigCase:
    case: ConfigCase = request.param
    for name, files in case.packages.items():
        make_package(name, files)
    for variable, value in case.env.items():
        monkeypatch.setenv(variable, value)
    if case.instance is not None:
        folder = isolated / "testapp"
        folder.mkdir(parents=True)
        (folder / "testapp.cfg").write_text(case.instance)
    return case


def raise_config_case(case: ConfigCase) -> AppFactoryError:
    act = (
        functools.partial(make_app, **case.config)
        if case.raised_by == "factory"
        else lambda: celeryfactory(make_app(**case.config))
    )
    with pytest.raises(AppFactoryError) as info:
        act()
    return info.value


by_config_case = pytest.mark.parametrize(
    "config_case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES], indirect=True
)


@by_config_case
def test_config_error_names_the_culprit_and_the_fix(config_case: ConfigCase) -> None:
    error = raise_config_case(config_case)

    assert type(error) is config_case.error
    assert type(error.__cause__) is config_case.cause
    message = str(error)
    for text in config_case.culprit:
        assert text in message
    assert config_case.fix in message
    assert PLANTED not in message
    assert "\n" not in message


@by_config_case
def test_config_error_is_one_line_on_the_command_line(config_case: ConfigCase) -> None:
    expected = str(raise_config_case(config_case))

    assert_one_error_line(invoke(config_case.config, "check"), expected)
    with pytest.raises(config_case.error) as info:
        invoke(config_case.config, "--traceback", "check", catch_exceptions=False)
    assert str(info.value) == expected


@by_config_case
def test_config_error_leaves_nothing_half_applied(config_case: ConfigCase, isolated: Path) -> None:
    instance = isolated / "testapp"
    before = listing(instance)
    current = _state.get_current_app()

    first = raise_config_case(config_case)

    if config_case.raised_by == "factory":
        # Refused before the embedded broker's folders or anything else was made.
        assert listing(instance) == before
    else:
        app = make_app(**config_case.config)
        state = get_state(app)
        assert state is not None
        with pytest.raises(type(first)):
            celeryfactory(app)
        assert not state.tasks_loaded
    assert _state.get_current_app() is current
    second = raise_config_case(config_case)
    assert str(second) == str(first)


def test_task_name_in_two_packages_names_both(
    make_package: t.Callable[[str, dict[str, str]], Path],
) -> None:
    task = (
        "from celery import shared_task\n@shared_task(name='shared.sync')\ndef sync():\n    pass\n"
    )
    make_package("pkg_one", {"tasks.py": task})
    make_package("pkg_two", {"tasks.py": task})
    config = {"PACKAGES": ["pkg_one", "pkg_two"]}

    with pytest.warns(AppFactoryWarning) as record:
        celeryfactory(make_app(**config))
    [message] = [
        str(w.message)
        for w in record
        if str(w.message).startswith("Task name 'shared.sync' is registered by packages")
    ]
    assert "'pkg_one'" in message
    assert "'pkg_two'" in message
    assert message.endswith("Give one task another name.")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AppFactoryWarning)
        result = invoke(config, "check")
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if "AF302" in line]
    assert line.startswith("error AF302 task-name-conflict: Task 'shared.sync' is registered by")
    assert "'pkg_one'" in line
    assert "'pkg_two'" in line
    assert line.endswith("Hint: Give one of the tasks another name: @shared_task(name='pkg.task').")


# -- Mistakes met when a task is sent or its result fetched ----------------------------------


@dataclass(frozen=True)
class SendCase:
    id: str
    error: type[AppFactoryError]
    cause: type[BaseException]
    culprit: tuple[str, ...]
    fix: str
    #: The sender package's command that meets the mistake.
    command: str
    config: dict[str, t.Any] = field(default_factory=dict)
    #: Bounds of the wait, in seconds, with the default retry policy.
    wait: tuple[float, float] = (0.0, 1.0)


DOWN = "{down}"  # replaced by a free port on which nothing listens
BROKER_DOWN_FIX = "Check that it runs and that CELERY_BROKER_URL (host, port, password) is right."

SEND_CASES = [
    SendCase(
        "redis-broker-down",
        BrokerUnavailableError,
        redis.exceptions.ConnectionError,
        (
            "Task 'sendpkg.tasks.work' was not sent: the broker "
            f"redis://:********@{LOOPBACK}:{DOWN}/0 (also the result backend) cannot be "
            f"reached (ConnectionError: Error 111 connecting to {LOOPBACK}:{DOWN}. Connection "
            "refused.); gave up after ",
        ),
        BROKER_DOWN_FIX,
        "send",
        {"CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:{DOWN}/0"},
        wait=(2.0, 12.0),
    ),
    SendCase(
        "redis-broker-down-results-ignored",
        BrokerUnavailableError,
        OperationalError,
        (
            "Task 'sendpkg.tasks.work' was not sent: the broker "
            f"redis://:********@{LOOPBACK}:{DOWN}/0 cannot be reached (OperationalError: ",
        ),
        BROKER_DOWN_FIX,
        "send",
        {
            "CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:{DOWN}/0",
            "CELERY_TASK_IGNORE_RESULT": True,
        },
        wait=(2.0, 12.0),
    ),
    SendCase(
        "legacy-broker-url-down",
        BrokerUnavailableError,
        OperationalError,
        (f"the broker redis://:********@{LOOPBACK}:{DOWN}/3 cannot be reached",),
        "Check that it runs and that BROKER_URL (host, port, password) is right.",
        "send",
        {"BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:{DOWN}/3", "CELERY_TASK_IGNORE_RESULT": 1},
        wait=(2.0, 12.0),
    ),
    SendCase(
        "rabbitmq-broker-down",
        BrokerUnavailableError,
        OperationalError,
        (
            "Task 'sendpkg.tasks.work' was not sent: the broker "
            f"amqp://guest:********@{LOOPBACK}:{DOWN}// cannot be reached (OperationalError: "
            "[Errno 111] Connection refused)",
        ),
        BROKER_DOWN_FIX,
        "send",
        {"CELERY_BROKER_URL": f"amqp://guest:{PLANTED}@{LOOPBACK}:{DOWN}//"},
        wait=(2.0, 15.0),
    ),
    SendCase(
        "argument-json-cannot-carry",
        TaskArgumentError,
        EncodeError,
        (
            "Task 'sendpkg.tasks.work' was not sent: argument kwargs['tags'] is of type set, "
            "which the 'json' serializer cannot carry (EncodeError: Object of type set is not "
            "JSON serializable).",
        ),
        "Pass plain data instead (str, int, float, bool, None, lists and dicts of them)",
        "send-set",
    ),
    SendCase(
        "argument-is-an-object",
        TaskArgumentError,
        EncodeError,
        ("argument args[0] is of type Order, which the 'json' serializer cannot carry",),
        "such as the id of an object rather than the object.",
        "send-object",
    ),
    SendCase(
        "argument-json-cannot-carry-eagerly",
        TaskArgumentError,
        EncodeError,
        ("argument kwargs['tags'] is of type set",),
        "Pass plain data instead",
        "send-set",
        {"CELERY_TASK_ALWAYS_EAGER": True},
    ),
    SendCase(
        "broker-port-out-of-range",
        ConfigError,
        ValueError,
        (
            "Task 'sendpkg.tasks.work' was not sent (ValueError: Port out of range 0-65535): "
            f"CELERY_BROKER_URL = 'redis://:********@{LOOPBACK}:99999/0' has the port '99999', "
            "which is no port number; every task sent fails.",
        ),
        "Give a port from 1 to 65535",
        "send",
        {"CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:99999/0"},
    ),
    SendCase(
        "broker-port-not-a-number",
        ConfigError,
        ValueError,
        (f"CELERY_BROKER_URL = 'redis://:********@{LOOPBACK}:63790x/0' has the port '63790x'",),
        "Give a port from 1 to 65535",
        "send",
        {"CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:63790x/0"},
    ),
    SendCase(
        "negative-socket-timeout",
        ConfigError,
        ValueError,
        (
            "Task 'sendpkg.tasks.work' was not sent (ValueError: Timeout value out of range): "
            "CELERY_REDIS_SOCKET_CONNECT_TIMEOUT is -1.0, a negative timeout",
        ),
        "Give a number of seconds of 0 or more",
        "send",
        {
            "CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:{DOWN}/0",
            "CELERY_REDIS_SOCKET_CONNECT_TIMEOUT": -1.0,
        },
    ),
    SendCase(
        "result-backend-with-a-misspelt-scheme",
        ConfigError,
        ModuleNotFoundError,
        (
            "was not sent (ModuleNotFoundError: No module named 'reddis'): CELERY_RESULT_BACKEND "
            f"= 'reddis://:********@{LOOPBACK}:6379/0' has the unknown scheme 'reddis'",
        ),
        "Did you mean redis://? Use one of Celery's result backends: ",
        "send",
        {
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": f"reddis://:{PLANTED}@{LOOPBACK}:6379/0",
        },
    ),
    SendCase(
        "transport-library-missing",
        ConfigError,
        ModuleNotFoundError,
        ("CELERY_BROKER_URL = 'sqs://' needs the library 'boto3', which is not installed",),
        "Install it (pip install 'celery[sqs]'), or choose another broker.",
        "send",
        {"CELERY_BROKER_URL": "sqs://"},
    ),
    SendCase(
        "result-backend-library-missing",
        ConfigError,
        ImproperlyConfigured,
        (
            "CELERY_RESULT_BACKEND = 'mongodb://app:********@127.0.0.1/results' needs the "
            "library 'pymongo', which is not installed",
        ),
        "Install it (pip install 'celery[mongodb]'), or choose another result backend.",
        "send",
        {
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": f"mongodb://app:{PLANTED}@127.0.0.1/results",
        },
    ),
    SendCase(
        "route-to-a-module-that-does-not-exist",
        ConfigError,
        ModuleNotFoundError,
        (
            "CELERY_TASK_ROUTES router 'sendpkg.nosuchmodule.Router' cannot be imported "
            "(ModuleNotFoundError: No module named 'sendpkg.nosuchmodule')",
        ),
        "Name an importable router",
        "send",
        {"CELERY_BROKER_URL": "memory://", "CELERY_TASK_ROUTES": "sendpkg.nosuchmodule.Router"},
    ),
    SendCase(
        "serializer-the-workers-refuse",
        TaskArgumentError,
        EncodeError,
        (
            "Task 'sendpkg.tasks.work' was not sent: its serializer is 'pickle', but workers "
            "accept only ['json'] (CELERY_ACCEPT_CONTENT)",
        ),
        "Send it with serializer='json' (the default)",
        "send-pickle",
        {"CELERY_BROKER_URL": "memory://"},
    ),
    SendCase(
        "dict-keys-json-would-turn-into-strings",
        TaskArgumentError,
        EncodeError,
        (
            "Task 'sendpkg.tasks.work' was not sent: argument args[0]['totals'] is a dict with "
            "the key 2025 of type int, which JSON turns into the string '2025'",
        ),
        "Use string keys (str(key)), or pass a list of [key, value] pairs.",
        "send-int-keys",
        {"CELERY_BROKER_URL": "memory://"},
    ),
    SendCase(
        "dict-keys-json-would-turn-into-strings-eagerly",
        TaskArgumentError,
        EncodeError,
        ("argument args[0]['totals'] is a dict with the key 2025 of type int",),
        "Use string keys (str(key))",
        "send-int-keys",
        {"CELERY_TASK_ALWAYS_EAGER": True},
    ),
    SendCase(
        "result-fetched-without-result-backend",
        NoResultBackendError,
        NotImplementedError,  # what Celery raised before: code catching it still does
        (
            "The Celery app 'testapp' keeps no task results: it has no result backend, and "
            "its broker memory:// does not give one.",
        ),
        "Set CELERY_RESULT_BACKEND (such as 'redis://127.0.0.1:6379/0'), or do not wait for "
        "results: send with ignore_result=True and do not call get().",
        "fetch",
        {"CELERY_BROKER_URL": "memory://"},
    ),
]

#: Fail fast on the command line: the bounded wait is proved by the API tests.
NO_RETRIES = {
    "CELERY_BROKER_CONNECTION_TIMEOUT": 1.0,
    "CELERY_TASK_PUBLISH_RETRY_POLICY": {"max_retries": 0},
    "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS": {"retry_policy": {"max_retries": 0}},
}


@pytest.fixture
def send_case(
    request: pytest.FixtureRequest, make_package: t.Callable[[str, dict[str, str]], Path]
) -> SendCase:
    make_package("sendpkg", SENDER)
    case: SendCase = request.param
    down = str(free_port())

    def fill(value: t.Any) -> t.Any:
        return value.replace(DOWN, down) if isinstance(value, str) else value

    return SendCase(
        case.id,
        case.error,
        case.cause,
        tuple(fill(text) for text in case.culprit),
        case.fix,
        case.command,
        {"PACKAGES": ["sendpkg"], **{k: fill(v) for k, v in case.config.items()}},
        case.wait,
    )


by_send_case = pytest.mark.parametrize(
    "send_case", SEND_CASES, ids=[c.id for c in SEND_CASES], indirect=True
)


def perform(case: SendCase, app: Flask) -> None:
    """What the case's command does, in the app's context."""
    from sendpkg.cli import Order
    from sendpkg.tasks import work

    with app.app_context():
        if case.command == "send":
            work.delay(1)
        elif case.command == "send-set":
            work.delay(1, tags={"new", "paid"})
        elif case.command == "send-object":
            work.delay(Order())
        elif case.command == "send-pickle":
            work.apply_async((1,), serializer="pickle")
        elif case.command == "send-int-keys":
            work.delay({"totals": {2025: 10, 2026: 12}})
        else:
            work.delay(1).get(timeout=5)


@by_send_case
def test_send_error_names_the_culprit_and_the_fix_after_a_bounded_wait(
    send_case: SendCase, isolated: Path
) -> None:
    app = make_app(**send_case.config)
    celeryfactory(app)
    queued = listing(isolated)

    started = time.monotonic()
    with pytest.raises(AppFactoryError) as info:
        perform(send_case, app)
    waited = time.monotonic() - started

    error = info.value
    assert type(error) is send_case.error
    assert isinstance(error, send_case.cause) or isinstance(error.__cause__, send_case.cause)
    message = str(error)
    for text in send_case.culprit:
        assert text in message
    assert send_case.fix in message
    assert PLANTED not in message
    assert PLANTED not in describe_exception(error.__cause__ or error)
    assert send_case.wait[0] <= waited < send_case.wait[1], f"waited {waited:.1f} s"
    # Nothing was queued: the embedded broker's queue (when used) is as before.
    assert listing(isolated) == queued


@by_send_case
def test_send_error_is_one_line_on_the_command_line(send_case: SendCase) -> None:
    config = {**send_case.config, **NO_RETRIES}
    culprit, fix = (re.escape(text) for text in (send_case.culprit[0], send_case.fix))
    expected = re.compile(f"Error: .*{culprit}.*{fix}.*")

    assert_one_error_line(invoke(config, send_case.command), expected)
    with pytest.raises(send_case.error) as info:
        invoke(config, "--traceback", send_case.command, catch_exceptions=False)
    assert send_case.culprit[0] in str(info.value)


def test_broker_with_a_wrong_password(
    make_package: t.Callable[[str, dict[str, str]], Path],
) -> None:
    make_package("sendpkg", SENDER)
    server: Server = start_private_redis("the-right-password")
    try:
        port = server.url.rpartition(":")[2]
        app = make_app(
            PACKAGES=["sendpkg"], CELERY_BROKER_URL=f"redis://:{PLANTED}@{LOOPBACK}:{port}"
        )
        celeryfactory(app)
        with pytest.raises(BrokerUnavailableError) as info:
            perform(SEND_CASES[0], app)
    finally:
        server.stop()
    message = str(info.value)
    assert f"the broker redis://:********@{LOOPBACK}:{port} (also the result backend)" in message
    assert "AuthenticationError: invalid username-password pair" in message
    assert "(host, port, password) is right" in message
    assert PLANTED not in message


def test_an_eager_tasks_own_errors_are_not_taken_for_send_errors(
    make_package: t.Callable[[str, dict[str, str]], Path],
) -> None:
    """In eager mode the task runs inside ``apply_async``: what it raises passes through."""
    make_package(
        "eagerpkg",
        {
            "tasks.py": """\
                from celery import shared_task
                from kombu.exceptions import EncodeError, OperationalError


                @shared_task
                def fails(kind):
                    raise {"encode": EncodeError, "connect": OperationalError}[kind]("own " + kind)
                """
        },
    )
    app = make_app(
        PACKAGES=["eagerpkg"], CELERY_TASK_ALWAYS_EAGER=True, CELERY_TASK_EAGER_PROPAGATES=True
    )
    celeryfactory(app)
    from eagerpkg.tasks import fails

    with app.app_context():
        with pytest.raises(EncodeError, match="own encode") as encode:
            fails.delay("encode")
        with pytest.raises(OperationalError, match="own connect") as connect:
            fails.delay("connect")
    assert not isinstance(encode.value, AppFactoryError)
    assert not isinstance(connect.value, AppFactoryError)


def test_send_errors_are_still_the_errors_celery_raised_before() -> None:
    """Code that caught kombu's or Celery's exceptions keeps catching them."""
    assert issubclass(BrokerUnavailableError, OperationalError)
    assert issubclass(TaskArgumentError, EncodeError)
    assert issubclass(NoResultBackendError, NotImplementedError)
    for error in (BrokerUnavailableError, TaskArgumentError, NoResultBackendError):
        assert issubclass(error, AppFactoryError)


# -- Mistakes that `check` finds before any task is sent -------------------------------------


@dataclass(frozen=True)
class CheckCase:
    id: str
    check: str
    culprit: str
    fix: str
    config: dict[str, t.Any]


CHECK_CASES = [
    CheckCase(
        "broker-port-out-of-range",
        "AF310",
        f"CELERY_BROKER_URL = 'redis://:********@{LOOPBACK}:99999/0' has the port '99999'",
        "Give a port from 1 to 65535",
        {"CELERY_BROKER_URL": f"redis://:{PLANTED}@{LOOPBACK}:99999/0"},
    ),
    CheckCase(
        "result-backend-with-a-misspelt-scheme",
        "AF310",
        "CELERY_RESULT_BACKEND = 'reddis://:********@h:6379/0' has the unknown scheme 'reddis'",
        "Did you mean redis://?",
        {
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": f"reddis://:{PLANTED}@h:6379/0",
        },
    ),
    CheckCase(
        "transport-library-missing",
        "AF311",
        "CELERY_BROKER_URL = 'sqs://' needs the library 'boto3', which is not installed",
        "Install it (pip install 'celery[sqs]'), or choose another broker.",
        {"CELERY_BROKER_URL": "sqs://"},
    ),
    CheckCase(
        "negative-timeout-in-transport-options",
        "AF312",
        "CELERY_BROKER_TRANSPORT_OPTIONS['socket_timeout'] is -5, a negative timeout",
        "Give a number of seconds of 0 or more",
        {
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {"socket_timeout": -5},
        },
    ),
    CheckCase(
        "route-to-a-module-that-does-not-exist",
        "AF313",
        "CELERY_TASK_ROUTES router 'nosuchmodule.Router' cannot be imported",
        "Name an importable router",
        {"CELERY_BROKER_URL": "memory://", "CELERY_TASK_ROUTES": ["nosuchmodule.Router"]},
    ),
    CheckCase(
        "beat-schedule-not-a-dict",
        "AF314",
        "CELERY_BEAT_SCHEDULE is of type list, not a dict; celery beat cannot run it.",
        "Give a dict of entries, each a dict with 'task'",
        {"CELERY_BROKER_URL": "memory://", "CELERY_BEAT_SCHEDULE": ["sendpkg.tasks.work"]},
    ),
    CheckCase(
        "beat-schedule-entry-malformed",
        "AF314",
        "CELERY_BEAT_SCHEDULE['nightly'] has the unknown key 'kwarg' (did you mean 'kwargs'?)",
        "Give a dict of entries",
        {
            "CELERY_BROKER_URL": "memory://",
            "CELERY_BEAT_SCHEDULE": {
                "nightly": {"task": "sendpkg.tasks.work", "schedule": 60, "kwarg": {}},
                7: "sendpkg.tasks.work",
            },
        },
    ),
]


@pytest.mark.parametrize("case", CHECK_CASES, ids=[c.id for c in CHECK_CASES])
def test_check_finds_what_a_send_would_fail_on(
    case: CheckCase, make_package: t.Callable[[str, dict[str, str]], Path], isolated: Path
) -> None:
    make_package("sendpkg", SENDER)
    config = {"PACKAGES": ["sendpkg"], **case.config}
    make_app(**config)  # makes the instance folder, as any command does
    before = listing(isolated)

    for args in (["check"], ["--traceback", "check"]):
        result = invoke(config, *args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert PLANTED not in result.output
        [line] = [line for line in result.output.splitlines() if case.culprit in line]
        assert line.startswith(f"error {case.check} ")
        assert case.fix in line
    # Checking changed nothing: no folder, no message.
    assert listing(isolated) == before


def test_rabbitmq_refusing_the_login_or_the_vhost_is_one_line(
    rabbitmq_server: Server, make_package: t.Callable[[str, dict[str, str]], Path]
) -> None:
    make_package("sendpkg", SENDER)
    base = rabbitmq_server.url.rsplit("/", 2)[0]  # amqp://guest:guest@host:port
    vhost = f"appfactory-no-such-vhost-{free_port()}"
    wrong = {
        "password": (base.replace(":guest@", f":{PLANTED}@") + "//", "ACCESS_REFUSED"),
        "vhost": (f"{base}/{vhost}", f"vhost {vhost} not found"),
    }
    for url, said in wrong.values():
        config = {"PACKAGES": ["sendpkg"], "CELERY_BROKER_URL": url, **NO_RETRIES}
        app = make_app(**config)
        celeryfactory(app)
        with pytest.raises(BrokerUnavailableError) as info:
            perform(SEND_CASES[0], app)
        message = str(info.value)
        assert "Task 'sendpkg.tasks.work' was not sent: the broker amqp://guest:" in message
        assert "refused the connection" in message
        assert said in message
        assert message.endswith("virtual host (the URL's path, '//' for the default one) in "
                                "CELERY_BROKER_URL.")  # fmt: skip
        assert PLANTED not in message
        expected = re.compile(f"Error: .*refused the connection .*{re.escape(said)}.*")
        assert_one_error_line(invoke(config, "send"), expected)


def test_flask_celery_dict_is_read_with_its_origin(
    make_package: t.Callable[[str, dict[str, str]], Path],
) -> None:
    """Flask's documented ``CELERY = {...}``: each name reaches Celery (no embedded broker)."""
    make_package("sendpkg", SENDER)
    config = {
        "PACKAGES": ["sendpkg"],
        "CELERY": {"broker_url": "memory://", "task_ignore_result": True},
    }
    celery = celeryfactory(make_app(**config))

    assert celery.conf.broker_url == "memory://"
    assert celery.conf.task_ignore_result is True
    result = invoke(config, "config", "show", "CELERY_BROKER_URL")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "CELERY_BROKER_URL = 'memory://'",
        "  set by: extension (appfactory.celery, from CELERY['broker_url'] of keyword argument "
        "(CELERY))",
    ]
    checked = invoke(config, "check")
    assert "AF301" not in checked.output
    assert "AF305" not in checked.output


def test_worker_on_a_broken_tasks_module_says_it_once(
    make_package: t.Callable[[str, dict[str, str]], Path], tmp_path: Path
) -> None:
    """``celery -A ... worker``: one message naming the module, not Celery's tracebacks."""
    import os
    import subprocess
    import sys

    folder = make_package("pkg_bad", {"tasks.py": "import json\nraise RuntimeError('boom')\n"})
    make_package(
        "badworker",
        {
            "celery.py": """\
                from appfactory.core import appfactory
                from appfactory.celery import celeryfactory

                celery = celeryfactory(appfactory(
                    "badworker", None, EXTENSIONS=["appfactory.celery"], PACKAGES=["pkg_bad"],
                    SECRET_KEY="x" * 32, CELERY_BROKER_URL="memory://",
                ))
                """
        },
    )
    env = {**os.environ, "PYTHONPATH": str(folder.parent), "BADWORKER_INSTANCE_PATH": str(tmp_path)}
    env.pop("FLASK_DEBUG", None)
    command = [sys.executable, "-m", "celery", "-A", "badworker.celery", "worker"]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "Error: Module 'pkg_bad.tasks' of package 'pkg_bad' failed to import: RuntimeError: "
        "boom. Fix the error in pkg_bad.tasks, or remove 'pkg_bad' from PACKAGES.",
        f"  raised at {folder / 'tasks.py'}, line 2",
        "  (set FLASK_DEBUG=1 to see the full stack)",
    ]
    debug = subprocess.run(
        command, env={**env, "FLASK_DEBUG": "1"}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert "Traceback" in debug.stderr
    assert "RuntimeError: boom" in debug.stderr
