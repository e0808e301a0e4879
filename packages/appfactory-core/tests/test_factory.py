"""The factory: appfactory, load_application, signals and extensions."""

from __future__ import annotations

import os
import re
import stat
import sys
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import (
    ConfigError,
    ExtensionError,
    Layer,
    Origin,
    app_created,
    app_loaded,
    appfactory,
    get_registry,
    load_application,
)

MakeApp = t.Callable[..., Flask]
MakePackage = t.Callable[[str, dict[str, str]], Path]


def mode_of(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# appfactory: the instance and static folders.


def test_instance_folder_from_argument(tmp_path: Path, instance_path: Path) -> None:
    chosen = tmp_path / "from-argument"

    app = appfactory("testapp", load=False, instance_path=str(chosen))

    assert app.instance_path == str(chosen)
    assert chosen.is_dir()
    assert mode_of(chosen) == 0o700
    assert not instance_path.exists(), "the argument beats TESTAPP_INSTANCE_PATH"


def test_instance_folder_from_variable(instance_path: Path) -> None:
    app = appfactory("testapp", load=False)

    assert app.instance_path == str(instance_path)
    assert instance_path.is_dir()
    assert mode_of(instance_path) == 0o700


def test_relative_instance_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", "relative-instance")

    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The environment variable TESTAPP_INSTANCE_PATH is the relative path "
            "'relative-instance', which would name another folder in each process started "
            "elsewhere (the web side and a worker would not share it). Give an absolute path, "
            f"such as {str(tmp_path / 'relative-instance')!r}."
        ),
    ):
        appfactory("testapp", load=False)

    assert not (tmp_path / "relative-instance").exists()


def test_instance_folder_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", "~/inst")

    app = appfactory("testapp", load=False)

    assert app.instance_path == str(tmp_path / "home" / "inst")
    assert not (tmp_path / "~").exists()


def test_default_instance_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "venv"
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.delenv("TESTAPP_INSTANCE_PATH")

    app = appfactory("testapp", load=False)

    expected = prefix / "var" / "testapp-instance"
    assert app.instance_path == str(expected)
    assert expected.is_dir()
    assert mode_of(expected) == 0o700


def test_existing_instance_folder_is_untouched(instance_path: Path) -> None:
    instance_path.mkdir(mode=0o755)
    os.chmod(instance_path, 0o755)
    (instance_path / "keep.txt").write_text("kept")

    app = appfactory("testapp", load=False)

    assert app.instance_path == str(instance_path)
    assert mode_of(instance_path) == 0o755
    assert (instance_path / "keep.txt").read_text() == "kept"


def test_instance_folder_that_cannot_be_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    wanted = blocker / "instance"
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(wanted))

    with pytest.raises(ConfigError) as info:
        appfactory("testapp", load=False)

    message = str(info.value)
    assert message.startswith(f"Instance folder {wanted} cannot be created: ")
    assert message.endswith(
        "Choose a writable folder with the environment variable TESTAPP_INSTANCE_PATH."
    )
    assert isinstance(info.value.__cause__, OSError)


def test_appfactory_reports_an_instance_folder_that_cannot_be_created(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(blocker))

    with pytest.raises(ConfigError, match=re.escape(f"Instance folder {blocker} cannot be")):
        make_app()


def test_static_folder_default(instance_path: Path) -> None:
    app = appfactory("testapp", load=False)

    assert app.static_folder == str(instance_path / "static")
    assert app.static_url_path == "/static"


def test_static_folder_from_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_STATIC_FOLDER", str(tmp_path / "from-variable"))

    app = appfactory("testapp", load=False)

    assert app.static_folder == str(tmp_path / "from-variable")


def test_static_folder_from_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_STATIC_FOLDER", str(tmp_path / "from-variable"))

    app = appfactory(
        "testapp",
        load=False,
        static_folder=str(tmp_path / "from-argument"),
        static_url_path="/assets",
    )

    assert app.static_folder == str(tmp_path / "from-argument")
    assert app.static_url_path == "/assets"


def test_instance_static_files_are_served(make_app: MakeApp, instance_path: Path) -> None:
    (instance_path / "static").mkdir(parents=True)
    (instance_path / "static" / "site.css").write_text("body {}")
    app = make_app(SECRET_KEY="for-tests")

    with app.test_client() as client:
        response = client.get("/static/site.css")
        assert response.status_code == 200
        assert response.data == b"body {}"
        response.close()


def test_flask_cls() -> None:
    class CustomFlask(Flask):
        pass

    app = appfactory(
        "testapp", load=False, flask_cls=CustomFlask, flask_kwargs={"subdomain_matching": True}
    )

    assert type(app) is CustomFlask
    assert app.subdomain_matching is True
    assert app.config.root_path == app.instance_path, "config is instance relative"


def test_base_app_is_deprecated_and_still_works(instance_path: Path) -> None:
    from appfactory.core import base_app

    with pytest.warns(
        DeprecationWarning,
        match=re.escape(
            "appfactory.core.base_app() is deprecated and will be removed in appfactory-core "
            "0.3; call appfactory(app_name, module_name, instance_path=..., flask_cls=...)"
        ),
    ):
        app = base_app("testapp")

    assert app.instance_path == str(instance_path)
    assert "appfactory" not in app.extensions, "a bare app, as before"


# load_application and the signals.


def test_load_false_loads_only_the_configuration(make_app: MakeApp) -> None:
    app = make_app(
        "cfg_alpha.settings", load=False, PACKAGES=["cfg_views"], EXTENSIONS=["cfg_exts.recorder"]
    )
    registry = get_registry(app)

    assert registry.loaded is False
    assert app.config["CFG_LAYER"] == "app"
    assert app.blueprints == {}
    assert "cfg_calls" not in app.extensions
    assert "cfg_views.views" not in sys.modules


def test_load_application_is_idempotent(make_app: MakeApp) -> None:
    app = make_app(load=False, PACKAGES=["cfg_views"], EXTENSIONS=["cfg_exts.recorder"])

    assert load_application(app) is app
    rules = sorted(rule.rule for rule in app.url_map.iter_rules())
    assert load_application(app) is app

    registry = get_registry(app)
    assert registry.loaded is True
    assert list(app.blueprints) == ["cfg_views"]
    assert app.extensions["cfg_calls"] == [("recorder", [])]
    assert registry.extensions == ["cfg_exts.recorder"]
    assert sorted(rule.rule for rule in app.url_map.iter_rules()) == rules
    assert "/cfg-views" in rules


def test_signals_with_load(make_app: MakeApp) -> None:
    events: list[tuple[str, Flask, bool]] = []

    def created(app: Flask) -> None:
        events.append(("created", app, get_registry(app).loaded))

    def loaded(app: Flask) -> None:
        events.append(("loaded", app, get_registry(app).loaded))

    with app_created.connected_to(created), app_loaded.connected_to(loaded):
        app = make_app(PACKAGES=["cfg_alpha"])
        load_application(app)

    assert events == [("created", app, False), ("loaded", app, True)]


def test_signals_without_load(make_app: MakeApp) -> None:
    events: list[tuple[str, Flask]] = []
    seen_config: list[t.Any] = []

    def created(app: Flask) -> None:
        events.append(("created", app))
        seen_config.append(app.config.get("CFG_ALPHA_ONLY"))

    def loaded(app: Flask) -> None:
        events.append(("loaded", app))

    with app_created.connected_to(created), app_loaded.connected_to(loaded):
        app = make_app(load=False, PACKAGES=["cfg_alpha"])
        assert events == [("created", app)]
        assert seen_config == ["from alpha"], "app_created comes after the configuration"

        load_application(app)
        load_application(app)

    assert events == [("created", app), ("loaded", app)]


# Extensions.


def test_module_extension_calls_setup_app(make_app: MakeApp) -> None:
    app = make_app(EXTENSIONS=["cfg_exts.recorder"])

    assert app.extensions["cfg_calls"] == [("recorder", [])]
    assert get_registry(app).extensions == ["cfg_exts.recorder"]


def test_class_extension_is_called_with_the_app(make_app: MakeApp) -> None:
    from cfg_exts.classy import Classy

    app = make_app(EXTENSIONS=["cfg_exts.classy:Classy"])

    assert isinstance(app.extensions["classy"], Classy)
    assert app.extensions["cfg_calls"] == [("classy", [])]


@pytest.mark.parametrize(
    "extensions",
    [
        ["cfg_exts.recorder", "cfg_exts.classy:Classy"],
        ["cfg_exts.classy:Classy", "cfg_exts.recorder"],
    ],
)
def test_extensions_in_order_and_before_blueprints(
    make_app: MakeApp, extensions: list[str]
) -> None:
    app = make_app(PACKAGES=["cfg_views"], EXTENSIONS=extensions)
    names = {"cfg_exts.recorder": "recorder", "cfg_exts.classy:Classy": "classy"}

    # Each extension saw no blueprint yet; the package's blueprint came after.
    assert app.extensions["cfg_calls"] == [(names[entry], []) for entry in extensions]
    assert list(app.blueprints) == ["cfg_views"]
    assert get_registry(app).extensions == extensions


def test_extension_setdefault_keeps_the_app_value(make_app: MakeApp) -> None:
    app = make_app(EXTENSIONS=["cfg_exts.recorder"], CFG_EXT_COLOR="red")
    history = get_registry(app).history

    assert app.config["CFG_EXT_COLOR"] == "red"
    assert history.origin("CFG_EXT_COLOR") == Origin(Layer.KWARGS, "CFG_EXT_COLOR")
    assert [s.origin.layer for s in history.history("CFG_EXT_COLOR")] == [Layer.KWARGS]


def test_extension_setdefault_keeps_an_environment_value(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_CFG_EXT_COLOR", "green")
    app = make_app(EXTENSIONS=["cfg_exts.recorder"])

    assert app.config["CFG_EXT_COLOR"] == "green"
    assert get_registry(app).history.origin("CFG_EXT_COLOR") == Origin(
        Layer.ENV, "TESTAPP_CFG_EXT_COLOR"
    )


def test_keys_set_by_an_extension_are_recorded(make_app: MakeApp) -> None:
    app = make_app(EXTENSIONS=["cfg_exts.recorder"], CFG_EXT_FORCED="from kwargs")
    registry = get_registry(app)
    origin = Origin(Layer.EXTENSION, "cfg_exts.recorder")

    assert app.config["CFG_EXT_COLOR"] == "blue"
    assert registry.history.origin("CFG_EXT_COLOR") == origin
    assert app.config["CFG_EXT_FORCED"] == "set by recorder"
    assert [(s.origin, s.value) for s in registry.history.history("CFG_EXT_FORCED")] == [
        (Origin(Layer.KWARGS, "CFG_EXT_FORCED"), "from kwargs"),
        (origin, "set by recorder"),
    ]
    assert {"CFG_EXT_COLOR", "CFG_EXT_FORCED"} <= registry.declared_settings
    # Keys the extension did not touch keep their origin.
    assert registry.history.origin("MAX_CONTENT_LENGTH") == Origin(Layer.FLASK, "")


def test_extension_discovers_models_across_packages(make_app: MakeApp) -> None:
    import cfg_log

    app = make_app(PACKAGES=["cfg_beta", "cfg_views", "cfg_alpha"], EXTENSIONS=["cfg_exts.models"])
    registry = get_registry(app)

    models = app.extensions["cfg_models"]
    assert [m.__name__ for m in models] == ["cfg_beta.models", "cfg_alpha.models"]
    assert cfg_log.IMPORTED == ["cfg_beta.models", "cfg_alpha.models"]
    assert registry.package("cfg_beta").modules["models"] is sys.modules["cfg_beta.models"]
    assert "models" not in registry.package("cfg_views").modules


# Extensions that cannot be loaded: the message names the EXTENSIONS entry.


@pytest.mark.parametrize(
    ("entry", "module"),
    [
        ("cfg_no_such_extension", "cfg_no_such_extension"),
        ("cfg_no_such_extension:Ext", "cfg_no_such_extension"),
        ("cfg_exts.no_such_module", "cfg_exts.no_such_module"),
        ("cfg_no_such_package.ext", "cfg_no_such_package.ext"),
    ],
)
def test_extension_not_installed(make_app: MakeApp, entry: str, module: str) -> None:
    with pytest.raises(ExtensionError) as info:
        make_app(EXTENSIONS=[entry])

    assert str(info.value) == (
        f"Extension {entry!r} in EXTENSIONS cannot be imported: module {module!r} is not "
        "installed. Install it or remove it from EXTENSIONS."
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize(
    ("source", "cause", "description"),
    [
        (
            "import cfg_missing_dependency\n",
            ModuleNotFoundError,
            "ModuleNotFoundError: No module named 'cfg_missing_dependency'",
        ),
        (
            "raise RuntimeError('extension exploded')\n",
            RuntimeError,
            "RuntimeError: extension exploded",
        ),
        ("def setup_app(app)\n", SyntaxError, "SyntaxError: "),
    ],
    ids=["missing-dependency", "raises", "syntax-error"],
)
def test_extension_importable_but_broken(
    make_app: MakeApp,
    make_package: MakePackage,
    source: str,
    cause: type[Exception],
    description: str,
) -> None:
    make_package("cfg_broken_ext", {"__init__.py": source})

    with pytest.raises(ExtensionError) as info:
        make_app(EXTENSIONS=["cfg_broken_ext"])

    message = str(info.value)
    assert message.startswith(
        f"Extension 'cfg_broken_ext' in EXTENSIONS failed to import: {description}"
    )
    assert message.endswith("Fix the error in the extension's module.")
    assert isinstance(info.value.__cause__, cause)


@pytest.mark.parametrize(
    ("entry", "form"),
    [
        ("cfg_plain_ext", "cfg_plain_ext.setup_app(app)"),
        ("cfg_plain_ext:Missing", "cfg_plain_ext:Missing"),
        ("cfg_plain_ext:NOT_CALLABLE", "cfg_plain_ext:NOT_CALLABLE"),
    ],
)
def test_extension_without_setup(
    make_app: MakeApp, make_package: MakePackage, entry: str, form: str
) -> None:
    make_package("cfg_plain_ext", {"__init__.py": "NOT_CALLABLE = 1\nsetup_app = None\n"})

    with pytest.raises(
        ExtensionError,
        match=re.escape(
            f"Extension {entry!r} in EXTENSIONS has no callable {form}; define setup_app(app) "
            "in 'cfg_plain_ext', or name a class as 'module:Class'."
        ),
    ):
        make_app(EXTENSIONS=[entry])


@pytest.mark.parametrize("entry", ["cfg_raising_ext", "cfg_raising_ext:Ext"])
def test_extension_setup_raising(make_app: MakeApp, make_package: MakePackage, entry: str) -> None:
    make_package(
        "cfg_raising_ext",
        {
            "__init__.py": """\
            def setup_app(app):
                raise ValueError("CFG_RAISING_URL is required")


            class Ext:
                def __init__(self, app):
                    setup_app(app)
            """
        },
    )

    with pytest.raises(ExtensionError) as info:
        make_app(EXTENSIONS=["cfg_exts.recorder", entry])

    assert str(info.value) == (
        f"Extension {entry!r} in EXTENSIONS failed while setting up the app: ValueError: "
        "CFG_RAISING_URL is required. Fix the extension or its settings."
    )
    assert isinstance(info.value.__cause__, ValueError)


def test_bad_extension_is_reported_by_load_application(
    make_app: MakeApp, make_package: MakePackage
) -> None:
    app = make_app(load=False, EXTENSIONS=["cfg_no_such_extension"])

    with pytest.raises(ExtensionError, match="'cfg_no_such_extension' in EXTENSIONS"):
        load_application(app)
    assert get_registry(app).loaded is False


def test_flask_appfactorys_jinja2_entry_is_skipped_with_a_deprecation() -> None:
    with pytest.warns(
        DeprecationWarning,
        match=r"^EXTENSIONS entry 'flask_appfactory\.ext\.jinja2' does nothing in appfactory: "
        r"templates are looked up in PACKAGES order and JINJA2_EXTENSIONS are added without "
        r"it\. Remove it from EXTENSIONS; it will be refused in appfactory-core 0\.3\.$",
    ):
        app = appfactory(
            "dummyapp",
            None,
            EXTENSIONS=["flask_appfactory.ext.jinja2"],
            JINJA2_EXTENSIONS=["jinja2.ext.do"],
        )
    assert get_registry(app).extensions == []
    assert "jinja2.ext.ExprStmtExtension" in app.jinja_env.extensions
