"""Tests of myapp written with appfactory's fixtures."""

import pytest

from appfactory.celery.testing import CeleryDefaultAppError
from mymodule.tasks import appctx, reqctx


def test_home(client):  # a test client of a fully loaded app
    assert b"Hello, World!" in client.get("/").data


@pytest.mark.app_config(MYMODULE_GREETING="Bonjour")
def test_greeting(app, client):  # settings for this test only
    assert app.config["MYMODULE_GREETING"] == "Bonjour"
    assert b"<h1>Bonjour</h1>" in client.get("/").data


def test_cli(cli_runner):  # the app's management command, in this process
    result = cli_runner.invoke(args=["testapp"])
    assert result.exit_code == 0
    assert result.output == "myapp\n"


def test_task(app, celery_app):  # tasks run eagerly, in the app's context
    assert celery_app.flask_app is app
    with app.app_context():
        assert appctx.delay().get() == "myapp"
        assert reqctx.delay().get() == "GET"


def test_worker(app, celery_worker):  # a real worker, tasks really queued
    assert celery_worker.app.flask_app is app
    with app.app_context():
        result = appctx.delay()
    assert result.get(timeout=10) == "myapp"


def test_shared_task_outside_the_app_context(celery_app):
    assert celery_app.conf.task_always_eager
    with pytest.raises(CeleryDefaultAppError, match="outside the app context"):
        appctx.delay()


@pytest.fixture
def greeter(make_package):  # a package for one test, never installed
    make_package(
        "greeter",
        {
            "config.py": "GREETER_WORD = 'Hi'\n",
            "cli.py": """
                import click
                from flask import current_app
                from flask.cli import with_appcontext


                @click.command()
                @with_appcontext
                def greet():
                    click.echo(current_app.config["GREETER_WORD"])


                commands = [greet]
            """,
        },
    )


@pytest.mark.usefixtures("greeter")
@pytest.mark.app_config(PACKAGES_ENTRY_POINTS_EXTRA={"greeter": "greeter"})
def test_extra_package(app, cli_runner):
    assert app.config["GREETER_WORD"] == "Hi"
    assert cli_runner.invoke(args=["greet"]).output == "Hi\n"
