"""Settings from environment variables: parsing, reserved names, the legacy list, the prefix."""

from __future__ import annotations

import os
import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import ConfigError, Layer, Origin, appfactory, get_registry
from appfactory.core.environ import env_prefix, legacy_variable_names, parse_env_value

MakeApp = t.Callable[..., Flask]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        ("-7", -7),
        ("0.5", 0.5),
        ("  8  ", 8),
        ("[1, 'two']", [1, "two"]),
        ("(1, 2)", (1, 2)),
        ("{'a': 1, 'b': [2]}", {"a": 1, "b": [2]}),
        ("None", None),
        ("True", True),
        ("False", False),
        ("'quoted'", "quoted"),
        ("hello", "hello"),
        ("hello world", "hello world"),
        ("true", "true"),
        ("redis://:secret@127.0.0.1:6379/0", "redis://:secret@127.0.0.1:6379/0"),
        ("1 + 1", "1 + 1"),
        ("[1, 2", "[1, 2"),
        ("open('/etc/passwd')", "open('/etc/passwd')"),
    ],
)
def test_literal_or_string(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, raw: str, expected: t.Any
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_VALUE", raw)
    app = make_app()

    assert app.config["CFG_VALUE"] == expected
    assert type(app.config["CFG_VALUE"]) is type(expected)
    assert get_registry(app).history.origin("CFG_VALUE") == Origin(Layer.ENV, "TESTAPP_CFG_VALUE")


def test_code_is_never_executed(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    raw = "__import__('os').system('echo hacked')"
    monkeypatch.setenv("TESTAPP_CFG_VALUE", raw)

    app = make_app()

    assert app.config["CFG_VALUE"] == raw
    assert calls == []
    assert "hacked" not in capfd.readouterr().out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[(word, True) for word in ("true", "True", "TRUE", "yes", "Yes", "on", "ON", "1", " on ")],
        *[(word, False) for word in ("false", "False", "FALSE", "no", "NO", "off", "Off", "0")],
    ],
)
def test_bool_words(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_FLAG", raw)
    app = make_app(CFG_FLAG=not expected)

    assert app.config["CFG_FLAG"] is expected


@pytest.mark.parametrize(("raw", "expected"), [("false", False), ("on", True)])
def test_bool_words_for_a_flask_setting(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("TESTAPP_SESSION_COOKIE_SECURE", raw)
    app = make_app(SESSION_COOKIE_SECURE=not expected)

    assert app.config["SESSION_COOKIE_SECURE"] is expected


@pytest.mark.parametrize(
    ("current", "raw", "kind", "expected"),
    [
        (True, "maybe", "bool", "true/false, yes/no, on/off or 1/0"),
        (True, "2", "bool", "true/false, yes/no, on/off or 1/0"),
        (8080, "http", "int", "a number such as 42 or 0.5"),
        (8080, "True", "int", "a number such as 42 or 0.5"),
        (0.5, "[1]", "float", "a number such as 42 or 0.5"),
        (["a"], "a,b", "list", "a Python literal such as ['a', 'b']"),
        (["a"], "{'a': 1}", "list", "a Python literal such as ['a', 'b']"),
        ({"a": 1}, "[1]", "dict", "a Python literal such as {'a': 1}"),
    ],
)
def test_malformed_value_for_a_typed_setting(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    current: t.Any,
    raw: str,
    kind: str,
    expected: str,
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_TYPED", raw)

    with pytest.raises(ConfigError) as info:
        make_app(CFG_TYPED=current)

    assert str(info.value) == (
        f"Environment variable TESTAPP_CFG_TYPED={raw!r} is not a valid {kind}: the "
        f"setting holds {current!r}. Set it to {expected}, or unset TESTAPP_CFG_TYPED."
    )


def test_malformed_secret_is_masked_in_the_error(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_TOKEN_LIFETIME", "hunter2")

    with pytest.raises(ConfigError) as info:
        make_app(CFG_TOKEN_LIFETIME=3600)

    assert str(info.value).startswith(
        "Environment variable TESTAPP_CFG_TOKEN_LIFETIME=******** is not a valid int: "
        "the setting holds ********."
    )
    assert "hunter2" not in str(info.value)
    assert "3600" not in str(info.value)


@pytest.mark.parametrize(
    ("current", "raw", "expected"),
    [
        (8080, "443", 443),
        (0.5, "2", 2),
        ([], "['a', 'b']", ["a", "b"]),
        ((), "['a']", ["a"]),
        ({}, "{'a': 1}", {"a": 1}),
        (None, "[1]", [1]),
    ],
)
def test_value_of_the_setting_kind(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, current: t.Any, raw: str, expected: t.Any
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_TYPED", raw)
    app = make_app(CFG_TYPED=current)

    assert app.config["CFG_TYPED"] == expected


@pytest.mark.parametrize("raw", ["8080", "None", "[1, 2]", "True", " padded "])
def test_str_setting_keeps_the_raw_text(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_PORT", raw)
    app = make_app(CFG_PORT="80")

    assert app.config["CFG_PORT"] == raw


def test_empty_value_does_not_erase_a_setting(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_NAME", "")
    monkeypatch.setenv("TESTAPP_CFG_UNSET", "")
    app = make_app(CFG_NAME="kept")
    registry = get_registry(app)

    assert app.config["CFG_NAME"] == "kept"
    assert registry.history.origin("CFG_NAME") == Origin(Layer.KWARGS, "CFG_NAME")
    assert "CFG_UNSET" not in app.config
    assert registry.ignored_variables == ["TESTAPP_CFG_NAME", "TESTAPP_CFG_UNSET"]


def test_only_the_app_prefix_counts(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPPX_CFG_OTHER", "1")
    monkeypatch.setenv("DUMMYAPP_CFG_OTHER", "1")
    monkeypatch.setenv("CFG_OTHER", "1")
    app = make_app()

    assert "CFG_OTHER" not in app.config
    assert "X_CFG_OTHER" not in app.config


def test_instance_path_variable(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen-instance"
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(chosen))
    app = make_app()

    assert app.instance_path == str(chosen)
    assert chosen.is_dir()
    assert get_registry(app).instance_file == str(chosen / "testapp.cfg")
    assert "INSTANCE_PATH" not in app.config
    assert "INSTANCE_PATH" not in get_registry(app).history


def test_instance_file_of_the_chosen_folder_is_read(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "chosen-instance"
    chosen.mkdir()
    (chosen / "testapp.cfg").write_text("CFG_LAYER = 'chosen'\n")
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(chosen))
    app = make_app()

    assert app.config["CFG_LAYER"] == "chosen"
    assert get_registry(app).history.origin("CFG_LAYER") == Origin(
        Layer.INSTANCE, str(chosen / "testapp.cfg")
    )


def test_static_folder_variable(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    static = tmp_path / "public"
    static.mkdir()
    (static / "hello.txt").write_text("hello from static")
    monkeypatch.setenv("TESTAPP_STATIC_FOLDER", str(static))
    app = make_app(SECRET_KEY="for-tests")

    assert app.static_folder == str(static)
    assert "STATIC_FOLDER" not in app.config
    with app.test_client() as client:
        response = client.get("/static/hello.txt")
        assert response.status_code == 200
        assert response.data == b"hello from static"
        response.close()


@pytest.mark.parametrize("names", [["CFG_DATABASE_URL", "CFG_WORKERS"], ("CFG_DATABASE_URL",)])
def test_legacy_app_config_envs_setting(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, names: t.Sequence[str]
) -> None:
    monkeypatch.setenv("CFG_DATABASE_URL", "postgresql://db.example/app")
    monkeypatch.setenv("CFG_WORKERS", "4")
    monkeypatch.setenv("CFG_NOT_LISTED", "x")
    app = make_app(APP_CONFIG_ENVS=names, CFG_WORKERS=1)
    history = get_registry(app).history

    assert app.config["CFG_DATABASE_URL"] == "postgresql://db.example/app"
    assert history.origin("CFG_DATABASE_URL") == Origin(Layer.ENV, "CFG_DATABASE_URL")
    assert app.config["CFG_WORKERS"] == (4 if "CFG_WORKERS" in names else 1)
    assert "CFG_NOT_LISTED" not in app.config


def test_legacy_app_config_envs_variable(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_APP_CONFIG_ENVS", "CFG_DATABASE_URL, CFG_DEBUG_TOOLBAR")
    monkeypatch.setenv("CFG_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("CFG_DEBUG_TOOLBAR", "off")
    monkeypatch.setenv("CFG_NOT_LISTED", "x")
    app = make_app(APP_CONFIG_ENVS=["CFG_NOT_LISTED"], CFG_DEBUG_TOOLBAR=True)

    assert app.config["CFG_DATABASE_URL"] == "sqlite://"
    assert app.config["CFG_DEBUG_TOOLBAR"] is False
    assert "CFG_NOT_LISTED" not in app.config
    assert "APP_CONFIG_ENVS" not in get_registry(app).history.keys_from(Layer.ENV)


def test_legacy_names_with_empty_values_are_ignored(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFG_DATABASE_URL", "")
    app = make_app(APP_CONFIG_ENVS=["CFG_DATABASE_URL"], CFG_DATABASE_URL="sqlite://")

    assert app.config["CFG_DATABASE_URL"] == "sqlite://"


def test_prefixed_variable_beats_the_legacy_name(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFG_DATABASE_URL", "sqlite:///legacy.db")
    monkeypatch.setenv("TESTAPP_CFG_DATABASE_URL", "sqlite:///prefixed.db")
    app = make_app(APP_CONFIG_ENVS=["CFG_DATABASE_URL"])
    history = get_registry(app).history

    assert app.config["CFG_DATABASE_URL"] == "sqlite:///prefixed.db"
    assert [s.origin.source for s in history.history("CFG_DATABASE_URL")] == [
        "CFG_DATABASE_URL",
        "TESTAPP_CFG_DATABASE_URL",
    ]


@pytest.mark.parametrize(
    "raw", ["['CFG_DATABASE_URL']", "('CFG_DATABASE_URL',)", "'CFG_DATABASE_URL'"]
)
def test_legacy_app_config_envs_variable_as_a_literal(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("TESTAPP_APP_CONFIG_ENVS", raw)
    monkeypatch.setenv("CFG_DATABASE_URL", "sqlite://")
    app = make_app()

    assert app.config["CFG_DATABASE_URL"] == "sqlite://"


def test_legacy_app_config_envs_variable_of_the_wrong_kind(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_APP_CONFIG_ENVS", "42")

    with pytest.raises(
        ConfigError,
        match=re.escape("TESTAPP_APP_CONFIG_ENVS must be a list of environment variable names"),
    ):
        make_app()


@pytest.mark.parametrize("value", [5, {"CFG_DATABASE_URL": 1}, ["CFG_DATABASE_URL", 2]])
def test_legacy_app_config_envs_of_the_wrong_kind(make_app: MakeApp, value: t.Any) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "APP_CONFIG_ENVS must be a list of environment variable names or a "
            f"comma-separated string, not {type(value).__name__}; for example ['SECRET_KEY']."
        ),
    ):
        make_app(APP_CONFIG_ENVS=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A, B", ["A", "B"]),
        ("A B,,C", ["A", "B", "C"]),
        (["a", " b "], ["A", "B"]),
        ("", []),
    ],
)
def test_legacy_variable_names(value: t.Any, expected: list[str]) -> None:
    assert legacy_variable_names(value, "APP_CONFIG_ENVS") == expected


@pytest.mark.parametrize(
    ("app_name", "prefix"),
    [
        ("myapp", "MYAPP"),
        ("MyApp", "MYAPP"),
        ("my-app2", "MYAPP"),
        ("my_app", "MYAPP"),
        ("app.v2.beta", "APPVBETA"),
    ],
)
def test_env_prefix(app_name: str, prefix: str) -> None:
    assert env_prefix(app_name) == prefix


@pytest.mark.parametrize("app_name", ["", "42", "__", "2-3"])
def test_env_prefix_without_letters(app_name: str) -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"App name {app_name!r} has no letters, so it gives no prefix for environment "
            "variables; choose a name with letters, such as 'myapp'."
        ),
    ):
        env_prefix(app_name)


def test_app_without_letters_in_its_name() -> None:
    with pytest.raises(ConfigError, match="App name '2024' has no letters"):
        appfactory("2024", None)


def test_prefix_of_an_app_name_with_non_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYAPP_CFG_WORKERS", "3")
    app = appfactory("my-app2", None)

    assert get_registry(app).prefix == "MYAPP"
    assert app.config["CFG_WORKERS"] == 3
    assert get_registry(app).history.origin("CFG_WORKERS") == Origin(Layer.ENV, "MYAPP_CFG_WORKERS")


def test_packages_variable_must_be_a_list(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_PACKAGES", "cfg_beta")

    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Environment variable TESTAPP_PACKAGES='cfg_beta' is not a valid list: PACKAGES is "
            "declared as a list by appfactory.core. Set it to a Python literal such as ['a', "
            "'b'], or unset TESTAPP_PACKAGES."
        ),
    ):
        make_app(PACKAGES=["cfg_alpha"])


def test_parse_env_value_directly() -> None:
    assert parse_env_value("MYAPP_DEBUG", "Off", True) is False
    assert parse_env_value("MYAPP_NAME", "8080", "80") == "8080"
    assert parse_env_value("MYAPP_NAME", "8080", None) == 8080
    with pytest.raises(ConfigError, match="MYAPP_PORT='eighty' is not a valid int"):
        parse_env_value("MYAPP_PORT", "eighty", 80)
