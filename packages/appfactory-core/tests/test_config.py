"""The configuration layers: one precedence rule, provenance, and bad inputs."""

from __future__ import annotations

import itertools
import re
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import ConfigError, Layer, Origin, appfactory, get_registry
from appfactory.core.registry import Conflict

#: The configurable layers, lowest precedence first.
LAYERS = ("package", "app", "instance", "kwargs", "env")

#: Every non-empty combination of layers: each layer alone, each pair, ..., all five.
COMBINATIONS = [
    combo for size in range(1, len(LAYERS) + 1) for combo in itertools.combinations(LAYERS, size)
]


class Config:
    """A configuration class passed as ``module_name``."""

    CFG_LAYER = "class"
    lowercase_helper = "not a setting"


def expected_origin(layer: str, instance_file: Path) -> Origin:
    return {
        "package": Origin(Layer.PACKAGE, "cfg_alpha.config"),
        "app": Origin(Layer.APP, "cfg_alpha.settings"),
        "instance": Origin(Layer.INSTANCE, str(instance_file)),
        "kwargs": Origin(Layer.KWARGS, "CFG_LAYER"),
        "env": Origin(Layer.ENV, "TESTAPP_CFG_LAYER"),
    }[layer]


@pytest.fixture
def layered_app(
    make_app: t.Callable[..., Flask],
    write_instance_file: t.Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> t.Callable[..., Flask]:
    """Make an app in which each given layer sets ``CFG_LAYER`` to the layer's name."""

    def make(layers: t.Iterable[str], load: bool = True) -> Flask:
        layers = set(layers)
        kwargs: dict[str, t.Any] = {}
        if "package" in layers:
            kwargs["PACKAGES"] = ["cfg_alpha"]
        if "instance" in layers:
            write_instance_file("testapp", 'CFG_LAYER = "instance"\n')
        if "kwargs" in layers:
            kwargs["CFG_LAYER"] = "kwargs"
        if "env" in layers:
            monkeypatch.setenv("TESTAPP_CFG_LAYER", "env")
        module = "cfg_alpha.settings" if "app" in layers else None
        return make_app(module, load=load, **kwargs)

    return make


@pytest.mark.parametrize("layers", COMBINATIONS, ids="+".join)
def test_precedence(
    layered_app: t.Callable[..., Flask], instance_path: Path, layers: tuple[str, ...]
) -> None:
    app = layered_app(layers)
    history = get_registry(app).history
    instance_file = instance_path / "testapp.cfg"

    assert app.config["CFG_LAYER"] == layers[-1]
    assert history.origin("CFG_LAYER") == expected_origin(layers[-1], instance_file)
    assert [(s.origin, s.value) for s in history.history("CFG_LAYER")] == [
        (expected_origin(layer, instance_file), layer) for layer in layers
    ]
    assert [s.value for s in history.shadowed("CFG_LAYER")] == list(layers[:-1])


@pytest.mark.parametrize("load", [True, False])
def test_package_defaults_with_and_without_load(
    layered_app: t.Callable[..., Flask], load: bool
) -> None:
    app = layered_app(["package"], load=load)

    assert app.config["CFG_ALPHA_ONLY"] == "from alpha"
    assert get_registry(app).loaded is load
    assert get_registry(app).history.origin("CFG_ALPHA_ONLY") == Origin(
        Layer.PACKAGE, "cfg_alpha.config"
    )


def test_lowercase_names_are_not_settings(layered_app: t.Callable[..., Flask]) -> None:
    app = layered_app(["package", "app"])

    assert "lowercase_helper" not in app.config
    assert "CFG_APP_ONLY" in app.config


def test_flask_defaults_are_the_lowest_layer(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(None, SESSION_COOKIE_NAME="cfg_session")
    history = get_registry(app).history

    assert [s.origin.layer for s in history.history("SESSION_COOKIE_NAME")] == [
        Layer.FLASK,
        Layer.KWARGS,
    ]
    assert history.origin("MAX_CONTENT_LENGTH") == Origin(Layer.FLASK, "")


@pytest.mark.parametrize(
    ("packages", "winner", "loser"),
    [
        (["cfg_alpha", "cfg_beta"], "cfg_alpha", "cfg_beta"),
        (["cfg_beta", "cfg_alpha"], "cfg_beta", "cfg_alpha"),
    ],
)
def test_two_packages_default_the_same_key(
    make_app: t.Callable[..., Flask], packages: list[str], winner: str, loser: str
) -> None:
    app = make_app(None, PACKAGES=packages)
    registry = get_registry(app)

    assert app.config["CFG_SHARED"] == winner.removeprefix("cfg_")
    assert registry.conflicts == [Conflict("config-default", "CFG_SHARED", winner, (loser,))]
    assert [(s.origin, s.value) for s in registry.history.history("CFG_SHARED")] == [
        (Origin(Layer.PACKAGE, f"{loser}.config"), loser.removeprefix("cfg_")),
        (Origin(Layer.PACKAGE, f"{winner}.config"), winner.removeprefix("cfg_")),
    ]
    # Keys that only one package defaults are no conflict.
    assert app.config["CFG_ALPHA_ONLY"] == "from alpha"
    assert app.config["CFG_BETA_ONLY"] == "from beta"


def test_package_conflict_does_not_hide_a_higher_layer(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(None, PACKAGES=["cfg_beta", "cfg_alpha"], CFG_SHARED="app")

    assert app.config["CFG_SHARED"] == "app"
    assert [s.value for s in get_registry(app).history.history("CFG_SHARED")] == [
        "alpha",
        "beta",
        "app",
    ]


def test_packages_from_an_environment_variable(
    make_app: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_PACKAGES", "['cfg_beta']")
    app = make_app(None, PACKAGES=["cfg_alpha"])

    assert [p.name for p in get_registry(app).packages] == ["cfg_beta"]
    assert app.config["CFG_SHARED"] == "beta"
    assert "CFG_ALPHA_ONLY" not in app.config


def test_packages_exclude(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(None, PACKAGES=["cfg_alpha", "cfg_beta"], PACKAGES_EXCLUDE=["cfg_alpha"])

    assert [p.name for p in get_registry(app).packages] == ["cfg_beta"]
    assert app.config["CFG_SHARED"] == "beta"
    assert get_registry(app).conflicts == []


def test_config_class_as_module_name(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(Config)
    origin = get_registry(app).history.origin("CFG_LAYER")

    assert app.config["CFG_LAYER"] == "class"
    assert "lowercase_helper" not in app.config
    assert origin == Origin(Layer.APP, f"{Config.__module__}.Config")


def test_dict_as_module_name(make_app: t.Callable[..., Flask]) -> None:
    app = make_app({"CFG_LAYER": "dict", "lowercase": "not a setting"})
    origin = get_registry(app).history.origin("CFG_LAYER")

    assert app.config["CFG_LAYER"] == "dict"
    assert "lowercase" not in app.config
    assert origin is not None
    assert origin.layer is Layer.APP


@pytest.mark.parametrize(
    ("module_name", "value"),
    [
        ("cfg_alpha.settings", "app"),
        ("cfg_alpha.settings:Production", "production class"),
        ("cfg_alpha.settings.Production", "production class"),
    ],
)
def test_import_paths(make_app: t.Callable[..., Flask], module_name: str, value: str) -> None:
    app = make_app(module_name)
    registry = get_registry(app)

    assert app.config["CFG_LAYER"] == value
    assert "lowercase_helper" not in app.config
    assert registry.module_name == module_name
    assert registry.history.origin("CFG_LAYER") == Origin(Layer.APP, module_name)


def test_dummyapp_without_module(
    instance_path: Path, write_instance_file: t.Callable[[str, str], Path]
) -> None:
    write_instance_file("dummyapp", "CFG_LAYER = 'instance'\n")
    app = appfactory("dummyapp", None)
    registry = get_registry(app)

    assert app.name == "dummyapp"
    assert registry.prefix == "DUMMYAPP"
    assert registry.module_name is None
    assert registry.packages == []
    assert registry.instance_file == str(instance_path / "dummyapp.cfg")
    assert app.config["CFG_LAYER"] == "instance"


def test_kwargs_and_env_choose_factory_settings_too(
    make_app: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_PACKAGES_EXCLUDE", "['cfg_beta']")
    app = make_app("cfg_alpha.settings", PACKAGES=["cfg_alpha", "cfg_beta"])
    history = get_registry(app).history

    assert [p.name for p in get_registry(app).packages] == ["cfg_alpha"]
    assert history.origin("PACKAGES") == Origin(Layer.KWARGS, "PACKAGES")
    assert history.origin("PACKAGES_EXCLUDE") == Origin(Layer.ENV, "TESTAPP_PACKAGES_EXCLUDE")


# Bad inputs: each names the culprit and says how to fix it.


@pytest.mark.parametrize(
    ("module_name", "message"),
    [
        (
            "cfg_no_such_settings",
            "Configuration module 'cfg_no_such_settings' cannot be found; check the import "
            "path passed to appfactory() and that its distribution is installed.",
        ),
        (
            "cfg_no_such_settings.Config",
            "Configuration module 'cfg_no_such_settings.Config' cannot be found",
        ),
        (
            "cfg_alpha.settings:Missing",
            "Configuration module 'cfg_alpha.settings' has no attribute 'Missing'; "
            "check the spelling of 'cfg_alpha.settings:Missing'.",
        ),
        (
            "cfg_alpha.settings.Missing",
            "Configuration module 'cfg_alpha.settings' has no attribute 'Missing'; "
            "check the spelling of 'cfg_alpha.settings.Missing'.",
        ),
    ],
)
def test_bad_module_name(make_app: t.Callable[..., Flask], module_name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_app(module_name)


@pytest.mark.parametrize("module_name", ["cfg_broken.settings", "cfg_broken.settings:Config"])
def test_config_module_that_raises(
    make_app: t.Callable[..., Flask],
    make_package: t.Callable[[str, dict[str, str]], Path],
    module_name: str,
) -> None:
    make_package("cfg_broken", {"settings.py": "X = 1\nraise RuntimeError('settings exploded')\n"})

    with pytest.raises(ConfigError) as info:
        make_app(module_name)

    assert str(info.value) == (
        "Configuration module 'cfg_broken.settings' failed to import: RuntimeError: "
        "settings exploded. Fix the error in that module."
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "settings exploded"


def test_config_module_with_a_missing_dependency(
    make_app: t.Callable[..., Flask], make_package: t.Callable[[str, dict[str, str]], Path]
) -> None:
    make_package("cfg_needy", {"settings.py": "import cfg_not_installed_dependency\n"})

    with pytest.raises(ConfigError) as info:
        make_app("cfg_needy.settings")

    assert str(info.value) == (
        "Configuration module 'cfg_needy.settings' failed to import: ModuleNotFoundError: "
        "No module named 'cfg_not_installed_dependency'. Fix the error in that module."
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_instance_file_syntax_error(
    make_app: t.Callable[..., Flask], write_instance_file: t.Callable[[str, str], Path]
) -> None:
    path = write_instance_file("testapp", "A = 1\nB = (\nC = 3\n")

    with pytest.raises(ConfigError) as info:
        make_app()

    message = str(info.value)
    assert message.startswith(f"Instance file {path}, line 2: syntax error: ")
    assert message.endswith(
        "Fix that line; the file holds Python assignments such as SECRET_KEY = '...'."
    )
    assert isinstance(info.value.__cause__, SyntaxError)


def test_instance_file_raising(
    make_app: t.Callable[..., Flask], write_instance_file: t.Callable[[str, str], Path]
) -> None:
    path = write_instance_file("testapp", "A = 1\n\nB = 1 / 0\n")

    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"Instance file {path}, line 3: ZeroDivisionError: division by zero. Fix that line."
        ),
    ) as info:
        make_app()

    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_instance_file_raising_in_a_function(
    make_app: t.Callable[..., Flask], write_instance_file: t.Callable[[str, str], Path]
) -> None:
    path = write_instance_file(
        "testapp",
        """\
        import os

        def read():
            return os.environ["CFG_UNSET_VARIABLE_FOR_TESTS"]

        SECRET_KEY = read()
        """,
    )

    with pytest.raises(
        ConfigError,
        match=re.escape(f"Instance file {path}, line 4: KeyError: 'CFG_UNSET_VARIABLE_FOR_TESTS'"),
    ):
        make_app()


def test_instance_file_that_is_a_folder(
    make_app: t.Callable[..., Flask], instance_path: Path
) -> None:
    (instance_path / "testapp.cfg").mkdir(parents=True)

    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"Instance file {instance_path / 'testapp.cfg'} is a folder, not a file. Replace "
            "it by a file of Python assignments such as SECRET_KEY = '...', or remove it."
        ),
    ):
        make_app()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"PACKAGES": "cfg_alpha"},
            "PACKAGES must be a list of strings, not str 'cfg_alpha'; "
            "for example PACKAGES = ['mymodule'].",
        ),
        (
            {"PACKAGES": {"cfg_alpha": True}},
            "PACKAGES must be a list of strings, not dict",
        ),
        (
            {"PACKAGES": ["cfg_alpha", 3]},
            "PACKAGES holds 3, which is not a non-empty string; list import names, "
            "for example PACKAGES = ['mymodule'].",
        ),
        (
            {"PACKAGES": ["cfg_alpha", ""]},
            "PACKAGES holds '', which is not a non-empty string",
        ),
        (
            {"PACKAGES_EXCLUDE": "cfg_alpha"},
            "PACKAGES_EXCLUDE must be a list of strings, not str 'cfg_alpha'",
        ),
        (
            {"EXTENSIONS": "cfg_exts.recorder"},
            "EXTENSIONS must be a list of strings, not str 'cfg_exts.recorder'; "
            "for example EXTENSIONS = ['mymodule'].",
        ),
        (
            {"EXTENSIONS": ["cfg_exts.recorder", None]},
            "EXTENSIONS holds None, which is not a non-empty string; list import names, "
            "for example EXTENSIONS = ['mymodule'].",
        ),
    ],
    ids=lambda value: "-".join(map(str, value)) if isinstance(value, dict) else None,
)
def test_bad_lists(
    make_app: t.Callable[..., Flask], config: dict[str, t.Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_app(**config)
