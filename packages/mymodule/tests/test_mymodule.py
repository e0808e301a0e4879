"""mymodule in an app of its own: page, templates, static files, commands, models."""

from __future__ import annotations

import importlib.metadata
import typing as t
from pathlib import Path

import click
import jinja2.meta
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import mymodule
import mymodule.cli
import mymodule.config
import mymodule.models
import mymodule.version
from appfactory.core import get_registry, load_cli
from appfactory.core.testing import AppCliRunner
from appfactory.sqlalchemy import db


def test_index_renders_the_greeting(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Hello, World!</h1>" in page
    # The page comes from mymodule.html through the blocks of mymodule_base.html.
    assert "<title>mymodule</title>" in page
    assert 'href="/mymodule/static/mymodule.css"' in page


def test_page_template_extends_the_base_template(app: Flask) -> None:
    templates = Path(mymodule.__file__).parent / "templates"
    with app.app_context():
        page = app.jinja_env.get_template("mymodule.html")
        source = Path(page.filename or "").read_text()
        parents = set(jinja2.meta.find_referenced_templates(app.jinja_env.parse(source)))
    assert Path(page.filename or "").parent == templates
    assert parents == {"mymodule_base.html"}
    assert "{% block body %}" in (templates / "mymodule_base.html").read_text()


def test_base_template_can_be_overridden_without_copying_the_page(
    instance_path: Path, make_app: t.Callable[..., Flask]
) -> None:
    templates = instance_path / "templates"
    templates.mkdir(parents=True)
    (templates / "mymodule_base.html").write_text("<main>{% block body %}{% endblock %}</main>")
    page = make_app().test_client().get("/").get_data(as_text=True)
    assert page == "<main><h1>Hello, World!</h1></main>"


@pytest.mark.parametrize(
    ("how", "greeting"),
    [
        ("keyword", "Bonjour"),
        ("environment", "Hallo"),
        ("instance file", "Ciao"),
    ],
)
def test_greeting_can_be_overridden(
    how: str,
    greeting: str,
    instance_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: t.Callable[..., Flask],
) -> None:
    config: dict[str, t.Any] = {}
    if how == "keyword":
        config["MYMODULE_GREETING"] = greeting
    elif how == "environment":
        monkeypatch.setenv("TESTAPP_MYMODULE_GREETING", greeting)
    else:
        instance_path.mkdir(parents=True)
        (instance_path / "testapp.cfg").write_text(f"MYMODULE_GREETING = {greeting!r}\n")
    page = make_app(**config).test_client().get("/").get_data(as_text=True)
    assert f"<h1>{greeting}</h1>" in page
    assert "Hello, World!" not in page


def test_greeting_is_escaped(make_app: t.Callable[..., Flask]) -> None:
    page = make_app(MYMODULE_GREETING="<b>Hi</b>").test_client().get("/").get_data(as_text=True)
    assert "<h1>&lt;b&gt;Hi&lt;/b&gt;</h1>" in page


def test_default_greeting_comes_from_mymodule_config(app: Flask) -> None:
    assert app.config["MYMODULE_GREETING"] == mymodule.config.MYMODULE_GREETING == "Hello, World!"
    assert get_registry(app).package("mymodule").config_keys == ["MYMODULE_GREETING"]


def test_static_stylesheet_is_served(client: FlaskClient) -> None:
    response = client.get("/mymodule/static/mymodule.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    assert b"font-family" in response.data
    response.close()


@pytest.mark.app_config(MYMODULE_GREETING="Hi")
def test_greeting_from_the_app_config_marker(client: FlaskClient) -> None:
    assert "<h1>Hi</h1>" in client.get("/").get_data(as_text=True)


def test_help_lists_the_commands(cli_runner: AppCliRunner) -> None:
    result = cli_runner.invoke(args=["--help"])
    assert result.exit_code == 0, result.output
    assert "testsimple  Command without application context." in result.output
    assert "testapp     Command with application context." in result.output


@pytest.mark.parametrize(("command", "output"), [("testsimple", "Test"), ("testapp", "testapp")])
def test_commands_through_clifactory(cli_runner: AppCliRunner, command: str, output: str) -> None:
    result = cli_runner.invoke(args=[command])
    assert result.exit_code == 0, result.output
    assert result.output == f"{output}\n"


def test_commands_through_load_cli_for_flask_users(app: Flask) -> None:
    load_cli(app)
    result = app.test_cli_runner().invoke(args=["testapp"])
    assert result.exit_code == 0, result.output
    assert result.output == "testapp\n"


def test_commands_list_is_click_commands() -> None:
    assert [c.name for c in mymodule.cli.commands] == ["testsimple", "testapp"]
    assert all(isinstance(c, click.Command) for c in mymodule.cli.commands)


def test_greetings_are_stored_and_listed(database_app: Flask, db_session: t.Any) -> None:
    client = database_app.test_client()
    assert client.get("/greetings").get_json() == {"greetings": []}
    response = client.post("/greetings", data={"text": "  Hello  "})
    assert response.status_code == 201
    assert response.get_json() == {"id": 1, "text": "Hello"}
    client.post("/greetings", data={"text": "Bonjour"})
    assert client.get("/greetings").get_json() == {"greetings": ["Hello", "Bonjour"]}
    assert db_session.get(mymodule.models.Greeting, 2).text == "Bonjour"


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
def test_a_greeting_without_text_or_too_long_is_refused(
    database_app: Flask, db_session: t.Any, text: str
) -> None:
    client = database_app.test_client()
    response = client.post("/greetings", data={"text": text})
    assert response.status_code == 400
    assert "Form field &#39;text&#39; must have 1 to 200 characters." in response.get_data(
        as_text=True
    )
    assert client.get("/greetings").get_json() == {"greetings": []}


def test_models_are_on_the_apps_db() -> None:
    assert mymodule.models.Greeting.__table__ is db.metadata.tables["greetings"]
    assert list(db.metadata.tables["greetings"].columns.keys()) == ["id", "text"]


def test_version_matches_the_installed_distribution() -> None:
    assert importlib.metadata.version("mymodule") == mymodule.version.__version__


def test_tasks_run_in_the_apps_context(app: Flask, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("appfactory.celery", reason="the tasks need mymodule[celery]")
    celery = request.getfixturevalue("celery_app")
    from mymodule.tasks import appctx, reqctx

    assert celery.flask_app is app
    with app.app_context():
        assert appctx.delay().get() == "testapp"
        assert reqctx.delay().get() == "GET"


def test_migrations_create_the_table_and_drop_it(app: Flask, cli_runner: AppCliRunner) -> None:
    result = cli_runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == "Applied 1 revision(s).\nmymodule: a41fbe067287\n"
    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert tables == {"alembic_version", "greetings"}
    result = cli_runner.invoke(args=["db", "downgrade", "--package", "mymodule", "base"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) == {"alembic_version"}
        db.engine.dispose()


def test_a_task_stores_a_greeting_and_reads_it_after_the_commit(
    app: Flask, request: pytest.FixtureRequest, cli_runner: AppCliRunner
) -> None:
    pytest.importorskip("appfactory.celery", reason="the tasks need mymodule[celery]")
    request.getfixturevalue("celery_app")
    from mymodule.tasks import leave_greeting, read_greeting

    # The worker writes in a transaction of its own: the table comes from the migrations.
    assert cli_runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        greeting_id = leave_greeting.delay("Salut").get()
        assert db.session.get(mymodule.models.Greeting, greeting_id).text == "Salut"
        assert read_greeting.delay(greeting_id).get() == "Salut"
        with pytest.raises(LookupError, match=r"Greeting 99 does not exist\."):
            read_greeting.delay(99).get()
