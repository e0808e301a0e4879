"""The API for extensions: declared settings, typed environment values, checks, hooks."""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from appfactory.core import (
    ConfigError,
    ExtensionError,
    Layer,
    Level,
    Option,
    Origin,
    Problem,
    add_check,
    add_inspection_hook,
    add_package_items,
    check_app,
    clifactory,
    convert_setting,
    declare_settings,
    get_registry,
    option_table,
    set_setting,
)

MakeApp = t.Callable[..., Flask]
MakePackage = t.Callable[[str, dict[str, str]], Path]

#: An extension of our own, declaring its settings through the API.
DECLARING = """\
from appfactory.core import Option, declare_settings, option_table

OPTIONS = option_table([
    Option("EXT_FLAG", False),
    Option("EXT_SIZE", 5),
    Option("EXT_RATIO", 0.5),
    Option("EXT_NAMES", ["a"]),
    Option("EXT_PAIR", (1, 2)),
    Option("EXT_MAP", {"a": 1}),
    Option("EXT_TEXT", "plain"),
    Option("EXT_URI", None, str),
])


def setup_app(app):
    declare_settings(app, OPTIONS)
"""

#: A third-party extension that knows nothing of appfactory: it gives its
#: defaults with app.config.setdefault, as Flask-SQLAlchemy and Flask-WTF do.
THIRD_PARTY = """\
class ThirdParty:
    def __init__(self, app):
        app.config.setdefault("EXT_FLAG", False)
        app.config.setdefault("EXT_SIZE", 5)
        app.config.setdefault("EXT_RATIO", 0.5)
        app.config.setdefault("EXT_NAMES", ["a"])
        app.config.setdefault("EXT_PAIR", (1, 2))
        app.config.setdefault("EXT_MAP", {"a": 1})
        app.config.setdefault("EXT_TEXT", "plain")
        app.extensions["third_party"] = {key: app.config[key] for key in app.config
                                         if key.startswith("EXT_")}
"""

EXTENSIONS = {
    "declared": ["ext_declaring"],
    "setdefault": ["ext_third:ThirdParty"],
}

TYPING = [
    ("EXT_FLAG", "false", False),
    ("EXT_FLAG", "Yes", True),
    ("EXT_SIZE", "12", 12),
    ("EXT_RATIO", "2.5", 2.5),
    ("EXT_NAMES", "['x', 'y']", ["x", "y"]),
    ("EXT_PAIR", "(3, 4)", (3, 4)),
    ("EXT_MAP", "{'b': 2}", {"b": 2}),
    ("EXT_TEXT", "12", "12"),
    ("EXT_TEXT", "['not', 'a', 'list']", "['not', 'a', 'list']"),
]


@pytest.fixture
def extensions(make_package: MakePackage) -> None:
    make_package("ext_declaring", {"__init__.py": DECLARING})
    make_package("ext_third", {"__init__.py": THIRD_PARTY})


@pytest.mark.parametrize("how", sorted(EXTENSIONS))
@pytest.mark.parametrize(("key", "text", "expected"), TYPING)
def test_environment_value_gets_the_type_of_an_extensions_default(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    extensions: None,
    how: str,
    key: str,
    text: str,
    expected: t.Any,
) -> None:
    monkeypatch.setenv(f"TESTAPP_{key}", text)

    app = make_app(EXTENSIONS=EXTENSIONS[how])

    assert app.config[key] == expected
    assert type(app.config[key]) is type(expected)
    history = get_registry(app).history
    assert history.origin(key) == Origin(Layer.ENV, f"TESTAPP_{key}")
    assert history.text(key) == text
    if how == "setdefault":
        assert app.extensions["third_party"][key] == expected, "the extension reads the type"


@pytest.mark.parametrize("how", sorted(EXTENSIONS))
@pytest.mark.parametrize(
    ("key", "text", "kind", "expected"),
    [
        ("EXT_FLAG", "maybe", "bool", "true/false, yes/no, on/off or 1/0"),
        ("EXT_SIZE", "many", "int", "a number such as 42 or 0.5"),
        ("EXT_RATIO", "true", "float", "a number such as 42 or 0.5"),
        ("EXT_NAMES", "x,y", "list", "a Python literal such as ['a', 'b']"),
        ("EXT_PAIR", "{'a': 1}", "tuple", "a Python literal such as ['a', 'b']"),
        ("EXT_MAP", "[1]", "dict", "a Python literal such as {'a': 1}"),
    ],
)
def test_environment_value_not_of_the_declared_type(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    extensions: None,
    how: str,
    key: str,
    text: str,
    kind: str,
    expected: str,
) -> None:
    monkeypatch.setenv(f"TESTAPP_{key}", text)
    entry = EXTENSIONS[how][0]
    owner = "ext_declaring" if how == "declared" else "ext_third:ThirdParty"

    with pytest.raises(ExtensionError) as info:
        make_app(EXTENSIONS=EXTENSIONS[how])

    # Reported as the extension's failure (it names the entry), caused by the variable.
    error = info.value.__cause__
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"Environment variable TESTAPP_{key}={text!r} is not a valid {kind}: {key} is "
        f"declared as a {kind} by {owner}. Set it to {expected}, or unset TESTAPP_{key}."
    )
    assert entry in str(info.value)


def test_declared_type_without_a_default(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, extensions: None
) -> None:
    monkeypatch.setenv("TESTAPP_EXT_URI", "12")

    app = make_app(EXTENSIONS=["ext_declaring"])

    assert app.config["EXT_URI"] == "12", "declared str: the text stays a string"


def test_declared_defaults_and_their_origin(make_app: MakeApp, extensions: None) -> None:
    app = make_app(EXTENSIONS=["ext_declaring"], EXT_SIZE=9)

    assert app.config["EXT_FLAG"] is False
    assert app.config["EXT_SIZE"] == 9, "a layer's value beats the declared default"
    history = get_registry(app).history
    assert history.origin("EXT_FLAG") == Origin(Layer.EXTENSION, "ext_declaring")
    assert history.origin("EXT_SIZE") == Origin(Layer.KWARGS, "EXT_SIZE")
    assert app.config["EXT_URI"] is None, "a default of None is a default too"


@pytest.mark.parametrize("how", sorted(EXTENSIONS))
def test_declared_settings_are_known_to_check(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, extensions: None, how: str
) -> None:
    monkeypatch.setenv("TESTAPP_EXT_FLAG", "true")

    app = make_app(EXTENSIONS=EXTENSIONS[how], EXT_SIZE=3, SECRET_KEY="x" * 64)

    ids = {(p.id, p.message.split()[0]) for p in check_app(app)}
    assert not {i for i in ids if i[1] in ("EXT_FLAG", "EXT_SIZE")}, ids


def test_history_shows_the_text_and_the_value(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, extensions: None
) -> None:
    monkeypatch.setenv("TESTAPP_EXT_FLAG", "false")
    create_app = lambda load=True, **kw: make_app(  # noqa: E731
        load=load, EXTENSIONS=["ext_third:ThirdParty"], **kw
    )

    result = CliRunner().invoke(clifactory(create_app), ["config", "show", "EXT_FLAG", "--history"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "EXT_FLAG = False",
        "  set by: environment variable (TESTAPP_EXT_FLAG)",
        "  history (lowest first):",
        "    1. extension (ext_third:ThirdParty): False",
        "    2. environment variable (TESTAPP_EXT_FLAG): False (read from the text 'false')"
        "  <- effective",
    ]


def test_history_masks_the_text_of_a_secret(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_API_TOKEN", "[1, 2]")
    create_app = lambda load=True, **kw: make_app(load=load, **kw)  # noqa: E731

    result = CliRunner().invoke(
        clifactory(create_app), ["config", "show", "API_TOKEN", "--history"]
    )

    assert result.exit_code == 0, result.output
    assert "1, 2" not in result.output
    assert "environment variable (TESTAPP_API_TOKEN): ********  <- effective" in result.output


def test_bad_typed_variable_is_one_line_from_the_cli(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, extensions: None
) -> None:
    monkeypatch.setenv("TESTAPP_EXT_SIZE", "lots")
    create_app = lambda load=True, **kw: make_app(  # noqa: E731
        load=load, EXTENSIONS=["ext_declaring"], **kw
    )

    result = CliRunner().invoke(clifactory(create_app), ["routes"])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "TESTAPP_EXT_SIZE='lots' is not a valid int" in result.output


def test_set_and_convert_setting(make_app: MakeApp) -> None:
    app = make_app(EXT_LEVEL="3")

    set_setting(app, "EXT_MODE", "fast", owner="ext_mode")
    convert_setting(app, "EXT_LEVEL", 3)

    history = get_registry(app).history
    assert app.config["EXT_MODE"] == "fast"
    assert history.origin("EXT_MODE") == Origin(Layer.EXTENSION, "ext_mode")
    assert app.config["EXT_LEVEL"] == 3
    assert history.origin("EXT_LEVEL") == Origin(Layer.KWARGS, "EXT_LEVEL")
    assert [s.value for s in history.history("EXT_LEVEL")] == [3]
    assert get_registry(app).is_declared("EXT_MODE")


def test_checks_and_inspection_hooks(make_app: MakeApp) -> None:
    app = make_app(SECRET_KEY="x" * 64, PACKAGES=["pkg_plain"])
    seen: list[str] = []

    def hook(app: Flask) -> None:
        seen.append("hook")
        add_package_items(app, "pkg_plain", "widgets", ["dial", "knob"])

    def check(app: Flask) -> list[Problem]:
        seen.append("check")
        return [Problem("XX001", "ext-problem", Level.ERROR, "Broken.", "Fix it.")]

    add_inspection_hook(app, hook)
    add_inspection_hook(app, hook)
    add_check(app, check)
    add_check(app, check)

    problems = check_app(app)

    assert seen == ["hook", "check"], "each added once, the hook before the check"
    assert [p.id for p in problems] == ["XX001"]
    assert get_registry(app).package("pkg_plain").extras == {"widgets": ["dial", "knob"]}


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ([Option("lower", 1)], ValueError, "Setting name 'lower' is not an UPPERCASE identifier"),
        (["EXT_X"], TypeError, "Expected an Option, got str 'EXT_X'."),
    ],
)
def test_bad_declarations(options: list[t.Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        option_table(options)


def test_declare_settings_from_a_mapping_of_defaults(make_app: MakeApp) -> None:
    app = make_app()

    declare_settings(app, {"EXT_GREETING": "Hi"}, owner="greeter")

    assert app.config["EXT_GREETING"] == "Hi"
    assert get_registry(app).option("EXT_GREETING") == Option("EXT_GREETING", "Hi")
