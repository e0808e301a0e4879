"""What a user can get wrong, told plainly: one table, four promises per row.

For every row of ``CASES``:

1. the factory raises exactly the row's error class, whose message names the
   culprit (package, module, setting, file or variable) and the fix, chained
   to the original exception when there is one;
2. the management command exits with status 1 and one ``Error: ...`` line,
   no stack (and ``--traceback`` raises the same error instead);
3. nothing is half-applied: no app finished loading, the instance folder
   holds nothing new, and a second attempt fails the same way (no broken
   module or half-built state was left behind to hide the cause).

The unknown ``<PREFIX>_`` variables that look like typos are warnings, tested
at the end. Errors of Celery are in appfactory-celery's
``test_celery_bad_input.py``; the real ``myapp`` command is run in
``examples/myapp/tests/test_myapp_errors.py``.
"""

from __future__ import annotations

import functools
import os
import sys
import textwrap
import typing as t
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import flask.cli
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from appfactory.core import (
    AppFactoryError,
    AppFactoryWarning,
    ConfigError,
    ConflictError,
    ExtensionError,
    PackageContentError,
    PackageModuleError,
    PackageNotFoundError,
    SecretKeyError,
    app_created,
    app_loaded,
    appfactory,
    clifactory,
    get_registry,
    load_application,
)
from appfactory.core.errors import describe_exception

TRACEBACK_HINT = "  (run with --traceback to see the full stack)"


def commands(*names: str) -> str:
    """Source of a ``cli.py`` with click commands of these names (and a plain ``hello``)."""
    lines = ["import click", "def hello():", "    pass"]
    for index, name in enumerate(names):
        lines += [f"@click.command({name!r})", f"def command_{index}():", "    pass"]
    listed = ", ".join(f"command_{i}" for i in range(len(names)))
    return "\n".join([*lines, f"commands = [{listed}]"]) + "\n"


def blueprint(name: str, rule: str = "/") -> str:
    """Source of a ``views.py`` with one blueprint called ``name``."""
    return textwrap.dedent(
        f"""\
        from flask import Blueprint
        blueprint = Blueprint({name!r}, __name__)
        @blueprint.route({rule!r})
        def index():
            return {name!r}
        """
    )


@dataclass(frozen=True)
class Case:
    """One mistake: how to make it, and what the user must be told."""

    id: str
    error: type[AppFactoryError]
    #: Texts that name the culprit; ``{instance}`` is the instance folder.
    culprit: tuple[str, ...]
    #: Text of the message that says how to fix it.
    fix: str
    packages: dict[str, dict[str, str]] = field(default_factory=dict)
    config: dict[str, t.Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    instance: str | None = None
    module_name: str | None = None
    #: The exception the error is chained to, if any.
    cause: type[BaseException] | None = None
    #: Whether the message itself quotes the cause (``RuntimeError: boom``).
    cause_in_message: bool = False
    #: Texts that must not be in the message.
    absent: tuple[str, ...] = ()
    #: The command that meets the mistake; "check" loads the whole app.
    cli: tuple[str, ...] = ("check",)
    #: ``"factory"``: ``appfactory()`` raises; ``"run"``: only serving refuses.
    raised_by: str = "factory"
    #: Makes the instance file in ``{instance}`` (for files that text cannot make).
    instance_maker: t.Callable[[Path], None] | None = None
    #: The instance folder is one where no file can be written.
    read_only_instance: bool = False
    #: Keyword arguments of ``appfactory()`` itself (not settings).
    kwargs: dict[str, t.Any] = field(default_factory=dict)


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "testapp.cfg")


def dangling_link(folder: Path) -> None:
    (folder / "testapp.cfg").symlink_to(folder / "moved-away.cfg")


def latin1_file(folder: Path) -> None:
    (folder / "testapp.cfg").write_bytes("GREETING = 'Grüß'\n".encode("latin-1"))


def nul_file(folder: Path) -> None:
    (folder / "testapp.cfg").write_bytes(b"DEBUG = False\nGREETING = 'a\x00b'\n")


CASES = [
    # PACKAGES
    Case(
        "package-not-installed-did-you-mean",
        PackageNotFoundError,
        ("Package 'pkg_alpah' in PACKAGES is not installed", "Did you mean 'pkg_alpha'?"),
        "Install it (pip install ...) or remove it from PACKAGES.",
        config={"PACKAGES": ["pkg_alpah"]},
        cause=ModuleNotFoundError,
    ),
    Case(
        "package-not-installed-no-close-name",
        PackageNotFoundError,
        ("Package 'qwxzy_unheard_of' in PACKAGES is not installed",),
        "Install it (pip install ...) or remove it from PACKAGES.",
        config={"PACKAGES": ["pkg_alpha", "qwxzy_unheard_of"]},
        cause=ModuleNotFoundError,
        absent=("Did you mean",),
    ),
    Case(
        "package-raises-on-import",
        PackageModuleError,
        ("Package 'pkg_bad' failed to import", "RuntimeError: init boom"),
        "Fix the error in 'pkg_bad'.",
        packages={"pkg_bad": {"__init__.py": "raise RuntimeError('init boom')\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        cause=RuntimeError,
        cause_in_message=True,
    ),
    Case(
        "package-needs-a-missing-dependency",
        PackageModuleError,
        ("Package 'pkg_bad' failed to import", "No module named 'qwxzy_dependency'"),
        "install what it needs",
        packages={"pkg_bad": {"__init__.py": "import qwxzy_dependency\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        cause=ModuleNotFoundError,
        cause_in_message=True,
    ),
    Case(
        "package-config-module-raises",
        PackageModuleError,
        ("Module 'pkg_bad.config' of package 'pkg_bad'", "RuntimeError: config boom"),
        "Fix the error in pkg_bad.config, or remove 'pkg_bad' from PACKAGES.",
        packages={"pkg_bad": {"config.py": "raise RuntimeError('config boom')\n"}},
        config={"PACKAGES": ["pkg_alpha", "pkg_bad"]},
        cause=RuntimeError,
        cause_in_message=True,
    ),
    Case(
        "views-module-raises",
        PackageModuleError,
        ("Module 'pkg_bad.views' of package 'pkg_bad'", "ZeroDivisionError: division by zero"),
        "Fix the error in pkg_bad.views, or remove 'pkg_bad' from PACKAGES.",
        packages={"pkg_bad": {"views.py": "RATIO = 1 / 0\n"}},
        config={"PACKAGES": ["pkg_alpha", "pkg_bad"]},
        cause=ZeroDivisionError,
        cause_in_message=True,
    ),
    Case(
        "views-module-needs-a-missing-dependency",
        PackageModuleError,
        ("Module 'pkg_bad.views' of package 'pkg_bad'", "No module named 'qwxzy_dependency'"),
        "Fix the error in pkg_bad.views, or remove 'pkg_bad' from PACKAGES.",
        packages={"pkg_bad": {"views.py": "import qwxzy_dependency\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        cause=ModuleNotFoundError,
        cause_in_message=True,
    ),
    Case(
        "cli-module-raises",
        PackageModuleError,
        ("Module 'pkg_bad.cli' of package 'pkg_bad'", "NameError: name 'clik' is not defined"),
        "Fix the error in pkg_bad.cli, or remove 'pkg_bad' from PACKAGES.",
        packages={"pkg_bad": {"cli.py": "import click\n@clik.command()\ndef hello(): pass\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        cause=NameError,
        cause_in_message=True,
    ),
    # What a package's modules hold
    Case(
        "blueprint-not-a-blueprint",
        PackageContentError,
        ("pkg_bad.views.blueprint is str 'pkg_bad', not a flask.Blueprint",),
        "assign a Blueprint instance to it.",
        packages={"pkg_bad": {"views.py": "blueprint = 'pkg_bad'\n"}},
        config={"PACKAGES": ["pkg_alpha", "pkg_bad"]},
    ),
    Case(
        "blueprints-not-a-list",
        PackageContentError,
        ("pkg_bad.views.blueprints must be a list of flask.Blueprint, not Blueprint",),
        "write blueprints = [blueprint_a, blueprint_b].",
        packages={
            "pkg_bad": {
                "views.py": "from flask import Blueprint\nblueprints = Blueprint('b', 'b')\n"
            }
        },
        config={"PACKAGES": ["pkg_bad"]},
    ),
    Case(
        "commands-hold-a-function",
        PackageContentError,
        ("pkg_bad.cli.commands[1] is function <function hello",),
        "decorate the function with @click.command().",
        packages={"pkg_bad": {"cli.py": commands("fine").replace("]", ", hello]")}},
        config={"PACKAGES": ["pkg_bad"]},
    ),
    Case(
        "commands-not-a-list",
        PackageContentError,
        ("pkg_bad.cli must define commands = [...]", "it has Command"),
        "List the commands to register.",
        packages={
            "pkg_bad": {"cli.py": "import click\ncommands = click.command()(lambda: None)\n"}
        },
        config={"PACKAGES": ["pkg_bad"]},
    ),
    # EXTENSIONS
    Case(
        "extension-not-installed",
        ExtensionError,
        ("Extension 'qwxzy_ext' in EXTENSIONS", "module 'qwxzy_ext' is not installed"),
        "Install it or remove it from EXTENSIONS.",
        config={"EXTENSIONS": ["qwxzy_ext"]},
        cause=ModuleNotFoundError,
    ),
    Case(
        "extension-without-setup-app",
        ExtensionError,
        ("Extension 'ext_bad' in EXTENSIONS has no callable ext_bad.setup_app(app)",),
        "define setup_app(app) in 'ext_bad', or name a class as 'module:Class'.",
        packages={"ext_bad": {"__init__.py": "def setup(app):\n    pass\n"}},
        config={"EXTENSIONS": ["ext_bad"]},
    ),
    Case(
        "extension-class-missing",
        ExtensionError,
        ("Extension 'ext_bad:Missing' in EXTENSIONS has no callable ext_bad:Missing",),
        "name a class as 'module:Class'.",
        packages={"ext_bad": {"__init__.py": "class Present:\n    pass\n"}},
        config={"EXTENSIONS": ["ext_bad:Missing"]},
    ),
    Case(
        "extension-raises-on-import",
        ExtensionError,
        ("Extension 'ext_bad' in EXTENSIONS failed to import", "RuntimeError: ext boom"),
        "Fix the error in the extension's module.",
        packages={"ext_bad": {"__init__.py": "raise RuntimeError('ext boom')\n"}},
        config={"EXTENSIONS": ["ext_bad"]},
        cause=RuntimeError,
        cause_in_message=True,
    ),
    Case(
        "extension-setup-raises",
        ExtensionError,
        ("Extension 'ext_bad' in EXTENSIONS failed while setting up", "KeyError: 'DATABASE_URL'"),
        "Fix the extension or its settings.",
        packages={
            "ext_bad": {"__init__.py": "def setup_app(app):\n    app.config['DATABASE_URL']\n"}
        },
        config={"EXTENSIONS": ["ext_bad"]},
        cause=KeyError,
        cause_in_message=True,
    ),
    # The layers of the configuration
    Case(
        "app-config-module-not-found",
        ConfigError,
        ("Configuration module 'qwxzy_config' cannot be found",),
        "check the import path passed to appfactory()",
        module_name="qwxzy_config",
    ),
    Case(
        "app-config-module-raises",
        ConfigError,
        ("Configuration module 'cfg_bad.settings' failed to import", "TypeError: boom"),
        "Fix the error in that module.",
        packages={"cfg_bad": {"settings.py": "raise TypeError('boom')\n"}},
        module_name="cfg_bad.settings",
        cause=TypeError,
        cause_in_message=True,
    ),
    Case(
        "instance-file-syntax-error",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 2: syntax error",),
        "Fix that line; the file holds Python assignments such as SECRET_KEY = '...'.",
        instance="SECRET_KEY = 'x'\nDEBUG = Tru e\n",
        cause=SyntaxError,
    ),
    Case(
        "instance-file-missing-import",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 1", "NameError: name 'os' is not defined"),
        "Fix that line.",
        instance="SECRET_KEY = os.environ['KEY']\n",
        cause=NameError,
        cause_in_message=True,
    ),
    Case(
        "env-bool-malformed",
        ConfigError,
        ("Environment variable TESTAPP_DEBUG='maybe' is not a valid bool",),
        "Set it to true/false, yes/no, on/off or 1/0, or unset TESTAPP_DEBUG.",
        env={"TESTAPP_DEBUG": "maybe"},
    ),
    Case(
        "env-int-malformed",
        ConfigError,
        ("Environment variable TESTAPP_MAX_COOKIE_SIZE='big' is not a valid int",),
        "Set it to a number such as 42 or 0.5, or unset TESTAPP_MAX_COOKIE_SIZE.",
        env={"TESTAPP_MAX_COOKIE_SIZE": "big"},
    ),
    Case(
        "env-list-given-as-a-bare-word",
        ConfigError,
        ("Environment variable TESTAPP_PACKAGES='pkg_beta' is not a valid list",),
        "Set it to a Python literal such as ['a', 'b'], or unset TESTAPP_PACKAGES.",
        config={"PACKAGES": ["pkg_alpha"]},
        env={"TESTAPP_PACKAGES": "pkg_beta"},
    ),
    Case(
        "env-secret-of-the-wrong-kind-is-masked",
        ConfigError,
        ("Environment variable TESTAPP_API_TOKENS=********", "is not a valid list"),
        "or unset TESTAPP_API_TOKENS.",
        config={"API_TOKENS": ["old-token"]},
        env={"TESTAPP_API_TOKENS": "planted-token"},
        absent=("planted-token", "old-token"),
    ),
    Case(
        "packages-not-a-list",
        ConfigError,
        ("PACKAGES must be a list of strings, not str 'pkg_alpha'",),
        "for example PACKAGES = ['mymodule'].",
        config={"PACKAGES": "pkg_alpha"},
    ),
    Case(
        "extensions-not-a-list",
        ConfigError,
        ("EXTENSIONS must be a list of strings, not str 'ext_bad'",),
        "for example EXTENSIONS = ['mymodule'].",
        config={"EXTENSIONS": "ext_bad"},
    ),
    Case(
        "url-prefix-for-no-blueprint",
        ConfigError,
        ("BLUEPRINTS_URL_PREFIXES names ['pkg_alpah'], which no package registers",),
        "known blueprints: ['pkg_alpha', 'pkg_beta'].",
        config={
            "PACKAGES": ["pkg_alpha", "pkg_beta"],
            "BLUEPRINTS_URL_PREFIXES": {"pkg_alpah": "/a"},
        },
    ),
    Case(
        "jinja2-extension-not-importable",
        ConfigError,
        ("JINJA2_EXTENSIONS entry 'jinja2.ext.qwxzy' cannot be imported",),
        "Give an import path such as 'jinja2.ext.do', or remove the entry.",
        config={"JINJA2_EXTENSIONS": ["jinja2.ext.qwxzy"]},
        cause=ImportError,
        cause_in_message=True,
    ),
    # Two packages claiming one name
    Case(
        "blueprint-name-in-two-packages",
        ConflictError,
        ("Blueprint name 'shared' is registered by packages 'pkg_one' and 'pkg_two'",),
        "rename one of the blueprints or remove one package from PACKAGES.",
        packages={
            "pkg_one": {"views.py": blueprint("shared", "/one")},
            "pkg_two": {"views.py": blueprint("shared", "/two")},
        },
        config={"PACKAGES": ["pkg_one", "pkg_two"]},
    ),
    Case(
        "command-in-two-packages",
        ConflictError,
        ("Command 'sync' is defined by packages 'pkg_one' and 'pkg_two'",),
        "rename one of them or remove one package from PACKAGES.",
        packages={"pkg_one": {"cli.py": commands("sync")}, "pkg_two": {"cli.py": commands("sync")}},
        config={"PACKAGES": ["pkg_one", "pkg_two"]},
    ),
    Case(
        "command-named-like-a-built-in",
        ConflictError,
        ("Command 'routes' of package 'pkg_bad' has the name of a built-in command",),
        "rename it in pkg_bad.cli.",
        packages={"pkg_bad": {"cli.py": commands("routes")}},
        config={"PACKAGES": ["pkg_bad"]},
        cli=("config", "show"),
    ),
    # Serving without a secret key
    Case(
        "secret-key-missing-and-no-key-file",
        SecretKeyError,
        (
            "SECRET_KEY is not set for 'testapp'",
            "No key could be kept in {instance}/secret-key",
            "instance file {instance}/testapp.cfg",
        ),
        "environment variable TESTAPP_SECRET_KEY",
        config={"PACKAGES": ["pkg_alpha"]},
        cli=("run",),
        raised_by="run",
        read_only_instance=True,
    ),
    # Round 2: secrets in errors, files that are not text, names that are not settings
    Case(
        "instance-file-unquoted-secret",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 2", "NameError: name '********'"),
        "A text needs quotes: NAME = '...'.",
        instance="DEBUG = False\nSECRET_KEY = s3cr3t\n",
        cause=NameError,
        cause_in_message=True,
        absent=("s3cr3t",),
    ),
    Case(
        "instance-file-secret-in-a-failing-call",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 1", "ValueError: invalid literal"),
        "Fix that line.",
        instance="MAIL_PASSWORD = int('hunter2hunter2')\n",
        cause=ValueError,
        cause_in_message=True,
        absent=("hunter2",),
    ),
    Case(
        "instance-file-is-a-fifo",
        ConfigError,
        ("Instance file {instance}/testapp.cfg is a FIFO (named pipe), not a file",),
        "Replace it by a file of Python assignments such as SECRET_KEY = '...', or remove it.",
        instance_maker=fifo,
    ),
    Case(
        "instance-file-is-a-dangling-link",
        ConfigError,
        (
            "Instance file {instance}/testapp.cfg is a symbolic link to "
            "{instance}/moved-away.cfg, which does not exist",
        ),
        "Point the link at the instance file, or remove the link.",
        instance_maker=dangling_link,
    ),
    Case(
        "instance-file-in-latin-1",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 1: the byte 0xfc is not UTF-8 text",),
        "Save the file as UTF-8.",
        instance_maker=latin1_file,
    ),
    Case(
        "instance-file-with-a-nul-byte",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 2: a NUL byte",),
        "save it as UTF-8",
        instance_maker=nul_file,
    ),
    Case(
        "instance-file-lower-case-setting",
        ConfigError,
        ("Instance file {instance}/testapp.cfg, line 1: secret_key is not upper-case",),
        "Rename it to SECRET_KEY.",
        instance="secret_key = 'k'\nhelper = 1\n",
    ),
    Case(
        "instance-path-relative",
        ConfigError,
        (
            "The environment variable TESTAPP_INSTANCE_PATH is the relative path "
            "'relative-instance'",
        ),
        "Give an absolute path, such as",
        env={"TESTAPP_INSTANCE_PATH": "relative-instance"},
    ),
    Case(
        "env-lower-case-setting",
        ConfigError,
        ("Environment variable TESTAPP_pkg_alpha_greeting names the setting pkg_alpha_greeting",),
        "Rename it to TESTAPP_PKG_ALPHA_GREETING.",
        env={"TESTAPP_pkg_alpha_greeting": "Hi"},
    ),
    Case(
        "env-bytes-not-utf-8",
        ConfigError,
        ("Environment variable TESTAPP_GREETING holds bytes that are not UTF-8 text",),
        "Set it again as UTF-8 text",
        env={"TESTAPP_GREETING": "Gr\udcfc\udcdf"},
    ),
    Case(
        "kwarg-lower-case-setting",
        ConfigError,
        ("appfactory() got the keyword argument secret_key=********",),
        "Settings are UPPERCASE: write SECRET_KEY=...",
        kwargs={"secret_key": "planted-kwarg-secret"},
        absent=("planted-kwarg-secret",),
    ),
    Case(
        "packages-relative-name",
        ConfigError,
        ("PACKAGES holds '.pkg_alpha', which is not an import name",),
        "for example PACKAGES = ['mymodule'].",
        env={"TESTAPP_PACKAGES": "['.pkg_alpha']"},
    ),
    Case(
        "package-module-calls-sys-exit",
        PackageModuleError,
        ("Module 'pkg_bad.views' of package 'pkg_bad'", "it called sys.exit(3)"),
        "Fix the error in pkg_bad.views, or remove 'pkg_bad' from PACKAGES.",
        packages={"pkg_bad": {"views.py": "import sys\nsys.exit(3)\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        cause=SystemExit,
    ),
    Case(
        "two-blueprints-of-one-name-in-a-package",
        ConflictError,
        ("pkg_bad.views has two blueprints named 'twin'",),
        "Give each its own name",
        packages={
            "pkg_bad": {
                "views.py": "from flask import Blueprint\n"
                "blueprints = [Blueprint('twin', __name__), Blueprint('twin', __name__)]\n"
            }
        },
        config={"PACKAGES": ["pkg_bad"]},
    ),
    Case(
        "url-prefix-without-a-slash",
        ConfigError,
        ("BLUEPRINTS_URL_PREFIXES gives the blueprint 'pkg_alpha' the prefix 'alpha'",),
        "a URL prefix is a string that starts with '/'",
        config={"PACKAGES": ["pkg_alpha"], "BLUEPRINTS_URL_PREFIXES": {"pkg_alpha": "alpha"}},
    ),
    Case(
        "url-prefix-not-a-string",
        ConfigError,
        ("BLUEPRINTS_URL_PREFIXES gives the blueprint 'pkg_alpha' the prefix 3",),
        "a URL prefix is a string that starts with '/'",
        config={"PACKAGES": ["pkg_alpha"], "BLUEPRINTS_URL_PREFIXES": {"pkg_alpha": 3}},
    ),
    Case(
        "package-ships-a-secret-key",
        PackageContentError,
        ("pkg_bad.config sets SECRET_KEY, a secret that every install of 'pkg_bad'",),
        "Remove it from pkg_bad.config",
        packages={"pkg_bad": {"config.py": "SECRET_KEY = 'shipped-to-all'\n"}},
        config={"PACKAGES": ["pkg_bad"]},
        absent=("shipped-to-all",),
    ),
    Case(
        "secret-key-not-text",
        ConfigError,
        ("SECRET_KEY (set by instance file ({instance}/testapp.cfg)) is a int, not a text",),
        "Set it to a string",
        instance="SECRET_KEY = 1234567890\n",
        absent=("1234567890",),
    ),
]


def listing(folder: Path) -> set[str]:
    """Every path under ``folder``, relative to it (empty when it does not exist)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


class Attempt:
    """The setting of one case: its packages, variables and instance file, and the apps made."""

    def __init__(self, case: Case, instance: Path, make_package: t.Any, monkeypatch: t.Any):
        self.case = case
        self.instance = instance
        for name, files in case.packages.items():
            make_package(name, files)
        for variable, value in case.env.items():
            monkeypatch.setenv(variable, value)
        if case.instance is not None:
            instance.mkdir(parents=True, exist_ok=True)
            (instance / "testapp.cfg").write_text(case.instance)
        if case.instance_maker is not None:
            instance.mkdir(parents=True, exist_ok=True)
            case.instance_maker(instance)
        self.before = listing(instance)
        self.created: list[Flask] = []
        self.loaded: list[Flask] = []
        app_created.connect(self._created)
        app_loaded.connect(self._loaded)

    def _created(self, sender: Flask, **_: t.Any) -> None:
        self.created.append(sender)

    def _loaded(self, sender: Flask, **_: t.Any) -> None:
        self.loaded.append(sender)

    def close(self) -> None:
        app_created.disconnect(self._created)
        app_loaded.disconnect(self._loaded)

    def create_app(self, load: bool = True, **config: t.Any) -> Flask:
        return appfactory("testapp", self.case.module_name, load=load, **self.case.kwargs, **config)

    def make(self) -> Flask:
        return self.create_app(**self.case.config)

    def cli(self, *args: str, **kwargs: t.Any) -> Result:
        group = clifactory(self.create_app, **self.case.config)
        return CliRunner().invoke(group, list(args), **kwargs)

    def expect(self, text: str) -> str:
        return text.format(instance=self.instance)


@pytest.fixture
def attempt(
    request: pytest.FixtureRequest,
    instance_path: Path,
    make_package: t.Any,
    monkeypatch: pytest.MonkeyPatch,
) -> t.Iterator[Attempt]:
    """The case of this test, set up (its packages written, its variables set)."""
    case: Case = request.param
    if case.read_only_instance:
        instance_path = request.getfixturevalue("read_only_folder")
        monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(instance_path))
    made = Attempt(case, instance_path, make_package, monkeypatch)
    yield made
    made.close()


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, t.Any]]:
    """Flask's server start replaced: records its options instead of binding a port."""
    calls: list[dict[str, t.Any]] = []
    monkeypatch.setattr(flask.cli.run_command, "callback", lambda **kw: calls.append(kw))
    return calls


def raise_it(attempt: Attempt) -> AppFactoryError:
    """The error of the case, as the factory (or serving) raises it."""
    case = attempt.case
    if case.raised_by == "run":
        act = functools.partial(attempt.cli, "--traceback", *case.cli, catch_exceptions=False)
    else:
        act = attempt.make
    with pytest.raises(AppFactoryError) as info:
        act()
    return info.value


by_case = pytest.mark.parametrize("attempt", CASES, ids=[c.id for c in CASES], indirect=True)


def test_the_table_covers_every_kind_of_error() -> None:
    kinds = {case.error for case in CASES}
    assert kinds == {
        PackageNotFoundError,
        PackageModuleError,
        PackageContentError,
        ExtensionError,
        ConfigError,
        ConflictError,
        SecretKeyError,
    }
    assert len({case.id for case in CASES}) == len(CASES) >= 30


@by_case
def test_error_names_the_culprit_and_the_fix(attempt: Attempt, no_server: list[t.Any]) -> None:
    case = attempt.case
    error = raise_it(attempt)

    assert type(error) is case.error
    message = str(error)
    for text in case.culprit:
        assert attempt.expect(text) in message
    assert attempt.expect(case.fix) in message
    for text in case.absent:
        assert text not in message
    assert "\n" not in message
    if case.cause is None:
        assert error.__cause__ is None
    else:
        assert isinstance(error.__cause__, case.cause)
        assert (describe_exception(error.__cause__) in message) is case.cause_in_message


@by_case
def test_command_line_says_it_in_one_line(attempt: Attempt, no_server: list[t.Any]) -> None:
    case = attempt.case
    expected = str(raise_it(attempt))

    result = attempt.cli(*case.cli)

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if not line.startswith("Warning:")]
    assert lines[0] == f"Error: {expected}"
    assert [line for line in lines if line.startswith("Error")] == [lines[0]]
    assert lines[-1] == TRACEBACK_HINT
    # At most one more line: the cause, when the message does not already quote it.
    if case.cause is not None and not case.cause_in_message:
        assert len(lines) == 3
        assert lines[1].startswith(f"  caused by {case.cause.__name__}: ")
    else:
        assert len(lines) == 2
    assert "Traceback" not in result.output
    assert no_server == []

    with pytest.raises(case.error) as info:
        attempt.cli("--traceback", *case.cli, catch_exceptions=False)
    assert str(info.value) == expected


@by_case
def test_nothing_is_half_applied(attempt: Attempt, no_server: list[t.Any]) -> None:
    first = raise_it(attempt)

    if attempt.case.raised_by == "factory":
        assert attempt.loaded == []
        assert not any(get_registry(app).loaded for app in attempt.created)
    for app in attempt.created:
        if attempt.case.error is ConflictError and "Blueprint" in str(first):
            assert app.blueprints == {}, "a blueprint was registered before the conflict"
    assert listing(attempt.instance) == attempt.before, "the instance folder has new files"
    assert no_server == []

    # No broken module or half-built state is left to hide the cause next time.
    second = raise_it(attempt)
    assert type(second) is type(first)
    assert str(second) == str(first)


# Unknown <PREFIX>_ variables that look like typos: a warning at load time


def typo_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in record
        if issubclass(w.category, AppFactoryWarning) and "Environment variable" in str(w.message)
    ]


@pytest.mark.parametrize(
    ("variable", "config", "meant"),
    [
        # A setting of Flask, of a package, of the app and a reserved name.
        ("TESTAPP_SECRT_KEY", {}, "TESTAPP_SECRET_KEY"),
        ("TESTAPP_PKG_ALPHA_GREETNG", {"PACKAGES": ["pkg_alpha"]}, "TESTAPP_PKG_ALPHA_GREETING"),
        ("TESTAPP_MAIL_SERVR", {"MAIL_SERVER": "127.0.0.1"}, "TESTAPP_MAIL_SERVER"),
        ("TESTAPP_INSTANCE_PATHS", {}, "TESTAPP_INSTANCE_PATH"),
    ],
)
def test_variable_that_looks_like_a_typo_warns_at_load(
    monkeypatch: pytest.MonkeyPatch, variable: str, config: dict[str, t.Any], meant: str
) -> None:
    monkeypatch.setenv(variable, "x")
    key = variable.removeprefix("TESTAPP_")

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        app = appfactory("testapp", None, load=False, **config)
        assert typo_warnings(record) == []  # the extensions have not declared theirs yet
        load_application(app)
        load_application(app)

    assert typo_warnings(record) == [
        f"Environment variable {variable} sets {key}, which no package, extension, Flask or "
        f"the app's configuration defines; did you mean {meant}? Rename the variable, or "
        f"give {key} a default in the app's configuration if it is a setting of the app's own."
    ]
    # A warning, not an error: the value is set as given.
    assert app.config[key] == "x"


@pytest.mark.parametrize(
    ("env", "config"),
    [
        ({"TESTAPP_SECRET_KEY": "x"}, {}),  # exact
        ({"TESTAPP_GREETING_STYLE": "x"}, {}),  # the app's own, close to nothing
        ({"TESTAPP_MAIL_SERVR": "x"}, {"MAIL_SERVR": "y"}),  # known from the app's config
        ({"SECRT_KEY": "x", "TESTAPP_APP_CONFIG_ENVS": "SECRT_KEY"}, {}),  # listed bare name
    ],
)
def test_no_typo_warning_for_known_or_unrelated_names(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], config: dict[str, t.Any]
) -> None:
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        appfactory("testapp", None, **config)
    assert typo_warnings(record) == []


def test_typo_of_a_setting_an_extension_declares(
    monkeypatch: pytest.MonkeyPatch, make_package: t.Any
) -> None:
    make_package(
        "ext_db",
        {"__init__.py": "def setup_app(app):\n    app.config.setdefault('DATABASE_PATH', 'x')\n"},
    )
    monkeypatch.setenv("TESTAPP_DATABASE_PTH", "/tmp/db")

    with pytest.warns(AppFactoryWarning, match="did you mean TESTAPP_DATABASE_PATH?"):
        appfactory("testapp", None, EXTENSIONS=["ext_db"])


def test_typo_warning_is_one_line_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTAPP_SECRT_KEY", "x")
    cli = clifactory(lambda load=True, **kw: appfactory("testapp", None, load=load, **kw))

    def show(message: t.Any, category: t.Any, filename: str, lineno: int, *_: t.Any) -> None:
        # What Python does outside pytest, which records warnings instead.
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", show)
        result = CliRunner().invoke(cli, ["config", "show", "SECRT_KEY"])

    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert warned == [
        "Warning: Environment variable TESTAPP_SECRT_KEY sets SECRT_KEY, which no package, "
        "extension, Flask or the app's configuration defines; did you mean TESTAPP_SECRET_KEY? "
        "Rename the variable, or give SECRT_KEY a default in the app's configuration if it is "
        "a setting of the app's own."
    ]
