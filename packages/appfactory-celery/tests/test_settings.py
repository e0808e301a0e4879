"""Which Flask settings reach Celery, under Celery's names, and the defaults that come with them."""

from __future__ import annotations

import os
import re
import stat
import typing as t
import warnings
from pathlib import Path

import pytest
from celery import Celery
from celery.app import defaults
from click.testing import CliRunner
from flask import Flask
from kombu.transport import TRANSPORT_ALIASES

from appfactory.celery import celeryfactory
from appfactory.core import (
    AppFactoryWarning,
    ConfigError,
    ExtensionError,
    Layer,
    Origin,
    appfactory,
    clifactory,
    get_registry,
)

EXTENSION = Origin(Layer.EXTENSION, "appfactory.celery")


def make_app(module_name: t.Any = None, load: bool = True, **config: t.Any) -> Flask:
    """``testapp`` with the Celery extension (unless ``EXTENSIONS`` is given)."""
    config.setdefault("EXTENSIONS", ["appfactory.celery"])
    return appfactory("testapp", module_name, load=load, **config)


def make_celery(**config: t.Any) -> Celery:
    return celeryfactory(make_app(**config), load_tasks=False)


def setting_id(value: t.Any, keep: t.Callable[[str], bool] = lambda v: True) -> str:
    """A test id from a setting's name, with "worker" shortened.

    ``pytest -k "not worker"`` is how the tests without worker processes are
    run; a setting such as ``CELERY_WORKER_CONCURRENCY`` must not hide a test.
    """
    if not isinstance(value, str) or not keep(value):
        return ""
    return re.sub("worker", "wrk", value, flags=re.IGNORECASE)


@pytest.fixture(params=["extension", "celeryfactory"])
def config_error(request: pytest.FixtureRequest) -> t.Callable[..., ConfigError]:
    """``config_error(message, **config)``: making the app fails with this ConfigError.

    Through ``EXTENSIONS`` the ConfigError is chained to an ExtensionError
    naming the entry; ``celeryfactory`` on an app without the extension raises
    the ConfigError itself.
    """
    via = request.param

    def build(message: str, **config: t.Any) -> ConfigError:
        if via == "extension":
            with pytest.raises(
                ExtensionError,
                match=re.escape(
                    "Extension 'appfactory.celery' in EXTENSIONS failed while setting up the "
                    f"app: ConfigError: {message.rstrip('.')}. Fix the extension or its settings."
                ),
            ) as info:
                make_app(**config)
            assert isinstance(info.value.__cause__, ConfigError)
            return info.value.__cause__
        app = make_app(**{**config, "EXTENSIONS": []})
        with pytest.raises(ConfigError, match=re.escape(message)) as direct:
            celeryfactory(app)
        assert str(direct.value) == message
        return direct.value

    return build


# Names: Celery's ``CELERY`` namespace and its old upper-case names.

NEW_NAMES = [
    ("CELERY_BROKER_URL", "redis://127.0.0.1:6379/3", "broker_url"),
    ("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/4", "result_backend"),
    ("CELERY_TASK_ALWAYS_EAGER", True, "task_always_eager"),
    ("CELERY_TASK_EAGER_PROPAGATES", True, "task_eager_propagates"),
    ("CELERY_TASK_DEFAULT_QUEUE", "background", "task_default_queue"),
    ("CELERY_WORKER_CONCURRENCY", 3, "worker_concurrency"),
    ("CELERY_WORKER_PREFETCH_MULTIPLIER", 1, "worker_prefetch_multiplier"),
    ("CELERY_TIMEZONE", "Europe/Zurich", "timezone"),
    ("CELERY_BEAT_SCHEDULE", {"tick": {"task": "a.b", "schedule": 5.0}}, "beat_schedule"),
    ("CELERY_BROKER_TRANSPORT_OPTIONS", {"visibility_timeout": 60}, "broker_transport_options"),
]

LEGACY_NAMES = [
    # The original Flask-AppFactory tutorial's broker setting.
    ("BROKER_URL", "redis://127.0.0.1:6379/5", "broker_url"),
    ("CELERY_ALWAYS_EAGER", True, "task_always_eager"),
    ("CELERY_EAGER_PROPAGATES_EXCEPTIONS", True, "task_eager_propagates"),
    ("CELERYD_CONCURRENCY", 3, "worker_concurrency"),
    ("CELERYD_PREFETCH_MULTIPLIER", 1, "worker_prefetch_multiplier"),
    ("CELERY_DEFAULT_QUEUE", "background", "task_default_queue"),
    ("CELERYBEAT_SCHEDULE", {"tick": {"task": "a.b", "schedule": 5.0}}, "beat_schedule"),
    ("BROKER_TRANSPORT_OPTIONS", {"visibility_timeout": 60}, "broker_transport_options"),
]


@pytest.mark.parametrize(
    ("key", "value", "name"),
    [*NEW_NAMES, *LEGACY_NAMES],
    ids=setting_id,
)
def test_setting_reaches_celery_under_its_name(key: str, value: t.Any, name: str) -> None:
    celery = make_celery(**{key: value})

    assert celery.conf[name] == value
    assert celery.conf[name] != defaults.DEFAULTS[name]


def test_settings_from_a_config_module_reach_celery() -> None:
    class Config:
        BROKER_URL = "redis://127.0.0.1:6379/6"
        CELERY_TASK_DEFAULT_QUEUE = "from-module"

    app = make_app(Config)
    celery = celeryfactory(app, load_tasks=False)

    assert celery.conf.broker_url == "redis://127.0.0.1:6379/6"
    assert celery.conf.task_default_queue == "from-module"
    assert get_registry(app).history.origin("BROKER_URL").layer is Layer.APP


def test_only_celery_settings_reach_celery() -> None:
    celery = make_celery(
        PACKAGES=["mymodule"],
        SECRET_KEY="not-for-celery",
        MYMODULE_GREETING="Hi",
        CELERY_TASK_DEFAULT_QUEUE="background",
    )

    for key in ("SECRET_KEY", "MYMODULE_GREETING", "PACKAGES", "EXTENSIONS", "DEBUG"):
        assert key not in celery.conf
        assert key.lower() not in celery.conf
    assert "CELERY_TASK_DEFAULT_QUEUE" not in celery.conf
    # Every key is one of Celery's settings (``deprecated_settings`` is Celery's own).
    assert set(celery.conf) - set(defaults.SETTING_KEYS) <= {"deprecated_settings"}
    assert "not-for-celery" not in repr(dict(celery.conf))


# Environment variables go through the core's layers.


def test_broker_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")

    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    celery = celeryfactory(app, load_tasks=False)

    assert celery.conf.broker_url == "redis://127.0.0.1:6379/7"
    assert get_registry(app).history.origin("CELERY_BROKER_URL") == Origin(
        Layer.ENV, "TESTAPP_CELERY_BROKER_URL"
    )


def test_legacy_broker_url_from_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_BROKER_URL", "redis://127.0.0.1:6379/8")

    assert make_celery().conf.broker_url == "redis://127.0.0.1:6379/8"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("false", False),
        ("off", False),
        ("no", False),
        ("False", False),
        ("yes", True),
        ("on", True),
    ],
)
def test_boolean_from_environment_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("TESTAPP_CELERY_TASK_ACKS_LATE", raw)

    assert make_celery().conf.task_acks_late is expected


@pytest.mark.parametrize(
    ("variable", "raw", "key", "name", "kind", "expected"),
    [
        (
            "TESTAPP_CELERY_WORKER_PREFETCH_MULTIPLIER",
            "lots",
            "CELERY_WORKER_PREFETCH_MULTIPLIER",
            "worker_prefetch_multiplier",
            "int",
            "a whole number such as 4",
        ),
        (
            "TESTAPP_CELERYD_PREFETCH_MULTIPLIER",
            "a few",
            "CELERYD_PREFETCH_MULTIPLIER",
            "worker_prefetch_multiplier",
            "int",
            "a whole number such as 4",
        ),
        (
            "TESTAPP_CELERY_TASK_ACKS_LATE",
            "maybe",
            "CELERY_TASK_ACKS_LATE",
            "task_acks_late",
            "bool",
            "true or false (also yes/no, on/off, 1/0)",
        ),
        (
            "TESTAPP_CELERY_TASK_TIME_LIMIT",
            "soon",
            "CELERY_TASK_TIME_LIMIT",
            "task_time_limit",
            "float",
            "a number such as 2.5",
        ),
    ],
    ids=lambda v: setting_id(v, lambda v: v.startswith("TESTAPP")),
)
def test_malformed_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
    config_error: t.Callable[..., ConfigError],
    variable: str,
    raw: str,
    key: str,
    name: str,
    kind: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, raw)

    config_error(
        f"{key}={raw!r} (environment variable ({variable})) is not a valid {kind} for "
        f"Celery's {name}; give {expected}."
    )


def test_malformed_keyword_argument(config_error: t.Callable[..., ConfigError]) -> None:
    config_error(
        "CELERY_WORKER_PREFETCH_MULTIPLIER='lots' (keyword argument "
        "(CELERY_WORKER_PREFETCH_MULTIPLIER)) is not a valid int for Celery's "
        "worker_prefetch_multiplier; give a whole number such as 4.",
        CELERY_WORKER_PREFETCH_MULTIPLIER="lots",
    )


# Unknown and mixed names.


def test_unknown_celery_setting_warns_with_closest_name() -> None:
    with pytest.warns(AppFactoryWarning) as record:
        celery = make_celery(CELERY_TASK_ALWAYS_EGAER=True)

    messages = [str(w.message) for w in record if issubclass(w.category, AppFactoryWarning)]
    assert messages == [
        "CELERY_TASK_ALWAYS_EGAER looks like a Celery setting but Celery has no such setting; "
        "it is not passed to Celery. Did you mean CELERY_TASK_ALWAYS_EAGER?"
    ]
    assert celery.conf.task_always_eager is False
    assert "CELERY_TASK_ALWAYS_EGAER" not in celery.conf
    assert "task_always_egaer" not in celery.conf


def test_unknown_celery_setting_without_close_name() -> None:
    with pytest.warns(
        AppFactoryWarning, match="CELERY_XYZZY looks like a Celery setting"
    ) as record:
        make_celery(CELERY_XYZZY=1)

    assert all("Did you mean" not in str(w.message) for w in record)


def test_known_names_give_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", AppFactoryWarning)
        make_celery(BROKER_URL="redis://127.0.0.1:6379/0", CELERY_TASK_ALWAYS_EAGER=True)


@pytest.mark.parametrize(
    ("old", "new", "name", "value"),
    [
        ("BROKER_URL", "CELERY_BROKER_URL", "broker_url", "redis://127.0.0.1:6379/0"),
        ("CELERY_ALWAYS_EAGER", "CELERY_TASK_ALWAYS_EAGER", "task_always_eager", True),
        ("CELERYD_CONCURRENCY", "CELERY_WORKER_CONCURRENCY", "worker_concurrency", 2),
        ("CELERY_ACKS_LATE", "CELERY_TASK_ACKS_LATE", "task_acks_late", False),
    ],
    ids=lambda v: setting_id(v, str.isupper),
)
def test_old_and_new_names_cannot_be_mixed(
    monkeypatch: pytest.MonkeyPatch,
    config_error: t.Callable[..., ConfigError],
    old: str,
    new: str,
    name: str,
    value: t.Any,
) -> None:
    monkeypatch.setenv(f"TESTAPP_{old}", repr(value))

    config_error(
        f"{old} (environment variable (TESTAPP_{old})) and {new} (keyword argument ({new})) "
        f"both set Celery's {name}; old and new names cannot be mixed for one setting. "
        f"Keep one of them, preferably {new}.",
        **{new: value},
    )


# The safe defaults, visible in app.config with the extension as origin.

SAFE_DEFAULTS = [
    ("task_serializer", "json"),
    ("result_serializer", "json"),
    ("event_serializer", "json"),
    ("accept_content", ["json"]),
    ("result_accept_content", ["json"]),
    ("task_acks_late", True),
    ("task_reject_on_worker_lost", True),
    ("broker_connection_retry_on_startup", True),
    ("worker_consumer", "appfactory.celery.worker:Consumer"),
]


@pytest.mark.parametrize(
    ("name", "value"), SAFE_DEFAULTS, ids=[setting_id(n) for n, _ in SAFE_DEFAULTS]
)
def test_safe_default(name: str, value: t.Any) -> None:
    app = make_app()
    celery = celeryfactory(app, load_tasks=False)
    key = f"CELERY_{name.upper()}"

    assert celery.conf[name] == value
    assert app.config[key] == value
    assert get_registry(app).history.origin(key) == EXTENSION


@pytest.mark.parametrize(
    ("key", "name", "value"),
    [
        ("CELERY_TASK_ACKS_LATE", "task_acks_late", False),
        ("CELERY_ACKS_LATE", "task_acks_late", False),
        ("CELERY_REJECT_ON_WORKER_LOST", "task_reject_on_worker_lost", False),
        ("BROKER_CONNECTION_RETRY_ON_STARTUP", "broker_connection_retry_on_startup", False),
        ("CELERY_WORKER_CONSUMER", "worker_consumer", "celery.worker.consumer:Consumer"),
        ("CELERY_ACCEPT_CONTENT", "accept_content", ["json", "yaml"]),
    ],
    ids=lambda v: setting_id(v, str.isupper),
)
def test_users_value_beats_safe_default(key: str, name: str, value: t.Any) -> None:
    app = make_app(**{key: value})
    celery = celeryfactory(app, load_tasks=False)
    new_key = f"CELERY_{name.upper()}"

    assert celery.conf[name] == value
    assert app.config[key] == value
    assert get_registry(app).history.origin(key) == Origin(Layer.KWARGS, key)
    if key != new_key:
        # Under an old name the default is not added under the new one: no mixed names.
        assert new_key not in app.config


def test_pickle_is_refused_unless_accepted(config_error: t.Callable[..., ConfigError]) -> None:
    config_error(
        "CELERY_TASK_SERIALIZER is 'pickle', but CELERY_ACCEPT_CONTENT allows only ['json'], "
        "so workers would reject every message. To opt in, set CELERY_ACCEPT_CONTENT = "
        "['json', 'pickle'] (and CELERY_RESULT_ACCEPT_CONTENT likewise).",
        CELERY_TASK_SERIALIZER="pickle",
    )


def test_pickle_results_need_result_accept_content(
    config_error: t.Callable[..., ConfigError],
) -> None:
    # Accepting pickle for tasks is not enough: callers read results with the
    # safe default CELERY_RESULT_ACCEPT_CONTENT = ['json'].
    config_error(
        "CELERY_RESULT_SERIALIZER is 'pickle', but CELERY_RESULT_ACCEPT_CONTENT allows only "
        "['json'], so callers could not read any result. To opt in, set "
        "CELERY_RESULT_ACCEPT_CONTENT = ['json', 'pickle'].",
        CELERY_RESULT_SERIALIZER="pickle",
        CELERY_ACCEPT_CONTENT=["json", "pickle"],
    )


def test_pickle_accepted_when_opted_in() -> None:
    celery = make_celery(
        CELERY_TASK_SERIALIZER="pickle",
        CELERY_RESULT_SERIALIZER="pickle",
        CELERY_ACCEPT_CONTENT=["json", "pickle"],
        CELERY_RESULT_ACCEPT_CONTENT=["json", "pickle"],
    )

    assert celery.conf.task_serializer == "pickle"
    assert celery.conf.result_serializer == "pickle"
    assert celery.conf.accept_content == ["json", "pickle"]
    assert celery.conf.result_accept_content == ["json", "pickle"]


# The broker URL and the result backend that follows it.


@pytest.mark.parametrize(
    ("key", "url", "shown"),
    [
        ("CELERY_BROKER_URL", "nosuch://x", "nosuch://x"),
        ("BROKER_URL", "nosuch://user:hunter2@host:1/0", "nosuch://user:********@host:1/0"),
        # Failover URLs: the first one is checked and shown.
        ("CELERY_BROKER_URL", "nosuch://a;redis://127.0.0.1", "nosuch://a"),
    ],
)
def test_broker_url_with_unknown_scheme(
    config_error: t.Callable[..., ConfigError], key: str, url: str, shown: str
) -> None:
    scheme = url.partition("://")[0]

    error = config_error(
        f"{key} = {shown!r} has the unknown scheme {scheme!r}. Use one of: "
        + ", ".join(sorted(k for k in TRANSPORT_ALIASES if k.isidentifier()))
        + " (for example redis://127.0.0.1:6379/0 or amqp://guest:guest@127.0.0.1:5672//), "
        "or leave it unset for the embedded broker.",
        **{key: url},
    )

    assert "hunter2" not in str(error)
    assert "redis" in str(error)
    assert "amqp" in str(error)


@pytest.mark.parametrize(
    ("broker", "backend"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:secret@127.0.0.1:6379/2", "redis://:secret@127.0.0.1:6379/2"),
        ("rediss://127.0.0.1:6380/0", "rediss://127.0.0.1:6380/0"),
        ("amqp://guest:guest@127.0.0.1:5672//", "rpc://"),
        ("pyamqp://guest:guest@127.0.0.1:5672//", "rpc://"),
        ("memory://", None),
    ],
)
def test_result_backend_follows_the_broker(broker: str, backend: str | None) -> None:
    app = make_app(CELERY_BROKER_URL=broker)
    celery = celeryfactory(app, load_tasks=False)

    assert celery.conf.broker_url == broker
    assert celery.conf.result_backend == backend
    if backend is not None:
        assert app.config["CELERY_RESULT_BACKEND"] == backend
        assert get_registry(app).history.origin("CELERY_RESULT_BACKEND") == EXTENSION
    else:
        assert "CELERY_RESULT_BACKEND" not in app.config


@pytest.mark.parametrize("broker_key", ["CELERY_BROKER_URL", "BROKER_URL"])
def test_result_backend_follows_a_legacy_or_new_broker(broker_key: str) -> None:
    celery = make_celery(**{broker_key: "redis://127.0.0.1:6379/9"})

    assert celery.conf.result_backend == "redis://127.0.0.1:6379/9"


@pytest.mark.parametrize("broker", [None, "redis://127.0.0.1:6379/0", "amqp://127.0.0.1//"])
def test_explicit_result_backend_wins(broker: str | None) -> None:
    config: dict[str, t.Any] = {"CELERY_RESULT_BACKEND": "cache+memory://"}
    if broker:
        config["CELERY_BROKER_URL"] = broker
    app = make_app(**config)

    assert celeryfactory(app, load_tasks=False).conf.result_backend == "cache+memory://"
    assert get_registry(app).history.origin("CELERY_RESULT_BACKEND") == Origin(
        Layer.KWARGS, "CELERY_RESULT_BACKEND"
    )


def test_embedded_broker_without_configuration() -> None:
    app = make_app()
    celery = celeryfactory(app, load_tasks=False)
    root = Path(app.instance_path) / "celery"

    url = f"sqlite-embedded://{root / 'store.sqlite3'}"
    assert celery.conf.broker_url == url
    # The transport's own defaults apply; none are written into the settings.
    assert celery.conf.broker_transport_options == {}
    assert celery.conf.result_backend == url
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "store.sqlite3").st_mode) == 0o600
    history = get_registry(app).history
    for key in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        assert history.origin(key) == EXTENSION


def test_embedded_broker_keeps_the_users_transport_options() -> None:
    app = make_app(CELERY_BROKER_TRANSPORT_OPTIONS={"polling_interval": 0.5})
    celery = celeryfactory(app, load_tasks=False)

    assert celery.conf.broker_url.startswith("sqlite-embedded:///")
    assert celery.conf.broker_transport_options == {"polling_interval": 0.5}
    with celery.connection_for_write() as connection:
        assert connection.transport.polling_interval == 0.5
        assert connection.transport.store_path.endswith("/celery/store.sqlite3")


def test_filesystem_broker_merges_the_users_transport_options() -> None:
    app = make_app(
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_TRANSPORT_OPTIONS={"polling_interval": 0.5},
    )
    options = celeryfactory(app, load_tasks=False).conf.broker_transport_options

    assert options["polling_interval"] == 0.5
    assert options["data_folder_in"] == str(Path(app.instance_path) / "celery" / "queue")


def test_embedded_broker_folders_follow_the_instance_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(tmp_path / "elsewhere"))

    url = make_celery().conf.broker_url

    assert url == f"sqlite-embedded://{tmp_path / 'elsewhere' / 'celery' / 'store.sqlite3'}"
    assert (tmp_path / "elsewhere" / "celery" / "store.sqlite3").is_file()


def test_no_embedded_folders_with_a_configured_broker() -> None:
    app = make_app(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    celery = celeryfactory(app, load_tasks=False)

    assert not (Path(app.instance_path) / "celery").exists()
    assert "CELERY_BROKER_TRANSPORT_OPTIONS" not in app.config
    assert celery.conf.broker_transport_options == {}


def test_configuration_only_app_has_no_celery_settings_yet() -> None:
    app = make_app(load=False)

    assert "CELERY_BROKER_URL" not in app.config
    assert not (Path(app.instance_path) / "celery").exists()


# ``myapp config show``: the origin, and no password.


def config_show(*args: str, **config: t.Any) -> str:
    def create_app(load: bool = True, **kwargs: t.Any) -> Flask:
        return make_app(load=load, **kwargs)

    result = CliRunner().invoke(clifactory(create_app, **config), ["config", "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_config_show_broker_from_environment_masks_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TESTAPP_CELERY_BROKER_URL", "redis://user:hunter2@127.0.0.1:6379/0")

    output = config_show("CELERY_BROKER_URL")

    assert output == (
        "CELERY_BROKER_URL = 'redis://user:********@127.0.0.1:6379/0'\n"
        "  set by: environment variable (TESTAPP_CELERY_BROKER_URL)\n"
    )


def test_config_show_result_backend_masks_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_CELERY_BROKER_URL", "redis://user:hunter2@127.0.0.1:6379/0")

    output = config_show("CELERY_RESULT_BACKEND")

    assert output == (
        "CELERY_RESULT_BACKEND = 'redis://user:********@127.0.0.1:6379/0'\n"
        "  set by: extension (appfactory.celery)\n"
    )


def test_config_show_legacy_broker_url() -> None:
    output = config_show("BROKER_URL", BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")

    assert output == (
        "BROKER_URL = 'amqp://guest:********@127.0.0.1:5672//'\n"
        "  set by: keyword argument (BROKER_URL)\n"
    )


def test_config_show_embedded_broker_and_safe_defaults() -> None:
    shown = config_show("CELERY_BROKER_URL")
    assert shown.startswith("CELERY_BROKER_URL = 'sqlite-embedded:///")
    assert shown.endswith("/celery/store.sqlite3'\n  set by: extension (appfactory.celery)\n")
    assert config_show("CELERY_TASK_ACKS_LATE") == (
        "CELERY_TASK_ACKS_LATE = True\n  set by: extension (appfactory.celery)\n"
    )


def test_config_show_lists_celery_settings_with_origin() -> None:
    lines = config_show(CELERY_TASK_DEFAULT_QUEUE="background").splitlines()

    assert "CELERY_TASK_DEFAULT_QUEUE = 'background'  [keyword argument " in "\n".join(lines)
    assert "CELERY_ACCEPT_CONTENT = ['json']  [extension (appfactory.celery)]" in lines


def test_myapp_config_show_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    from myapp.cli import cli

    monkeypatch.setenv("MYAPP_CELERY_BROKER_URL", "redis://:hunter2@127.0.0.1:6379/0")

    result = CliRunner().invoke(cli, ["config", "show", "CELERY_BROKER_URL"])

    assert result.exit_code == 0, result.output
    assert result.output == (
        "CELERY_BROKER_URL = 'redis://:********@127.0.0.1:6379/0'\n"
        "  set by: environment variable (MYAPP_CELERY_BROKER_URL)\n"
    )
