"""``migapp --help`` and the web app's start do not import Alembic; the ``db``
commands do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DBAPPS, PACKAGES, SECRET_KEY

SCRIPT = """
import json, sys
from appfactory.core import appfactory, clifactory

def create_app(load=True, **config):
    return appfactory("migapp", None, load=load, EXTENSIONS=["appfactory.sqlalchemy"],
                      PACKAGES={packages!r}, SQLALCHEMY_DATABASE_URI={url!r},
                      SECRET_KEY={secret!r}, **config)

mode = sys.argv[1]
if mode == "web":
    app = create_app()
    app.test_client().get("/")
else:
    try:
        clifactory(create_app).main(sys.argv[2:], standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in
                 ("alembic", "mako", "flask_sqlalchemy"))))
"""


def loaded(tmp_path: Path, *args: str) -> list[str]:
    script = SCRIPT.format(
        packages=PACKAGES, url=f"sqlite:///{tmp_path / 'db.sqlite3'}", secret=SECRET_KEY
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DBAPPS), *sys.path])}
    env["MIGAPP_INSTANCE_PATH"] = str(tmp_path / "instance")
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


@pytest.mark.parametrize("args", [["web"], ["cli", "--help"], ["cli", "db", "--help"]])
def test_no_alembic_without_a_migration_command(tmp_path: Path, args: list[str]) -> None:
    modules = loaded(tmp_path, *args)

    assert not [name for name in modules if name.startswith(("alembic", "mako"))]


def test_web_start_has_the_db(tmp_path: Path) -> None:
    assert "flask_sqlalchemy" in loaded(tmp_path, "web")


def test_db_commands_import_alembic(tmp_path: Path) -> None:
    assert "alembic" in loaded(tmp_path, "cli", "db", "current")
