"""The management command: ``clifactory``, its built-in commands and ``load_cli``."""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t

import click
import flask.cli
import pytest
from click.testing import CliRunner, Result
from flask import Flask

from appfactory.core import (
    ConflictError,
    PackageContentError,
    PackageModuleError,
    SecretKeyError,
    app_loaded,
    appfactory,
    clifactory,
    get_registry,
    load_cli,
)

BUILTIN = ["check", "config", "packages", "routes", "run", "shell"]
STRONG_KEY = "0123456789abcdef" * 4
PACKAGE_COMMANDS = ["alpha-app", "alpha-hello", "beta-hello"]


class Harness:
    """A management command for ``testapp`` that remembers the apps it made."""

    def __init__(self, module_name: t.Any, config: dict[str, t.Any]) -> None:
        self.module_name = module_name
        self.apps: list[Flask] = []
        self.loaded_signals: list[Flask] = []
        self.cli = clifactory(self.create_app, **config)

    def create_app(self, load: bool = True, **config: t.Any) -> Flask:
        app = appfactory("testapp", self.module_name, load=load, **config)
        self.apps.append(app)
        return app

    def invoke(self, *args: str, **kwargs: t.Any) -> Result:
        def on_loaded(sender: Flask, **extra: t.Any) -> None:
            self.loaded_signals.append(sender)

        with app_loaded.connected_to(on_loaded):
            return CliRunner().invoke(self.cli, list(args), **kwargs)

    @property
    def app(self) -> Flask:
        assert len(self.apps) == 1, "one app per invocation"
        return self.apps[0]

    @property
    def loaded(self) -> bool:
        """Whether the full app was built (and views imported)."""
        loaded = get_registry(self.app).loaded
        assert loaded == bool(self.loaded_signals)
        assert loaded == ("pkg_alpha.views" in sys.modules)
        return loaded


@pytest.fixture
def make_cli() -> t.Callable[..., Harness]:
    """``make_cli(module_name=None, **config)``: PACKAGES default to pkg_alpha, pkg_beta."""

    def make(module_name: t.Any = None, **config: t.Any) -> Harness:
        config.setdefault("PACKAGES", ["pkg_alpha", "pkg_beta"])
        return Harness(module_name, config)

    return make


def listed_commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:\n", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def error_lines(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


# Listing and help do not build the full app


def test_help_lists_commands_without_loading(make_cli):
    harness = make_cli()
    result = harness.invoke("--help")
    assert result.exit_code == 0, result.output
    assert listed_commands(result.output) == sorted(BUILTIN + PACKAGE_COMMANDS)
    assert "Say hello without the app." in result.output
    assert "--traceback" in result.output
    # Configured without the package defaults (listing needs only PACKAGES), not
    # loaded: no views, no app_loaded. These packages declare no commands, so
    # their cli modules were imported to list them.
    assert "pkg_alpha.cli" in sys.modules
    assert "pkg_alpha.views" not in sys.modules
    assert harness.loaded_signals == []
    assert "PKG_ALPHA_GREETING" not in harness.app.config
    assert harness.app.blueprints == {}
    assert not harness.loaded


def test_no_arguments_shows_help_without_loading(make_cli):
    harness = make_cli()
    result = harness.invoke()
    assert "Usage:" in result.output
    assert "alpha-hello" in result.output
    assert not harness.loaded


@pytest.mark.parametrize(
    "command",
    [
        ["alpha-hello"],
        ["alpha-app"],
        ["beta-hello"],
        ["run"],
        ["shell"],
        ["routes"],
        ["config"],
        ["config", "show"],
        ["packages"],
        ["check"],
    ],
)
def test_command_help_does_not_load(make_cli, command):
    harness = make_cli()
    result = harness.invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: root {' '.join(command)}")
    assert "pkg_alpha.views" not in sys.modules
    assert harness.loaded_signals == []
    assert all(not get_registry(app).loaded for app in harness.apps)


def test_command_without_app_context_runs_without_loading(make_cli):
    harness = make_cli()
    result = harness.invoke("alpha-hello")
    assert result.exit_code == 0, result.output
    assert result.output == "hello from alpha\n"
    assert not harness.loaded


def test_command_with_app_context_gets_the_loaded_app(make_cli):
    harness = make_cli()
    result = harness.invoke("alpha-app")
    assert result.exit_code == 0, result.output
    assert result.output == "app=testapp loaded=True\n"
    assert harness.loaded
    assert harness.loaded_signals == [harness.app]
    assert "pkg_alpha" in harness.app.blueprints


def test_package_command_receives_the_config(make_cli, monkeypatch):
    monkeypatch.setenv("TESTAPP_PKG_ALPHA_GREETING", "from the environment")
    harness = make_cli(PACKAGES=["pkg_alpha"])
    result = harness.invoke("config", "show", "PKG_ALPHA_GREETING")
    assert result.output.splitlines()[0] == "PKG_ALPHA_GREETING = 'from the environment'"


EXTENSION = """
import click
from flask import current_app

@click.command("ext-hello")
def ext_hello():
    click.echo(f"extension command in {current_app.name}")

def setup_app(app):
    app.cli.add_command(ext_hello)
"""


def test_command_added_by_an_extension_is_found_by_name(make_cli, make_package):
    make_package("pkg_ext", {"__init__.py": EXTENSION})
    harness = make_cli(EXTENSIONS=["pkg_ext"])
    result = harness.invoke("ext-hello")
    assert result.exit_code == 0, result.output
    assert result.output == "extension command in testapp\n"
    assert harness.loaded


def test_unknown_command(make_cli):
    harness = make_cli()
    result = harness.invoke("no-such-command")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


# The built-in commands


def test_routes(make_cli):
    harness = make_cli(BLUEPRINTS_URL_PREFIXES={"pkg_beta": "/b"})
    result = harness.invoke("routes")
    assert result.exit_code == 0, result.output
    rules = {line.split()[0]: line.split()[-1] for line in result.output.splitlines()[2:]}
    assert rules["pkg_alpha.index"] == "/alpha"
    assert rules["pkg_beta.index"] == "/b/beta"
    assert rules["pkg_alpha.static"] == "/pkg_alpha/static/<path:filename>"


def test_shell_runs_in_the_loaded_app(make_cli, monkeypatch):
    # The default hook sets up readline history, which is written at exit.
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)
    monkeypatch.delenv("PYTHONSTARTUP", raising=False)
    harness = make_cli()
    code = (
        "from flask import current_app\nprint('shell', current_app.name, sorted(app.blueprints))\n"
    )
    result = harness.invoke("shell", input=code)
    assert result.exit_code == 0, result.output
    assert "shell testapp ['pkg_alpha', 'pkg_beta']" in result.output
    assert harness.loaded


def test_config_show_key(make_cli):
    harness = make_cli()
    result = harness.invoke("config", "show", "PKG_ALPHA_GREETING")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "PKG_ALPHA_GREETING = 'Hello from alpha'\n  set by: package default (pkg_alpha.config)\n"
    )


@pytest.fixture
def every_layer(make_package, write_instance_file, monkeypatch) -> str:
    """PKG_ALPHA_GREETING set by each layer; returns the instance file's path."""
    make_package("pkg_appconfig", {"__init__.py": "PKG_ALPHA_GREETING = 'from the app'\n"})
    path = write_instance_file("testapp", "PKG_ALPHA_GREETING = 'from the instance'\n")
    monkeypatch.setenv("TESTAPP_PKG_ALPHA_GREETING", "from the environment")
    return str(path)


def test_config_show_names_the_shadowed_layers(make_cli, every_layer):
    harness = make_cli("pkg_appconfig", PKG_ALPHA_GREETING="from kwargs")
    result = harness.invoke("config", "show", "PKG_ALPHA_GREETING")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "PKG_ALPHA_GREETING = 'from the environment'",
        "  set by: environment variable (TESTAPP_PKG_ALPHA_GREETING)",
        "  shadows: package default (pkg_alpha.config), app config (pkg_appconfig), "
        f"instance file ({every_layer}), keyword argument (PKG_ALPHA_GREETING)",
    ]


def test_config_show_history_lowest_first(make_cli, every_layer):
    harness = make_cli("pkg_appconfig", PKG_ALPHA_GREETING="from kwargs")
    result = harness.invoke("config", "show", "PKG_ALPHA_GREETING", "--history")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "PKG_ALPHA_GREETING = 'from the environment'",
        "  set by: environment variable (TESTAPP_PKG_ALPHA_GREETING)",
        "  history (lowest first):",
        "    1. package default (pkg_alpha.config): 'Hello from alpha'",
        "    2. app config (pkg_appconfig): 'from the app'",
        f"    3. instance file ({every_layer}): 'from the instance'",
        "    4. keyword argument (PKG_ALPHA_GREETING): 'from kwargs'",
        "    5. environment variable (TESTAPP_PKG_ALPHA_GREETING): 'from the environment'"
        "  <- effective",
    ]


def test_config_show_all(make_cli):
    harness = make_cli(SECRET_KEY="planted-secret-value")
    result = harness.invoke("config", "show")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "PKG_ALPHA_GREETING = 'Hello from alpha'  [package default (pkg_alpha.config)]" in lines
    assert "PKG_BETA_LIMIT = 10  [package default (pkg_beta.config)]" in lines
    assert "SECRET_KEY = ********  [keyword argument (SECRET_KEY)]" in lines
    names = [line.split(" = ")[0] for line in lines]
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("PKG_ALPHA_GRETING", " Did you mean PKG_ALPHA_GREETING?"),
        ("QQQ_NOTHING_LIKE_IT", ""),
    ],
)
def test_config_show_unknown_key(make_cli, key, hint):
    harness = make_cli()
    result = harness.invoke("config", "show", key)
    assert result.exit_code == 1
    assert error_lines(result) == [f"Error: No setting {key!r} in app 'testapp'.{hint}"]
    assert "Traceback" not in result.output


# Secrets are masked wherever they are shown

PLANTED = {
    "SECRET_KEY": "planted-secret-key",
    "DB_PASSWORD": "planted-db-password",
    "API_TOKEN": "planted-api-token",
    "REDIS_URL": "redis://worker:planted-redis-password@127.0.0.1:6379/0",
    "CACHE_URLS": ["redis://:planted-cache-password@127.0.0.1:6379/1"],
    "BROKER_OPTIONS": {"password": "planted-broker-password", "host": "127.0.0.1"},
    # Passwords that a URL parser does not find: raw characters, the query string.
    "RAW_BROKER_URL": "redis://:planted/raw#pass?word+x@127.0.0.1:6379/0",
    "QUERY_URL": "redis://127.0.0.1/0?password=planted-query-password",
    "SSL_DATABASE_URL": "postgresql://db/app?sslmode=require&sslkey=planted-ssl-key",
    "DB_PASS": "planted-db-pass",
    "SMTP_PASSPHRASE": "planted-passphrase",
    "GCP_CREDENTIALS": {"type": "service", "key": "planted-gcp"},
    "SSH_PRIVATE_KEY": "planted-private-key",
}


@pytest.fixture
def secrets_everywhere(write_instance_file, monkeypatch) -> None:
    lines = [f"{k} = {v!r}" for k, v in PLANTED.items()]
    # A setting that holds itself, next to a secret.
    lines += ["LOOP = {'password': 'planted-loop-password'}", "LOOP['self'] = LOOP"]
    write_instance_file("testapp", "\n".join(lines))
    monkeypatch.setenv("TESTAPP_SECRET_KEY", "planted-env-secret-key")
    monkeypatch.setenv("TESTAPP_MAIL_PASSWORD", "planted-mail-password")


@pytest.mark.parametrize(
    "command",
    [
        ["config", "show"],
        ["config", "show", "SECRET_KEY", "--history"],
        ["config", "show", "DB_PASSWORD", "--history"],
        ["config", "show", "MAIL_PASSWORD"],
        ["config", "show", "REDIS_URL", "--history"],
        ["config", "show", "CACHE_URLS"],
        ["config", "show", "BROKER_OPTIONS"],
        *(["config", "show", key, "--history"] for key in list(PLANTED)[7:]),
        ["config", "show", "LOOP", "--history"],
        ["check", "--fail-level", "info"],
        ["packages"],
    ],
)
def test_secrets_are_masked(make_cli, secrets_everywhere, command):
    harness = make_cli()
    result = harness.invoke(*command)
    assert "planted" not in result.output
    assert harness.app.config["SECRET_KEY"] == "planted-env-secret-key"
    if command[0] == "config":
        assert "********" in result.output


@pytest.mark.parametrize("traceback", [False, True])
def test_error_about_a_secret_line_shows_no_secret(make_cli, write_instance_file, traceback):
    write_instance_file("testapp", "DEBUG = False\nSECRET_KEY = planted_unquoted_key\n")
    args = ["--traceback", "config", "show"] if traceback else ["config", "show"]

    result = make_cli().invoke(*args)

    assert result.exit_code == 1
    text = result.output
    if traceback:
        import traceback as tb

        assert result.exception is not None
        text += "".join(tb.format_exception(result.exception))
    assert "Instance file" in text
    assert "planted" not in text


def test_config_show_history_needs_a_key(make_cli):
    result = make_cli().invoke("config", "show", "--history")
    assert result.exit_code == 2
    assert "Error: --history needs a KEY: the history of one setting" in result.output


def test_config_show_lower_case_key_suggests_the_setting(make_cli):
    result = make_cli().invoke("config", "show", "secret_key")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: No setting 'secret_key' in app 'testapp'. Did you mean SECRET_KEY?"
    ]


def test_shell_banner_lines_of_extensions(make_cli, make_package, monkeypatch):
    make_package(
        "pkg_ext_banner",
        {
            "__init__.py": """
                from appfactory.core import add_shell_banner

                def setup_app(app):
                    add_shell_banner(app, lambda app: f"Widgets of {app.name}: 3")
            """
        },
    )
    monkeypatch.setattr(flask.cli.shell_command, "callback", lambda **kw: None)
    result = make_cli(EXTENSIONS=["pkg_ext_banner"]).invoke("shell")
    assert result.exit_code == 0, result.output
    assert "Widgets of testapp: 3" in result.output


def test_shell_with_its_input_closed_is_one_line(tmp_path):
    script = (
        "from appfactory.core import appfactory, clifactory\n"
        "cli = clifactory(lambda load=True, **kw: appfactory('testapp', None, load=load, **kw))\n"
        "cli(['shell'], prog_name='testapp')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TESTAPP_INSTANCE_PATH": str(tmp_path / "instance")},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.close(0),
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: 'testapp shell' needs a standard input, and this one is closed: run it in a "
        "terminal, or give it commands on its input (testapp shell < script.py)."
    ]


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_run_refuses_a_port_that_is_no_port(make_cli, fake_run, port):
    result = make_cli(SECRET_KEY=STRONG_KEY).invoke("run", "--port", port)
    assert result.exit_code == 2
    assert fake_run == []
    assert "Invalid value for '--port' / '-p'" in result.output


def test_masked_values_keep_what_is_not_secret(make_cli, secrets_everywhere):
    harness = make_cli()
    result = harness.invoke("config", "show")
    lines = result.output.splitlines()
    [redis] = [line for line in lines if line.startswith("REDIS_URL = ")]
    assert redis.startswith("REDIS_URL = 'redis://worker:********@127.0.0.1:6379/0'  [")
    assert "'host': '127.0.0.1'" in result.output
    assert "SECRET_KEY = ********  [environment variable (TESTAPP_SECRET_KEY)]" in lines


# packages


def test_packages_lists_contributions_in_order(make_cli):
    harness = make_cli(PACKAGES=["pkg_beta", "pkg_plain", "pkg_alpha"])
    result = harness.invoke("packages")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headers = [line for line in lines if not line.startswith(" ")]
    assert headers == [
        "1. pkg_beta (version unknown)  (from PACKAGES)",
        "2. pkg_plain (version unknown)  (from PACKAGES)",
        "3. pkg_alpha (version unknown)  (from PACKAGES)",
    ]
    beta = dict(
        (part.strip() for part in line.split(":", 1)) for line in lines[1 : lines.index(headers[1])]
    )
    assert beta == {
        "modules": "cli, config, views",
        "config": "PKG_BETA_LIMIT",
        "blueprints": "pkg_beta",
        "url rules": "/beta",
        "commands": "beta-hello",
        "templates": "page.html, page_base.html",
    }
    plain = lines[lines.index(headers[1]) + 1 : lines.index(headers[2])]
    assert all(line.rstrip().endswith(" -") for line in plain)
    alpha = "\n".join(lines[lines.index(headers[2]) :])
    assert "blueprints:  pkg_alpha" in alpha
    assert "/alpha" in alpha
    assert "/pkg_alpha/static/<path:filename>" in alpha
    assert "commands:    alpha-hello, alpha-app" in alpha
    assert "templates:   page.html" in alpha


def test_packages_without_packages(make_cli):
    result = make_cli(PACKAGES=[]).invoke("packages")
    assert result.exit_code == 0
    assert result.output == "No packages: list them in PACKAGES.\n"


# check


def test_check_clean_app(make_cli):
    harness = make_cli(PACKAGES=["pkg_alpha"], SECRET_KEY=STRONG_KEY)
    result = harness.invoke("check", "--fail-level", "info")
    assert result.exit_code == 0, result.output
    assert result.output == "No problems found.\n"


def test_check_warning_fails_only_at_warning_level(make_cli):
    harness = make_cli()  # no SECRET_KEY: the instance's key file
    result = harness.invoke("check")
    assert result.exit_code == 0, result.output
    assert "warning AF002 secret-key-generated: SECRET_KEY comes from " in result.output
    assert "TESTAPP_SECRET_KEY" in result.output
    assert "info AF103 template-shadowed" in result.output
    assert result.output.splitlines()[-1] == "2 problem(s): 0 error, 1 warning, 1 info."

    result = make_cli().invoke("check", "--fail-level", "warning")
    assert result.exit_code == 1
    assert "AF002" in result.output


def test_check_info_fails_at_info_level(make_cli):
    harness = make_cli(SECRET_KEY=STRONG_KEY)
    assert harness.invoke("check", "--fail-level", "warning").exit_code == 0
    result = make_cli(SECRET_KEY=STRONG_KEY).invoke("check", "--fail-level", "info")
    assert result.exit_code == 1
    assert "AF103" in result.output


def test_check_fails_on_an_error(make_cli, make_package):
    make_package(
        "pkg_ext_check",
        {
            "__init__.py": """
                from appfactory.core import Level, Problem, add_check

                def setup_app(app):
                    add_check(
                        app,
                        lambda app: [Problem("X001", "always", Level.ERROR, "Broken.", "Fix it.")],
                    )
            """
        },
    )
    result = make_cli(SECRET_KEY=STRONG_KEY, EXTENSIONS=["pkg_ext_check"]).invoke("check")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "error X001 always: Broken. Hint: Fix it."
    assert result.output.splitlines()[-1].startswith("2 problem(s): 1 error, 0 warning, 1 info.")


def test_check_reports_conflicts_by_id(make_cli, make_package):
    make_package("pkg_one", {"config.py": "PKG_SHARED = 1\n"})
    make_package("pkg_two", {"config.py": "PKG_SHARED = 2\n"})
    result = make_cli(PACKAGES=["pkg_one", "pkg_two"], SECRET_KEY=STRONG_KEY).invoke(
        "check", "--fail-level", "warning"
    )
    assert result.exit_code == 1
    assert "warning AF101 config-default-conflict: PKG_SHARED has a default in packages" in (
        result.output
    )


# run


@pytest.fixture
def fake_run(monkeypatch) -> list[dict[str, t.Any]]:
    """Replace Flask's server start: record the options instead of binding a port."""
    calls: list[dict[str, t.Any]] = []

    def run(**kwargs: t.Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(flask.cli.run_command, "callback", run)
    return calls


def test_run_refuses_without_secret_key(make_cli, fake_run, read_only_folder, monkeypatch):
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(read_only_folder))
    harness = make_cli()
    result = harness.invoke("run")
    assert result.exit_code == 1
    assert fake_run == []
    [line] = error_lines(result)
    assert line.startswith("Error: SECRET_KEY is not set for 'testapp', and the app refuses")
    assert f"instance file {read_only_folder / 'testapp.cfg'}" in line
    assert "environment variable TESTAPP_SECRET_KEY" in line
    assert "Traceback" not in result.output


def test_run_refusal_with_traceback(make_cli, fake_run, read_only_folder, monkeypatch):
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(read_only_folder))
    with pytest.raises(SecretKeyError, match="TESTAPP_SECRET_KEY"):
        make_cli().invoke("--traceback", "run", catch_exceptions=False)
    assert fake_run == []


def test_run_with_secret_key_reaches_flask(make_cli, fake_run, monkeypatch):
    monkeypatch.setenv("TESTAPP_SECRET_KEY", "from-the-environment")
    harness = make_cli()
    result = harness.invoke("run", "--host", "127.0.0.1", "--port", "0", "--no-reload")
    assert result.exit_code == 0, result.output
    [options] = fake_run
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 0
    assert options["reload"] is False
    assert harness.loaded


def test_debug_run_uses_the_instance_key(make_cli, fake_run, instance_path):
    harness = make_cli(DEBUG=True)
    result = harness.invoke("run", "--no-reload")
    assert result.exit_code == 0, result.output
    assert len(fake_run) == 1
    assert (instance_path / "secret-key").is_file()


# Errors from our code: one line, exit 1, --traceback for the stack


def _commands(*names: str) -> str:
    lines = ["import click"]
    for index, name in enumerate(names):
        lines += [f"@click.command({name!r})", f"def command_{index}():", "    pass"]
    listed = ", ".join(f"command_{i}" for i in range(len(names)))
    return "\n".join([*lines, f"commands = [{listed}]"]) + "\n"


@pytest.mark.parametrize(
    ("packages", "exception", "message"),
    [
        (
            {"pkg_bad": {"cli.py": "raise RuntimeError('cli boom')\n"}},
            PackageModuleError,
            "Error: Module 'pkg_bad.cli' of package 'pkg_bad' failed to import: "
            "RuntimeError: cli boom. Fix the error in pkg_bad.cli, or remove 'pkg_bad' "
            "from PACKAGES.",
        ),
        (
            {"pkg_one": {"cli.py": _commands("hello")}, "pkg_two": {"cli.py": _commands("hello")}},
            ConflictError,
            "Error: Command 'hello' is defined by packages 'pkg_one' and 'pkg_two'; rename "
            "one of them or remove one package from PACKAGES.",
        ),
        (
            {"pkg_bad": {"cli.py": _commands("config")}},
            ConflictError,
            "Error: Command 'config' of package 'pkg_bad' has the name of a built-in "
            "command; rename it in pkg_bad.cli.",
        ),
        (
            {"pkg_bad": {"cli.py": "def hello():\n    pass\ncommands = [hello]\n"}},
            PackageContentError,
            "Error: pkg_bad.cli.commands[0] is function <function hello at",
        ),
        (
            {"pkg_bad": {"cli.py": "import click\n"}},
            PackageContentError,
            "Error: pkg_bad.cli must define commands = [...], a list of click commands; "
            "it has NoneType. List the commands to register.",
        ),
        (
            {"pkg_bad": {"cli.py": "import click\ncommands = click.command()(lambda: None)\n"}},
            PackageContentError,
            "Error: pkg_bad.cli must define commands = [...], a list of click commands; "
            "it has Command.",
        ),
    ],
)
@pytest.mark.parametrize("args", [["--help"], ["alpha-hello"], ["check"]])
def test_package_cli_errors(make_cli, make_package, packages, exception, message, args):
    for name, files in packages.items():
        make_package(name, files)
    harness = make_cli(PACKAGES=["pkg_alpha", *packages])
    result = harness.invoke(*args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    [line] = error_lines(result)
    assert line.startswith(message)
    assert "Traceback" not in result.output
    assert "--traceback" in result.output
    assert "alpha-hello" not in result.output.replace("--traceback", "")

    with pytest.raises(exception) as info:
        harness.invoke("--traceback", *args, catch_exceptions=False)
    assert f"Error: {info.value}".startswith(message)


def test_error_shows_its_cause_once(make_cli, make_package):
    make_package("pkg_bad", {"cli.py": "raise RuntimeError('cli boom')\n"})
    result = make_cli(PACKAGES=["pkg_bad"]).invoke("--help")
    # The cause is already in the message: no "caused by" line repeats it.
    assert result.output.count("cli boom") == 1


def test_debug_flag_shows_the_stack(make_cli, make_package, monkeypatch):
    make_package("pkg_bad", {"cli.py": "raise RuntimeError('cli boom')\n"})
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(PackageModuleError, match="cli boom"):
        make_cli(PACKAGES=["pkg_bad"], SECRET_KEY="test").invoke("--help", catch_exceptions=False)


def test_broken_config_is_one_error_line(make_cli, write_instance_file):
    path = write_instance_file("testapp", "SECRET_KEY = 'x'\nPORT = int('eighty')\n")
    result = make_cli().invoke("--help")
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert line.startswith(f"Error: Instance file {path}, line 2: ValueError:")


# load_cli: the packages' commands for ``flask --app`` users


def test_load_cli_registers_on_app_cli(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"])
    group = load_cli(app)
    assert group is app.cli
    assert set(PACKAGE_COMMANDS) <= set(app.cli.commands)
    result = app.test_cli_runner().invoke(args=["alpha-app"])
    assert result.exit_code == 0, result.output
    assert result.output == "app=testapp loaded=True\n"


def test_load_cli_registers_on_a_given_group(make_app):
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"])
    group = click.Group("other")
    assert load_cli(app, group) is group
    assert sorted(group.commands) == PACKAGE_COMMANDS
    assert "alpha-hello" not in app.cli.commands
    result = CliRunner().invoke(group, ["beta-hello"])
    assert result.output == "hello from beta\n"


def test_load_cli_reports_conflicts(make_app, make_package):
    make_package("pkg_one", {"cli.py": _commands("hello")})
    make_package("pkg_two", {"cli.py": _commands("hello")})
    with pytest.raises(ConflictError, match="'pkg_one' and 'pkg_two'"):
        make_app(PACKAGES=["pkg_one", "pkg_two"])
    app = make_app(PACKAGES=["pkg_one", "pkg_two"], load=False)
    with pytest.raises(ConflictError, match="Command 'hello' is defined by packages"):
        load_cli(app)
