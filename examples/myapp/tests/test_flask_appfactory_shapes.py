"""Flask-AppFactory's tutorial, as its readers wrote it, runs on appfactory.

The files below have the shapes of Flask-AppFactory's example (myapp,
mymodule, myexts, 2015) with only their imports changed to today's names:
``flask_appfactory`` -> ``appfactory.core``/``appfactory.celery``,
``flask_cli`` -> ``flask.cli``, ``flask.ext.sqlalchemy`` -> ``flask_sqlalchemy``,
and ``flask_registry``'s model registry -> ``appfactory.core.discover_modules``
(docs/guide/migrating.rst lists each). They run in a subprocess whose path puts
them before the installed example of the same names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FILES = {
    "myapp/__init__.py": "",
    "myapp/app.py": """
        from appfactory.core import appfactory

        def create_app(load=True, **kwargs_config):
            return appfactory(
                "myapp",
                "myapp.config",
                load=load,
                **kwargs_config
            )
    """,
    "myapp/celery.py": """
        from appfactory.celery import celeryfactory
        from .app import create_app

        celery = celeryfactory(create_app())
    """,
    "myapp/cli.py": """
        from __future__ import absolute_import
        from appfactory.core import clifactory
        from .app import create_app

        cli = clifactory(create_app)
    """,
    "myapp/config.py": """
        EXTENSIONS = [
            "flask_appfactory.ext.jinja2",
            "flask_celeryext:FlaskCeleryExt",
            "myexts.sqlalchemy",
        ]

        PACKAGES = [
            "mymodule",
        ]

        BROKER_URL = "redis://localhost:6379/0"
    """,
    "myapp/wsgi.py": """
        from __future__ import absolute_import
        from .app import create_app

        application = create_app()
    """,
    "myexts/__init__.py": "",
    "myexts/sqlalchemy.py": """
        import click
        from flask.cli import with_appcontext
        from flask_sqlalchemy import SQLAlchemy
        from appfactory.core import discover_modules

        db = SQLAlchemy()

        def setup_app(app):
            app.config.setdefault(
                'SQLALCHEMY_DATABASE_URI',
                'sqlite:////tmp/test.db'
            )
            app.cli.add_command(initdb)
            db.init_app(app)
            discover_modules(app, 'models')

        @click.command()
        @with_appcontext
        def initdb():
            \"\"\"Initialize database.\"\"\"
            db.create_all()
    """,
    "mymodule/__init__.py": "",
    "mymodule/cli.py": """
        import click
        from flask import current_app
        from flask.cli import with_appcontext

        @click.command()
        def testsimple():
            \"\"\"Command without application context.\"\"\"
            click.echo("Test")

        @click.command()
        @with_appcontext
        def testapp():
            \"\"\"Command with application context.\"\"\"
            click.echo(current_app.name)

        commands = [testsimple, testapp]
    """,
    "mymodule/config.py": 'MYMODULE_GREETING = "Hello, World!"\n',
    "mymodule/models.py": """
        from myexts.sqlalchemy import db

        class User(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            username = db.Column(db.String(80), unique=True)
            email = db.Column(db.String(120), unique=True)
    """,
    "mymodule/tasks.py": """
        from celery import shared_task
        from flask import current_app, request
        from flask_celeryext import RequestContextTask

        @shared_task
        def appctx():
            current_app.logger.info(current_app.config['BROKER_URL'])

        @shared_task(base=RequestContextTask)
        def reqctx():
            current_app.logger.info(request.method)
    """,
    "mymodule/views.py": """
        from flask import Blueprint, current_app, render_template

        blueprint = Blueprint(
            'mymodule',
            __name__,
            template_folder='templates',
        )

        @blueprint.route("/")
        def index():
            return render_template(
                'mymodule.html',
                greeting=current_app.config['MYMODULE_GREETING'],
            )
    """,
    "mymodule/templates/mymodule.html": '{% extends "mymodule_base.html" %}\n',
    "mymodule/templates/mymodule_base.html": "{% block body %}{{greeting}}{% endblock %}\n",
}

#: What the tutorial's readers did with the app, from Python.
DRIVER = """
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from myapp.wsgi import application
print("deprecated:", [str(w.message) for w in caught if w.category is DeprecationWarning])
response = application.test_client().get("/")
print("page:", response.status_code, response.get_data(as_text=True).strip())

from myapp.celery import celery
print("flask_app:", celery.flask_app.name)
print("ext:", celery.flask_app.extensions["flask-celeryext"].celery is celery)
print("tasks:", sorted(name for name in celery.tasks if name.startswith("mymodule.")))
from mymodule.tasks import appctx, reqctx
with celery.flask_app.app_context():
    print("appctx:", appctx.apply().state, "reqctx:", reqctx.apply().state)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    for relative, source in FILES.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    (folder / "driver.py").write_text(DRIVER, encoding="utf-8")
    return folder


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Python in ``project`` with the tutorial's packages first on the path."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_", "FLASK_"))}
    env = {
        **base,
        "PYTHONPATH": str(project),
        "MYAPP_INSTANCE_PATH": str(project.parent / "instance"),
        "MYAPP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{project.parent / 'test.db'}",
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(project, "-c", "from myapp.cli import cli; cli()", *args)


def test_the_commands_of_the_tutorial(project: Path) -> None:
    assert cli(project, "testsimple").stdout == "Test\n"
    assert cli(project, "testapp").stdout == "myapp\n"
    initdb = cli(project, "initdb")
    assert initdb.returncode == 0, initdb.stderr
    assert (project.parent / "test.db").is_file()
    listed = cli(project, "--help")
    assert listed.returncode == 0, listed.stderr
    for name in ("run", "shell", "testsimple", "testapp"):
        assert f"  {name} " in listed.stdout


def test_the_page_and_the_tasks_of_the_tutorial(project: Path) -> None:
    result = run(project, "driver.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "deprecated: [\"EXTENSIONS entry 'flask_appfactory.ext.jinja2' does nothing in "
        "appfactory: templates are looked up in PACKAGES order and JINJA2_EXTENSIONS are "
        "added without it. Remove it from EXTENSIONS; it will be refused in "
        'appfactory-core 0.3."]',
        "page: 200 Hello, World!",
        "flask_app: myapp",
        "ext: True",
        "tasks: ['mymodule.tasks.appctx', 'mymodule.tasks.reqctx']",
        "appctx: SUCCESS reqctx: SUCCESS",
    ]


class conf:
    SOMEVAR = True


def test_a_configuration_object_and_its_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Flask-AppFactory's own test shapes: a class as the configuration, keyword
    arguments over it, the environment over both (its MYAPP_APP_CONFIG_ENVS)."""
    from appfactory.core import appfactory

    monkeypatch.setenv("DUMMYAPP_INSTANCE_PATH", str(tmp_path / "dummy-instance"))

    app = appfactory("dummyapp", conf)
    assert app.name == "dummyapp"
    assert app.config["SOMEVAR"]
    with app.test_client() as client:
        assert client.get("/").status_code == 404
    assert appfactory("dummyapp", conf, SOMEVAR=False).config["SOMEVAR"] is False

    monkeypatch.setenv("MYAPP_APP_CONFIG_ENVS", "SOMEVAR, SOMEVAR1")
    monkeypatch.setenv("SOMEVAR", "False")
    monkeypatch.setenv("SOMEVAR1", '"V1"')
    monkeypatch.setenv("SOMEVAR2", '"V2"')
    app = appfactory("myapp", conf, SOMEVAR=True)
    assert app.config["SOMEVAR"] is False
    assert app.config["SOMEVAR1"] == "V1"
    assert "SOMEVAR2" not in app.config
