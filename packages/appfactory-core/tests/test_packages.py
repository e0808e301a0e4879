"""Which packages an app has, and discovering their modules."""

from __future__ import annotations

import importlib.metadata
import re
import textwrap
import typing as t
from pathlib import Path

import pytest

from appfactory.core import (
    ConfigError,
    PackageModuleError,
    PackageNotFoundError,
    discover_modules,
    get_registry,
    import_package_module,
)
from appfactory.core.packages import entry_point_packages, resolve_packages


def package_names(app: t.Any) -> list[str]:
    return [info.name for info in get_registry(app).packages]


@pytest.fixture
def install_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> t.Callable[[str, dict[str, str]], Path]:
    """Install a distribution advertising ``{entry point name: package}`` packages.

    A real ``<name>-1.0.dist-info`` folder on ``sys.path``, found by
    ``importlib.metadata`` like any installed distribution.
    """
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(site))

    def install(name: str, packages: dict[str, str]) -> Path:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        lines = [f"{ep} = {package}" for ep, package in packages.items()]
        (info / "entry_points.txt").write_text("[appfactory.packages]\n" + "\n".join(lines) + "\n")
        entry_point_packages.cache_clear()
        return info

    return install


# PACKAGES and PACKAGES_EXCLUDE


@pytest.mark.parametrize(
    ("packages", "exclude", "expected"),
    [
        (["pkg_alpha", "pkg_beta", "pkg_plain"], None, ["pkg_alpha", "pkg_beta", "pkg_plain"]),
        (["pkg_plain", "pkg_beta", "pkg_alpha"], None, ["pkg_plain", "pkg_beta", "pkg_alpha"]),
        (("pkg_beta", "pkg_alpha"), (), ["pkg_beta", "pkg_alpha"]),
        (["pkg_alpha", "pkg_beta", "pkg_plain"], ["pkg_beta"], ["pkg_alpha", "pkg_plain"]),
        (["pkg_alpha", "pkg_beta"], ["pkg_alpha", "pkg_beta"], []),
        (["pkg_alpha"], ["not_listed_anywhere"], ["pkg_alpha"]),
        (["pkg_alpha", "pkg_beta", "pkg_alpha"], None, ["pkg_alpha", "pkg_beta"]),
        (None, None, []),
    ],
)
def test_packages_order_and_exclude(make_app, packages, exclude, expected):
    app = make_app(PACKAGES=packages, PACKAGES_EXCLUDE=exclude)
    assert package_names(app) == expected
    assert all(info.source == "PACKAGES" for info in get_registry(app).packages)


def test_excluded_package_is_never_imported(make_app, make_package):
    make_package("pkg_explodes", {"__init__.py": "raise RuntimeError('imported')"})
    app = make_app(PACKAGES=["pkg_alpha", "pkg_explodes"], PACKAGES_EXCLUDE=["pkg_explodes"])
    assert package_names(app) == ["pkg_alpha"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("PACKAGES", "pkg_alpha", "PACKAGES must be a list of strings, not str 'pkg_alpha'"),
        ("PACKAGES", {"pkg_alpha": 1}, "PACKAGES must be a list of strings, not dict"),
        ("PACKAGES", ["pkg_alpha", 3], "PACKAGES holds 3, which is not a non-empty string"),
        ("PACKAGES", ["pkg_alpha", ""], "PACKAGES holds '', which is not a non-empty string"),
        ("PACKAGES_EXCLUDE", "pkg_alpha", "PACKAGES_EXCLUDE must be a list of strings, not str"),
        (
            "PACKAGES_ENTRY_POINT_GROUP",
            ["appfactory.packages"],
            "PACKAGES_ENTRY_POINT_GROUP must be a string or None",
        ),
    ],
)
def test_bad_package_settings(make_app, setting, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_app(load=False, **{setting: value})


# Entry points


def test_entry_points_come_after_packages_sorted_by_name(make_app, install_distribution):
    # Two distributions: the order must not depend on which one is found first.
    install_distribution("pkg-dist-one", {"zeta": "pkg_alpha"})
    install_distribution("pkg-dist-two", {"alpha": "pkg_beta", "middle": "pkg_plain"})
    app = make_app(PACKAGES=["pkg_plain"])
    assert package_names(app) == ["pkg_plain", "pkg_beta", "pkg_alpha"]
    registry = get_registry(app)
    # A duplicate keeps its first place, and says it came from PACKAGES.
    assert registry.package("pkg_plain").source == "PACKAGES"
    assert registry.package("pkg_beta").source == "entry point 'alpha' of pkg-dist-two"
    assert registry.package("pkg_alpha").source == "entry point 'zeta' of pkg-dist-one"


def test_entry_point_package_is_loaded(make_app, install_distribution):
    install_distribution("pkg-dist-one", {"alpha": "pkg_alpha"})
    app = make_app(SECRET_KEY="test")
    assert package_names(app) == ["pkg_alpha"]
    assert app.config["PKG_ALPHA_GREETING"] == "Hello from alpha"
    assert "pkg_alpha" in app.blueprints


def test_entry_point_packages_can_be_excluded(make_app, install_distribution):
    install_distribution("pkg-dist-one", {"alpha": "pkg_alpha", "beta": "pkg_beta"})
    app = make_app(PACKAGES_EXCLUDE=["pkg_alpha"])
    assert package_names(app) == ["pkg_beta"]


def test_entry_point_group_none_turns_them_off(make_app, install_distribution):
    install_distribution("pkg-dist-one", {"alpha": "pkg_alpha"})
    app = make_app(PACKAGES=["pkg_beta"], PACKAGES_ENTRY_POINT_GROUP=None)
    assert package_names(app) == ["pkg_beta"]


def test_entry_point_group_can_be_renamed(make_app, install_distribution, tmp_path):
    install_distribution("pkg-dist-one", {"alpha": "pkg_alpha"})
    info = tmp_path / "site-packages" / "pkg_dist_other-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg-dist-other\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pkg.other.group]\nbeta = pkg_beta\n")
    app = make_app(PACKAGES_ENTRY_POINT_GROUP="pkg.other.group")
    assert package_names(app) == ["pkg_beta"]


def test_entry_points_are_scanned_once_per_process(
    make_app, install_distribution, monkeypatch: pytest.MonkeyPatch
):
    install_distribution("pkg-dist-one", {"alpha": "pkg_alpha"})
    calls: list[dict[str, t.Any]] = []
    real = importlib.metadata.entry_points

    def counting_entry_points(**kwargs: t.Any) -> t.Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", counting_entry_points)
    first = make_app(load=False)
    second = make_app(load=False)
    assert first is not second
    assert package_names(first) == package_names(second) == ["pkg_alpha"]
    # One scan of every group, shared with the declared commands; the scans of
    # one group (by other parts of appfactory, by Flask) do not count here.
    scans = [call for call in calls if "group" not in call]
    assert scans == [{}]
    entry_point_packages.cache_clear()
    make_app(load=False)
    assert len([call for call in calls if "group" not in call]) == 2


# PACKAGES_ENTRY_POINTS_EXTRA: packages advertised for one app, as if installed


def test_extra_entry_points_are_ordered_with_the_installed_ones(make_app, install_distribution):
    install_distribution("pkg-dist-one", {"middle": "pkg_beta"})
    app = make_app(
        PACKAGES=["pkg_plain"],
        PACKAGES_ENTRY_POINTS_EXTRA={"zeta": "pkg_alpha", "alpha": "cfg_beta"},
    )
    registry = get_registry(app)
    assert [(info.name, info.source) for info in registry.packages] == [
        ("pkg_plain", "PACKAGES"),
        ("cfg_beta", "entry point 'alpha' of PACKAGES_ENTRY_POINTS_EXTRA"),
        ("pkg_beta", "entry point 'middle' of pkg-dist-one"),
        ("pkg_alpha", "entry point 'zeta' of PACKAGES_ENTRY_POINTS_EXTRA"),
    ]
    assert app.config["PKG_ALPHA_GREETING"] == "Hello from alpha"


def test_extra_entry_points_reach_one_app_only(make_app):
    with_extra = make_app(PACKAGES_ENTRY_POINTS_EXTRA={"alpha": "pkg_alpha"})
    without = make_app()
    assert package_names(with_extra) == ["pkg_alpha"]
    assert package_names(without) == []
    assert entry_point_packages() == ()


def test_extra_entry_points_follow_exclude_and_the_group(make_app):
    extra = {"alpha": "pkg_alpha", "beta": "pkg_beta"}
    excluded = make_app(PACKAGES_ENTRY_POINTS_EXTRA=extra, PACKAGES_EXCLUDE=["pkg_beta"])
    off = make_app(PACKAGES_ENTRY_POINTS_EXTRA=extra, PACKAGES_ENTRY_POINT_GROUP=None)
    assert package_names(excluded) == ["pkg_alpha"]
    assert package_names(off) == [], "None turns every entry point off, extra ones too"


def test_extra_entry_points_from_the_environment(make_app, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TESTAPP_PACKAGES_ENTRY_POINTS_EXTRA", "{'beta': 'pkg_beta'}")
    assert package_names(make_app(load=False)) == ["pkg_beta"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["pkg_alpha"],
            "PACKAGES_ENTRY_POINTS_EXTRA must map entry-point names to package import names, "
            "not list ['pkg_alpha']; for example PACKAGES_ENTRY_POINTS_EXTRA = "
            "{'greeter': 'greeter'}.",
        ),
        (
            {"alpha": ""},
            "PACKAGES_ENTRY_POINTS_EXTRA maps 'alpha' to ''; both must be non-empty strings, "
            "the entry-point name and the package's import name;",
        ),
        ({"": "pkg_alpha"}, "PACKAGES_ENTRY_POINTS_EXTRA maps '' to 'pkg_alpha'; both must"),
        ({"alpha": 1}, "PACKAGES_ENTRY_POINTS_EXTRA maps 'alpha' to 1; both must"),
    ],
)
def test_bad_extra_entry_points(make_app, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_app(load=False, PACKAGES_ENTRY_POINTS_EXTRA=value)


def test_bad_extra_entry_points_from_the_environment_name_the_variable(
    make_app, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TESTAPP_PACKAGES_ENTRY_POINTS_EXTRA", "['pkg_beta']")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "Environment variable TESTAPP_PACKAGES_ENTRY_POINTS_EXTRA=\"['pkg_beta']\" is not "
            "a valid dict: PACKAGES_ENTRY_POINTS_EXTRA is declared as a dict by appfactory.core."
        ),
    ):
        make_app(load=False)


def test_resolve_packages_without_an_app(install_distribution):
    install_distribution("pkg-dist-one", {"b": "pkg_beta", "a": "pkg_alpha"})
    refs = resolve_packages(["pkg_plain", "pkg_beta"], ["pkg_plain"])
    assert [ref.name for ref in refs] == ["pkg_beta", "pkg_alpha"]
    assert refs[0].source == "PACKAGES"
    assert [ref.name for ref in resolve_packages(["pkg_beta"], None, None)] == ["pkg_beta"]


# Discovering the conventional modules


def test_package_without_conventional_modules_is_fine(make_app):
    app = make_app(PACKAGES=["pkg_plain"])
    info = get_registry(app).package("pkg_plain")
    assert info.modules == {}
    assert info.config_keys == info.blueprints == info.commands == []
    assert get_registry(app).loaded


def test_conventional_modules_are_recorded(make_app):
    app = make_app(PACKAGES=["pkg_alpha"])
    info = get_registry(app).package("pkg_alpha")
    assert sorted(info.modules) == ["cli", "config", "views"]
    assert info.modules["views"].__name__ == "pkg_alpha.views"
    assert info.config_keys == ["PKG_ALPHA_GREETING"]


@pytest.mark.parametrize("module", ["config", "views", "cli"])
def test_module_that_raises_names_package_and_module(make_app, make_package, module):
    make_package("pkg_broken", {f"{module}.py": "raise RuntimeError('boom in the module')\n"})
    with pytest.raises(PackageModuleError) as info:
        make_app(PACKAGES=["pkg_plain", "pkg_broken"])
    message = str(info.value)
    assert message.startswith(
        f"Module 'pkg_broken.{module}' of package 'pkg_broken' failed to import: "
        "RuntimeError: boom in the module."
    )
    assert "remove 'pkg_broken' from PACKAGES" in message
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "boom in the module"
    # The original traceback is kept: its last frame is in the broken module.
    tb = info.value.__cause__.__traceback__
    assert tb is not None
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_frame.f_code.co_filename.endswith(f"pkg_broken/{module}.py")


def test_config_module_error_is_raised_on_the_fast_path(make_app, make_package):
    make_package("pkg_broken", {"config.py": "VALUE = 1 / 0\n"})
    with pytest.raises(PackageModuleError, match=r"'pkg_broken\.config'.*ZeroDivisionError"):
        make_app(load=False, PACKAGES=["pkg_broken"])


@pytest.mark.parametrize(
    ("files", "missing"),
    [
        ({"views.py": "import pkg_no_such_dependency\n"}, "pkg_no_such_dependency"),
        ({"views.py": "from .helpers import thing\n"}, "pkg_broken.helpers"),
        ({"views.py": "from pkg_broken.sub import thing\n"}, "pkg_broken.sub"),
    ],
)
def test_module_with_a_missing_import_is_broken_not_missing(make_app, make_package, files, missing):
    make_package("pkg_broken", files)
    with pytest.raises(PackageModuleError, match=r"^Module 'pkg_broken\.views' of package") as info:
        make_app(PACKAGES=["pkg_broken"])
    assert f"ModuleNotFoundError: No module named '{missing}'" in str(info.value)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    assert info.value.__cause__.name == missing


def test_import_package_module_reports_broken_not_missing(make_package):
    make_package("pkg_broken", {"tasks.py": "import pkg_no_such_dependency\n"})
    with pytest.raises(PackageModuleError, match=r"'pkg_broken\.tasks'"):
        import_package_module("pkg_broken", "tasks")
    assert import_package_module("pkg_broken", "models") is None


def test_package_that_fails_to_import_is_not_reported_missing(make_app, make_package):
    make_package("pkg_broken", {"__init__.py": "import pkg_no_such_dependency\n"})
    with pytest.raises(PackageModuleError) as info:
        make_app(PACKAGES=["pkg_broken"])
    assert not isinstance(info.value, PackageNotFoundError)
    assert str(info.value) == (
        "Package 'pkg_broken' failed to import: ModuleNotFoundError: No module named "
        "'pkg_no_such_dependency'. Fix the import in 'pkg_broken' or install what it needs."
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_package_that_raises_on_import(make_app, make_package):
    make_package("pkg_broken", {"__init__.py": "raise ValueError('bad package')\n"})
    with pytest.raises(
        PackageModuleError, match=r"^Package 'pkg_broken' failed to import: ValueError: bad package"
    ) as info:
        make_app(PACKAGES=["pkg_broken"])
    assert isinstance(info.value.__cause__, ValueError)


def test_package_not_installed_suggests_a_close_name(make_app):
    with pytest.raises(PackageNotFoundError) as info:
        make_app(load=False, PACKAGES=["pkg_alpah"])
    assert str(info.value) == (
        "Package 'pkg_alpah' in PACKAGES is not installed or not importable. "
        "Did you mean 'pkg_alpha'? Install it (pip install ...) or remove it from PACKAGES."
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_package_not_installed_without_a_close_name(make_app):
    with pytest.raises(PackageNotFoundError, match="'qqxxzz_absent' in PACKAGES") as info:
        make_app(load=False, PACKAGES=["qqxxzz_absent"])
    assert "Did you mean" not in str(info.value)


def test_dotted_package_not_installed(make_app, make_package):
    make_package("pkg_parent", {})
    with pytest.raises(PackageNotFoundError, match=r"'pkg_parent\.absent' in PACKAGES"):
        make_app(load=False, PACKAGES=["pkg_parent.absent"])


def test_dotted_package_modules_are_found(make_app, make_package):
    make_package("pkg_parent.child", {"config.py": "PKG_CHILD_VALUE = 'child'\n"})
    app = make_app(PACKAGES=["pkg_parent.child"])
    assert app.config["PKG_CHILD_VALUE"] == "child"


def test_plain_module_as_package_has_no_submodules(make_app, make_package, tmp_path):
    # make_package puts tmp_path / "packages" on sys.path.
    (tmp_path / "packages" / "pkg_single_module.py").write_text("VALUE = 1\n")
    app = make_app(PACKAGES=["pkg_single_module"])
    assert get_registry(app).package("pkg_single_module").modules == {}


# discover_modules: the seam for extensions (models, tasks, ...)


def test_discover_modules_in_package_order(make_app, make_package):
    make_package("pkg_models_one", {"models.py": "NAME = 'one'\n"})
    make_package("pkg_models_two", {"models.py": "NAME = 'two'\n"})
    app = make_app(PACKAGES=["pkg_models_two", "pkg_plain", "pkg_models_one"])
    found = discover_modules(app, "models")
    assert [module.NAME for module in found] == ["two", "one"]
    registry = get_registry(app)
    assert registry.package("pkg_models_two").modules["models"] is found[0]
    assert "models" not in registry.package("pkg_plain").modules


def test_discover_modules_from_an_extension(make_app, make_package):
    make_package("pkg_models_one", {"models.py": "NAME = 'one'\n"})
    make_package(
        "pkg_models_ext",
        {
            "__init__.py": textwrap.dedent(
                """
                from appfactory.core import discover_modules

                def setup_app(app):
                    app.config.setdefault("PKG_MODELS", [])
                    for module in discover_modules(app, "models"):
                        app.config["PKG_MODELS"].append(module.NAME)
                """
            )
        },
    )
    app = make_app(PACKAGES=["pkg_plain", "pkg_models_one"], EXTENSIONS=["pkg_models_ext"])
    assert app.config["PKG_MODELS"] == ["one"]


def test_discover_modules_reports_a_broken_module(make_app, make_package):
    make_package("pkg_models_one", {"models.py": "raise KeyError('table')\n"})
    app = make_app(PACKAGES=["pkg_models_one"])
    with pytest.raises(
        PackageModuleError,
        match=r"^Module 'pkg_models_one\.models' of package 'pkg_models_one' failed to import: "
        r"KeyError: 'table'",
    ):
        discover_modules(app, "models")
