"""The files that ``appfactory new`` writes, as ``string.Template`` texts.

``$name`` is the reusable package's import name (for an app, the package of
its own pages, ``<app>_home``), ``$app`` the app's, ``$dist`` the
distribution's name, ``$upper`` the package's name upper-cased (its
settings), ``$prefix`` the app's environment prefix, ``$route`` the URL of
the package's page, ``$core`` and ``$celery`` the requirements.
"""

from __future__ import annotations

#: Files of both kinds: a reusable package and an app are both packages.
COMMON = {
    "README.md": """\
# $dist

Made with `appfactory new $kind $given`.

```console
$$ python -m venv .venv && . .venv/bin/activate
$$ pip install -e ".[test]"
$$ pytest
```
""",
    "src/$name/__init__.py": '''\
"""$name: $what."""

__version__ = "0.1.0"
''',
    "src/$name/config.py": '''\
"""Default settings of $name (an app's configuration may override them)."""

${upper}_GREETING = "Hello from $name!"
''',
    "src/$name/views.py": '''\
"""The web pages of $name."""

from flask import Blueprint, current_app, render_template

blueprint = Blueprint(
    "$name",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/$name/static",
)


@blueprint.route("$route")
def index() -> str:
    """Greet the visitor."""
    return render_template("$name/index.html", greeting=current_app.config["${upper}_GREETING"])
''',
    "src/$name/templates/$name/index.html": """\
<!doctype html>
<html>
  <head>
    <title>{% block title %}$name{% endblock %}</title>
    <link rel="stylesheet" href="{{ url_for('$name.static', filename='$name.css') }}">
  </head>
  <body>
    {% block body %}<h1>{{ greeting }}</h1>{% endblock %}
  </body>
</html>
""",
    "src/$name/static/$name.css": "h1 { font-family: sans-serif; }\n",
    "src/$name/cli.py": '''\
"""The commands of $name, added to the app's management command."""

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group(name="$name")
def group() -> None:
    """Commands of $name."""


@group.command()
@with_appcontext
def greet() -> None:
    """Print the greeting of the app."""
    click.echo(current_app.config["${upper}_GREETING"])


commands = [group]
''',
    "src/$name/tasks.py": '''\
"""Background tasks of $name, run by the app's Celery worker."""

from celery import shared_task
from flask import current_app


@shared_task
def greet(who: str) -> str:
    """Runs in the app's context: greets ``who`` with the app's greeting."""
    return f"{current_app.config['${upper}_GREETING']} ({who}, from {current_app.name})"
''',
    "tests/test_$name.py": '''\
"""$name in an app: its page, stylesheet, command, task, and a clean check."""

import pytest
from flask import Flask
from flask.testing import FlaskClient

from appfactory.core.testing import AppCliRunner
from $name.tasks import greet


def test_page(client: FlaskClient) -> None:
    page = client.get("$route").get_data(as_text=True)
    assert "<h1>Hello from $name!</h1>" in page
    assert 'href="/$name/static/$name.css"' in page


def test_stylesheet(client: FlaskClient) -> None:
    response = client.get("/$name/static/$name.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    response.close()


@pytest.mark.app_config(${upper}_GREETING="Hi")
def test_greeting_can_be_set(client: FlaskClient) -> None:
    assert "<h1>Hi</h1>" in client.get("$route").get_data(as_text=True)


def test_command(cli_runner: AppCliRunner) -> None:
    result = cli_runner.invoke(args=["$name", "greet"])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello from $name!\\n"


def test_check_finds_no_error(cli_runner: AppCliRunner) -> None:
    result = cli_runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output


def test_task_in_the_test(app: Flask, celery_app: object) -> None:
    with app.app_context():
        assert greet.delay("Ada").get() == "Hello from $name! (Ada, from $appname)"


@pytest.mark.celery_broker("embedded")
def test_task_through_a_worker(app: Flask, celery_worker: object) -> None:
    with app.app_context():
        result = greet.delay("Ada")
    assert result.get(timeout=30) == "Hello from $name! (Ada, from $appname)"
''',
}

PACKAGE = {
    "pyproject.toml": """\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "$dist"
dynamic = ["version"]
description = "A reusable package for appfactory apps."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["$core", "$celery"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The commands of $name: an app's --help lists them without importing $name.
[project.entry-points."appfactory.commands"]
$name = "$name.cli:group"

[tool.hatch.version]
path = "src/$name/__init__.py"

# Everything under src/$name/ is shipped, templates/ and static/ included.
[tool.hatch.build.targets.wheel]
packages = ["src/$name"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "tests/conftest.py": '''\
"""The app of $name's tests: $name alone, with Celery."""

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import appfactory

pytest_plugins = ["appfactory.core.testing"]


def create_testapp(load: bool = True, **config: t.Any) -> Flask:
    settings = {"PACKAGES": ["$name"], "EXTENSIONS": ["appfactory.celery"], **config}
    return appfactory("testapp", None, load=load, **settings)


@pytest.fixture(scope="session")
def create_app() -> t.Callable[..., Flask]:
    return create_testapp


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    """One instance folder per test."""
    return tmp_path / "instance"


@pytest.fixture(autouse=True)
def _isolated(app_environment: str) -> None:
    """Every test in the plugin's isolated environment."""
''',
}

APP = {
    "pyproject.toml": """\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "$dist"
dynamic = ["version"]
description = "An appfactory app."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["$core", "$celery"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.scripts]
$app = "$app.cli:cli"

# The commands of $name: the app's --help lists them without importing $name.
[project.entry-points."appfactory.commands"]
$name = "$name.cli:group"

[tool.hatch.version]
path = "src/$app/__init__.py"

# Everything under these folders is shipped, templates/ and static/ included.
[tool.hatch.build.targets.wheel]
packages = ["src/$app", "src/$name"]

[tool.pytest.ini_options]
testpaths = ["tests"]
""",
    "src/$app/__init__.py": '''\
"""$app: an appfactory app."""

__version__ = "0.1.0"
''',
    "src/$app/config.py": '''\
"""Configuration of the app $app: its extensions and packages.

Each setting can also be set in the instance file ($app.cfg in the
instance folder) or as an environment variable ${prefix}_<NAME>.
"""

EXTENSIONS = [
    "appfactory.celery",
]

# The app's own pages, commands and tasks are in the package $name; list
# more packages after it (the earlier package wins where two give the same
# setting or template).
PACKAGES = [
    "$name",
]

# Celery: with no broker set, the embedded broker in the instance folder is
# used (one machine, no server). For Redis:
#   CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
''',
    "src/$app/app.py": '''\
"""The application factory of $app."""

import typing as t

from flask import Flask

from appfactory.core import appfactory


def create_app(load: bool = True, **kwargs_config: t.Any) -> Flask:
    """The app; ``load=False`` gives its configuration only (for the command line)."""
    return appfactory("$app", "$app.config", load=load, **kwargs_config)
''',
    "src/$app/cli.py": '''\
"""The management command of $app, installed as the `$app` console script."""

from appfactory.core import clifactory

from $app.app import create_app

cli = clifactory(create_app)
''',
    "src/$app/celery.py": '''\
"""The Celery app of $app, for the worker: celery -A $app.celery worker"""

from appfactory.celery import celeryfactory

from $app.app import create_app

celery = celeryfactory(create_app())
''',
    "src/$app/wsgi.py": '''\
"""The WSGI app of $app, for a server: gunicorn $app.wsgi"""

from $app.app import create_app

application = create_app()
''',
    "tests/conftest.py": '''\
"""The app of $app's tests: the app itself, one instance folder per test."""

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from $app.app import create_app as create_the_app

pytest_plugins = ["appfactory.core.testing"]


@pytest.fixture(scope="session")
def create_app() -> t.Callable[..., Flask]:
    return create_the_app


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    """One instance folder per test."""
    return tmp_path / "instance"


@pytest.fixture(autouse=True)
def _isolated(app_environment: str) -> None:
    """Every test in the plugin's isolated environment."""
''',
}
