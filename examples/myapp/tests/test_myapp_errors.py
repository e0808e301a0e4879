"""Mistakes made with the real ``myapp`` command, run as a process.

Each row: the command exits 1, its standard error holds one ``Error:`` line
that names the culprit and the fix (and, when the message does not quote it,
one ``caused by`` line), no stack; the instance folder holds nothing new; and
no planted password is printed. The full table of mistakes is in the
packages' ``test_bad_input.py`` and ``test_celery_bad_input.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PLANTED = "planted-myapp-password"
HINT = "  (run with --traceback to see the full stack)"


def myapp(
    *args: str, env: dict[str, str], instance: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``myapp`` with only ``env`` among the MYAPP_/FLASK_ variables."""
    script = Path(sys.executable).parent / "myapp"
    assert script.is_file(), f"{script} is missing: install examples/myapp in this virtualenv."
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_", "FLASK_"))}
    return subprocess.run(
        [str(script), *args],
        env={**base, "MYAPP_INSTANCE_PATH": str(instance), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@dataclass(frozen=True)
class Mistake:
    id: str
    args: tuple[str, ...]
    #: The ``Error:`` line, from its start; ``{instance}`` is the instance folder.
    error: str
    #: Text of the same line that says how to fix it.
    fix: str
    env: dict[str, str] = field(default_factory=dict)
    instance_file: str | None = None
    #: The start of the ``caused by`` line, when the message does not quote the cause.
    caused_by: str | None = None
    #: Whether the app was loaded (it then makes its embedded broker folders).
    loads: bool = False
    #: Whether the instance folder is read-only (no key file can be kept there).
    read_only_instance: bool = False


MISTAKES = [
    Mistake(
        "package-not-installed",
        ("check",),
        "Error: Package 'mymodul' in PACKAGES is not installed or not importable. "
        "Did you mean 'mymodule'?",
        "Install it (pip install ...) or remove it from PACKAGES.",
        env={"MYAPP_PACKAGES": "['mymodul']"},
        caused_by="  caused by ModuleNotFoundError: No module named 'mymodul'",
    ),
    Mistake(
        "variable-malformed-for-a-bool",
        ("config", "show", "DEBUG"),
        "Error: Environment variable MYAPP_DEBUG='maybe' is not a valid bool",
        "Set it to true/false, yes/no, on/off or 1/0, or unset MYAPP_DEBUG.",
        env={"MYAPP_DEBUG": "maybe"},
    ),
    Mistake(
        "instance-file-syntax-error",
        ("--help",),
        "Error: Instance file {instance}/myapp.cfg, line 2: syntax error: ",
        "Fix that line; the file holds Python assignments such as SECRET_KEY = '...'.",
        instance_file="SECRET_KEY = 'x'\nCELERY_BROKER_URL = 'redis://127.0.0.1:6379/0\n",
        caused_by="  caused by SyntaxError: unterminated string literal",
    ),
    Mistake(
        "extension-not-installed",
        ("routes",),
        "Error: Extension 'appfactory.sqlalchmy' in EXTENSIONS cannot be imported: module "
        "'appfactory.sqlalchmy' is not installed.",
        "Install it or remove it from EXTENSIONS.",
        env={"MYAPP_EXTENSIONS": "['appfactory.sqlalchmy', 'appfactory.celery']"},
        caused_by="  caused by ModuleNotFoundError: No module named 'appfactory.sqlalchmy'",
    ),
    Mistake(
        "broker-url-with-unknown-scheme",
        ("check",),
        "Error: Extension 'appfactory.celery' in EXTENSIONS failed while setting up the app: "
        "ConfigError: CELERY_BROKER_URL = 'reddis://:********@127.0.0.1:6379/0' has the "
        "unknown scheme 'reddis'.",
        "or leave it unset for the embedded broker. Fix the extension or its settings.",
        env={"MYAPP_CELERY_BROKER_URL": f"reddis://:{PLANTED}@127.0.0.1:6379/0"},
    ),
    Mistake(
        "database-url-unknown-dialect",
        ("db", "upgrade"),
        "Error: Extension 'appfactory.sqlalchemy' in EXTENSIONS failed while setting up the app: "
        "ConfigError: SQLALCHEMY_DATABASE_URI 'postgress://u:********@127.0.0.1/x' is not a "
        "database URL SQLAlchemy can use: set it to, for example, "
        "postgresql+psycopg://user@host/name.",
        "Fix the extension or its settings.",
        env={"MYAPP_SQLALCHEMY_DATABASE_URI": f"postgress://u:{PLANTED}@127.0.0.1/x"},
        loads=True,
    ),
    Mistake(
        "database-driver-not-installed",
        ("db", "upgrade"),
        "Error: Extension 'appfactory.sqlalchemy' in EXTENSIONS failed while setting up the app: "
        "ConfigError: SQLALCHEMY_DATABASE_URI 'mysql://u:********@127.0.0.1/x' needs the "
        "module 'MySQLdb': install the database's driver",
        "Fix the extension or its settings.",
        env={"MYAPP_SQLALCHEMY_DATABASE_URI": f"mysql://u:{PLANTED}@127.0.0.1/x"},
        loads=True,
    ),
    Mistake(
        "db-upgrade-database-server-down",
        ("db", "upgrade"),
        "Error: Cannot reach the database 'postgresql+psycopg://u:********@127.0.0.1:1/x' "
        "(OperationalError: (psycopg.OperationalError) connection failed: ",
        "Check SQLALCHEMY_DATABASE_URI and that the database (or its folder) exists.",
        env={"MYAPP_SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://u:{PLANTED}@127.0.0.1:1/x"},
        loads=True,
    ),
    Mistake(
        "db-upgrade-sqlite-folder-missing",
        ("db", "upgrade"),
        "Error: Cannot reach the database 'sqlite:///{instance}/no/such/folder/x.sqlite3' "
        "(FileNotFoundError: [Errno 2] No such file or directory: "
        "'{instance}/no/such/folder/x.sqlite3').",
        "Check SQLALCHEMY_DATABASE_URI and that the database (or its folder) exists.",
        env={"MYAPP_SQLALCHEMY_DATABASE_URI": "sqlite:///no/such/folder/x.sqlite3"},
        loads=True,
    ),
    Mistake(
        "broker-password-with-raw-characters",
        ("config", "show"),
        "Error: Extension 'appfactory.celery' in EXTENSIONS failed while setting up the app: "
        "ConfigError: CELERY_BROKER_URL = 'redis://:********@127.0.0.1:6379/0' has a password "
        "with a raw '#' and '/'",
        "('/' is %2F, '?' is %3F, '#' is %23). Fix the extension or its settings.",
        env={"MYAPP_CELERY_BROKER_URL": f"redis://:{PLANTED}/a#b@127.0.0.1:6379/0"},
    ),
    Mistake(
        "flask-celery-dict-with-a-misspelt-name",
        ("check",),
        "Error: Extension 'appfactory.celery' in EXTENSIONS failed while setting up the app: "
        "ConfigError: CELERY['broker_ulr'] (instance file ({instance}/myapp.cfg)) is not a "
        "Celery setting. Did you mean 'broker_url'?",
        "or the CELERY_* settings (CELERY_BROKER_URL). Fix the extension or its settings.",
        instance_file=f"SECRET_KEY = 'x' * 32\nCELERY = {{'broker_ulr': 'redis://:{PLANTED}@h/0'}}\n",
    ),
    Mistake(
        "run-without-a-secret-key-or-a-writable-instance-folder",
        ("run", "--port", "0"),
        "Error: SECRET_KEY is not set for 'myapp', and the app refuses to serve without one. "
        "No key could be kept in {instance}/secret-key either (OSError: Read-only file system).",
        'Generate one with: python -c "import secrets; print(secrets.token_hex(32))"',
        env={
            "MYAPP_CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
            "MYAPP_CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/15",
        },
        read_only_instance=True,
    ),
]


@pytest.fixture
def mistake(request: pytest.FixtureRequest, instance_path: Path) -> Mistake:
    case: Mistake = request.param
    if case.read_only_instance:
        request.getfixturevalue("read_only_folder")
    if case.instance_file is not None:
        instance_path.mkdir(parents=True)
        (instance_path / "myapp.cfg").write_text(case.instance_file)
    return case


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES], indirect=True)
def test_myapp_says_what_is_wrong_in_one_line(
    mistake: Mistake, instance_path: Path, tmp_path: Path
) -> None:
    if mistake.read_only_instance:
        instance_path = tmp_path / "read-only"
    before = listing(instance_path)

    result = myapp(*mistake.args, env=mistake.env, instance=instance_path, cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Warning:")]
    assert lines[-1] == HINT, result.stderr
    if mistake.caused_by is None:
        assert len(lines) == 2, result.stderr
    else:
        assert len(lines) == 3, result.stderr
        assert lines[1].startswith(mistake.caused_by), result.stderr
    assert lines[0].startswith(mistake.error.format(instance=instance_path)), lines[0]
    assert lines[0].endswith(mistake.fix), lines[0]
    assert "Traceback" not in result.stderr
    assert PLANTED not in result.stdout + result.stderr
    if not mistake.loads:
        assert listing(instance_path) == before, "the instance folder has new files"


def test_traceback_option_shows_the_stack(instance_path: Path, tmp_path: Path) -> None:
    env = {"MYAPP_PACKAGES": "['mymodul']"}

    result = myapp("--traceback", "check", env=env, instance=instance_path, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "ModuleNotFoundError: No module named 'mymodul'" in result.stderr
    assert "The above exception was the direct cause of the following exception:" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "appfactory.core.errors.PackageNotFoundError: Package 'mymodul' in PACKAGES is not "
        "installed or not importable. Did you mean 'mymodule'? Install it (pip install ...) or "
        "remove it from PACKAGES."
    )


def test_variable_that_looks_like_a_typo_is_one_warning_line(
    instance_path: Path, tmp_path: Path
) -> None:
    env = {"MYAPP_MYMODULE_GREETNG": "Ciao"}

    result = myapp(
        "config", "show", "MYMODULE_GREETING", env=env, instance=instance_path, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MYMODULE_GREETING = 'Hello, World!'\n")
    assert result.stderr.splitlines() == [
        "Warning: Environment variable MYAPP_MYMODULE_GREETNG sets MYMODULE_GREETNG, which no "
        "package, extension, Flask or the app's configuration defines; did you mean "
        "MYAPP_MYMODULE_GREETING? Rename the variable, or give MYMODULE_GREETNG a default in "
        "the app's configuration if it is a setting of the app's own."
    ]


def test_no_warning_without_typos(instance_path: Path, tmp_path: Path) -> None:
    env: dict[str, t.Any] = {"MYAPP_MYMODULE_GREETING": "Ciao", "MYAPP_SECRET_KEY": "x"}

    result = myapp(
        "config", "show", "MYMODULE_GREETING", env=env, instance=instance_path, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
