"""The example application: its factory, its WSGI module, its ``myapp`` command."""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

import mymodule.models
from appfactory.core import get_registry
from appfactory.sqlalchemy import db
from myapp.app import create_app

HELP_COMMANDS = ["run", "shell", "routes", "config", "packages", "check", "testsimple", "testapp"]
Invoke = t.Callable[..., Result]
#: A broker named but never reached, for tests whose instance folder is read-only.
SERVER_BROKER = "redis://127.0.0.1:6379/15"
#: The head of mymodule's migrations (mymodule/migrations/).
MYMODULE_HEAD = "a41fbe067287"


def test_create_app_loads_mymodule_and_the_extension() -> None:
    app = create_app()
    registry = get_registry(app)
    assert [p.name for p in registry.packages] == ["mymodule"]
    assert "appfactory.sqlalchemy" in registry.extensions
    assert "mymodule" in app.blueprints
    # The extension found mymodule's models module: its table is on the app's db.
    assert registry.package("mymodule").modules["models"] is mymodule.models
    assert "greetings" in db.metadata.tables
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + os.path.join(
        app.instance_path, "myapp.sqlite3"
    )
    assert app.extensions["sqlalchemy"] is db


def test_create_app_uses_the_isolated_instance_folder(instance_path: Path) -> None:
    assert create_app().instance_path == str(instance_path)
    assert instance_path.is_dir()


def test_index_says_hello(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "<h1>Hello, World!</h1>" in response.get_data(as_text=True)


def test_without_a_secret_key_the_index_serves_with_the_instance_key(instance_path: Path) -> None:
    app = create_app()
    response = app.test_client().get("/")
    assert response.status_code == 200
    key_file = instance_path / "secret-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_index_refuses_to_serve_when_no_key_can_be_kept(
    read_only_folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MYAPP_INSTANCE_PATH", str(read_only_folder))
    monkeypatch.setenv("MYAPP_CELERY_BROKER_URL", SERVER_BROKER)  # no embedded broker folders
    monkeypatch.setenv("MYAPP_CELERY_RESULT_BACKEND", SERVER_BROKER)
    response = create_app().test_client().get("/")
    assert response.status_code == 500
    assert "Hello, World!" not in response.get_data(as_text=True)
    assert "SECRET_KEY is not set for 'myapp'" in caplog.text
    assert f"No key could be kept in {read_only_folder / 'secret-key'}" in caplog.text


def test_wsgi_application_is_the_flask_app(instance_path: Path, fresh_wsgi: None) -> None:
    wsgi = importlib.import_module("myapp.wsgi")
    assert isinstance(wsgi.application, Flask)
    assert wsgi.application.name == "myapp"
    assert wsgi.application.instance_path == str(instance_path)
    assert "mymodule" in wsgi.application.blueprints


def test_help_lists_the_commands(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line]
    assert set(HELP_COMMANDS) <= set(listed)


@pytest.mark.parametrize(("command", "output"), [("testsimple", "Test"), ("testapp", "myapp")])
def test_package_commands(invoke: Invoke, command: str, output: str) -> None:
    result = invoke(command)
    assert result.exit_code == 0, result.output
    assert result.output == f"{output}\n"


def test_config_show_names_the_package_default(invoke: Invoke) -> None:
    result = invoke("config", "show", "MYMODULE_GREETING")
    assert result.exit_code == 0, result.output
    assert "MYMODULE_GREETING = 'Hello, World!'" in result.output
    assert "package default (mymodule.config)" in result.output


@pytest.mark.parametrize(
    ("layer", "origin"),
    [
        ("instance file", "instance file ({instance}/myapp.cfg)"),
        ("environment", "environment variable (MYAPP_MYMODULE_GREETING)"),
    ],
)
def test_config_show_names_the_layer_that_won(
    invoke: Invoke,
    instance_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    layer: str,
    origin: str,
) -> None:
    if layer == "instance file":
        instance_path.mkdir(parents=True)
        (instance_path / "myapp.cfg").write_text("MYMODULE_GREETING = 'Hi'\n")
    else:
        monkeypatch.setenv("MYAPP_MYMODULE_GREETING", "Hi")
    result = invoke("config", "show", "MYMODULE_GREETING", "--history")
    assert result.exit_code == 0, result.output
    assert "MYMODULE_GREETING = 'Hi'" in result.output
    assert f"set by: {origin.format(instance=instance_path)}" in result.output
    assert "package default (mymodule.config): 'Hello, World!'" in result.output


def test_db_upgrade_creates_the_tables_in_a_private_file_of_the_instance_folder(
    invoke: Invoke, instance_path: Path
) -> None:
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.output == f"Applied 1 revision(s).\nmymodule: {MYMODULE_HEAD}\n"
    path = instance_path / "myapp.sqlite3"
    assert path.stat().st_mode & 0o777 == 0o600
    database = sqlite3.connect(path)
    try:
        tables = database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        versions = database.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        database.close()
    assert tables == [("alembic_version",), ("greetings",)]
    assert versions == [(MYMODULE_HEAD,)]
    # Twice is fine: nothing left to apply, the rows are kept.
    again = invoke("db", "upgrade")
    assert again.exit_code == 0, again.output
    assert again.output.startswith("Applied 0 revision(s).")


def test_greetings_after_db_upgrade(invoke: Invoke, instance_path: Path) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    client = create_app(SECRET_KEY="a-key-of-at-least-32-characters-for-tests").test_client()
    assert client.post("/greetings", data={"text": "Hello"}).status_code == 201
    assert client.get("/greetings").get_json() == {"greetings": ["Hello"]}


def test_check_reports_the_migrations_until_db_upgrade(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYAPP_SECRET_KEY", "a-key-of-at-least-32-characters-for-check")
    before = invoke("check")
    assert before.exit_code == 0, before.output
    assert "AF402 migrations-not-applied" in before.output
    assert f"head(s) {MYMODULE_HEAD} missing" in before.output
    assert invoke("db", "upgrade").exit_code == 0
    after = invoke("check")
    assert after.exit_code == 0, after.output
    for culprit in ("AF401", "AF402"):
        assert culprit not in after.output, after.output


def test_commands_that_only_read_do_not_create_the_database(
    invoke: Invoke, instance_path: Path
) -> None:
    for args in (["check"], ["config", "show", "SQLALCHEMY_DATABASE_URI"], ["packages"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
    assert not (instance_path / "myapp.sqlite3").exists()


def test_database_uri_from_the_environment(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MYAPP_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path}/other.sqlite3")
    result = invoke("config", "show", "SQLALCHEMY_DATABASE_URI", "--history")
    assert result.exit_code == 0, result.output
    assert "set by: environment variable (MYAPP_SQLALCHEMY_DATABASE_URI)" in result.output
    assert "extension (appfactory.sqlalchemy): 'sqlite:///" in result.output
    assert invoke("db", "upgrade").exit_code == 0
    assert (tmp_path / "other.sqlite3").is_file()


def test_db_upgrade_and_greetings_on_postgresql(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("MYAPP_SQLALCHEMY_DATABASE_URI", postgres_url)
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.output == f"Applied 1 revision(s).\nmymodule: {MYMODULE_HEAD}\n"
    app = create_app(SECRET_KEY="a-key-of-at-least-32-characters-for-tests")
    client = app.test_client()
    assert client.post("/greetings", data={"text": "Hallo"}).status_code == 201
    assert client.get("/greetings").get_json() == {"greetings": ["Hallo"]}
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        db.engine.dispose()


def test_check_passes(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    result = invoke("check")
    assert result.exit_code == 0, result.output
    # The key kept in the instance folder is fine for one host: a warning.
    assert "secret-key-generated" in result.output
    monkeypatch.setenv("MYAPP_SECRET_KEY", "a-key-of-at-least-32-characters-for-check")
    assert invoke("db", "upgrade").exit_code == 0
    result = invoke("check")
    assert result.exit_code == 0, result.output
    levels = {line.split()[0] for line in result.output.splitlines()[:-1]}
    assert not levels & {"error", "warning"}, result.output


def test_packages_lists_mymodule(invoke: Invoke) -> None:
    result = invoke("packages")
    assert result.exit_code == 0, result.output
    assert "1. mymodule 0.1.0" in result.output
    # Declared commands are listed by name (hatchling writes entry points sorted).
    assert "commands:    testapp, testsimple" in result.output
    assert "extension appfactory.sqlalchemy  commands: db" in result.output
    assert f"migrations:  head {MYMODULE_HEAD}" in result.output


def test_run_refuses_when_no_key_can_be_kept(
    invoke: Invoke, read_only_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYAPP_INSTANCE_PATH", str(read_only_folder))
    monkeypatch.setenv("MYAPP_CELERY_BROKER_URL", SERVER_BROKER)  # no embedded broker folders
    monkeypatch.setenv("MYAPP_CELERY_RESULT_BACKEND", SERVER_BROKER)
    result = invoke("run", "--port", "0")
    assert result.exit_code == 1
    assert "SECRET_KEY is not set for 'myapp'" in result.output
    assert "MYAPP_SECRET_KEY" in result.output


def myapp_script() -> str:
    """The ``myapp`` console script installed beside this interpreter."""
    script = Path(sys.executable).parent / "myapp"
    assert script.is_file(), f"{script} is missing: install examples/myapp in this virtualenv."
    return str(script)


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [myapp_script(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_console_script_help_and_testapp(tmp_path: Path) -> None:
    result = run_script("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in HELP_COMMANDS:
        assert f"  {name} " in result.stdout
    result = run_script("testapp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "myapp\n"


def test_help_does_not_import_the_views(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from myapp.cli import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('views imported:', 'mymodule.views' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "views imported: False"


def test_flask_sqlalchemy_settings_from_the_environment_get_their_type(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flask-SQLAlchemy gives these defaults with app.config.setdefault.
    monkeypatch.setenv("MYAPP_SQLALCHEMY_RECORD_QUERIES", "false")
    monkeypatch.setenv("MYAPP_SQLALCHEMY_ECHO", "no")
    app = create_app()
    assert app.config["SQLALCHEMY_RECORD_QUERIES"] is False
    assert app.config["SQLALCHEMY_ECHO"] is False
    result = invoke("config", "show", "SQLALCHEMY_RECORD_QUERIES", "--history")
    assert result.exit_code == 0, result.output
    assert (
        "environment variable (MYAPP_SQLALCHEMY_RECORD_QUERIES): False (read from the text "
        "'false')" in result.output
    )
