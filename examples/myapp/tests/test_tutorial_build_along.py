"""The tutorial, built along: its files from docs/tutorial, installed, run.

Every file a reader creates is a ``code-block`` with a ``:caption:`` naming
its path in the reader's project folder; a later block with the same caption
replaces the file. The test writes the files into an empty folder, installs
them (not editable) with the framework of this checkout into a fresh
virtualenv, and runs what the tutorial runs: the commands, the page with its
template and stylesheet, and both tasks through a real worker on the
embedded broker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[3]
TUTORIAL = CHECKOUT / "docs" / "tutorial"
PAGES = [
    "step1-package.rst",
    "step2-extensions.rst",
    "step3-application.rst",
    "step4-celery.rst",
]
FRAMEWORK = [
    CHECKOUT / "packages" / "appfactory-core",
    CHECKOUT / "packages" / "appfactory-celery",
    CHECKOUT / "packages" / "appfactory-sqlalchemy",
]
#: Where the reader's files live in the repository (the reference code).
REFERENCE = {"mymodule/": "packages/mymodule/", "myapp/": "examples/myapp/"}

_DIRECTIVE = re.compile(r"^\.\. code-block:: *(\S+)\s*$")
_OPTION = re.compile(r"^   :(\w[\w-]*):(.*)$")


def captioned_blocks(text: str) -> list[tuple[str, str]]:
    """``(caption, content)`` of every captioned code block of an reST page, in order."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if not _DIRECTIVE.match(lines[index]):
            index += 1
            continue
        index += 1
        options = {}
        while index < len(lines) and (match := _OPTION.match(lines[index])):
            options[match.group(1)] = match.group(2).strip()
            index += 1
        body = []
        while index < len(lines) and (not lines[index] or lines[index].startswith("   ")):
            body.append(lines[index][3:])
            index += 1
        while body and not body[0]:
            body.pop(0)
        while body and not body[-1]:
            body.pop()
        if "caption" in options:
            found.append((options["caption"], "\n".join(body) + "\n"))
    return found


def tutorial_files(pages: list[str] = PAGES) -> dict[str, str]:
    """The reader's files once the ``pages`` are done: ``{path: content}``."""
    files: dict[str, str] = {}
    for page in pages:
        for caption, content in captioned_blocks((TUTORIAL / page).read_text(encoding="utf-8")):
            files[caption] = content
    return files


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    if not all((TUTORIAL / page).is_file() for page in PAGES):
        pytest.skip(f"the tutorial's pages are not in {TUTORIAL} (tests run outside the checkout)")
    return tutorial_files()


def test_the_parser_reads_captions_options_and_bodies() -> None:
    page = (
        "Text\n\n.. code-block:: python\n   :caption: a/b.py\n   :linenos:\n\n"
        "   x = 1\n\n   def f():\n       return x\n\nMore text\n\n"
        ".. code-block:: console\n\n   $ run\n"
    )
    assert captioned_blocks(page) == [("a/b.py", "x = 1\n\ndef f():\n    return x\n")]


def test_every_file_is_in_the_project_folder(files: dict[str, str]) -> None:
    for path in files:
        assert not path.startswith(("/", "..")), path
        assert path.startswith(("mymodule/", "myapp/")), path
    for package in ("mymodule/src/mymodule", "mymodule/src/mymodule/migrations", "myapp/src/myapp"):
        assert f"{package}/__init__.py" in files


def test_the_code_is_the_repositorys(files: dict[str, str]) -> None:
    """The reader's modules, templates and stylesheet, as the tutorial leaves them, are
    the repository's reference code (pyproject.toml differs: no README, no license)."""
    for path, content in files.items():
        if path.endswith("pyproject.toml"):
            continue
        prefix = next(p for p in REFERENCE if path.startswith(p))
        reference = CHECKOUT / (REFERENCE[prefix] + path.removeprefix(prefix))
        assert reference.is_file(), f"{path} has no reference file {reference}"
        assert content == reference.read_text(encoding="utf-8"), f"{path} differs from {reference}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Reader:
    """Runs commands the way the reader does: in the project folder, the venv active."""

    def __init__(self, folder: Path, venv: Path, instance: Path) -> None:
        self.folder = folder
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_", "FLASK_"))}
        base.pop("PYTHONPATH", None)
        self.env = {
            **base,
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(venv),
            "MYAPP_INSTANCE_PATH": str(instance),
        }

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args),
            cwd=self.folder,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            list(args),
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def stop(process: subprocess.Popen[str]) -> str:
    """Stop a process this test started (by its id); returns what it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.stdout.read() if process.stdout else ""


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get_content_type(), response.read().decode()


def wait_for_page(url: str, process: subprocess.Popen[str]) -> tuple[int, str, str]:
    deadline = time.monotonic() + 60
    while True:
        try:
            return get(url)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered:\n{stop(process)}") from None
            time.sleep(0.2)


def test_the_tutorial_builds_and_runs(files: dict[str, str], tmp_path: Path) -> None:
    if not all((folder / "pyproject.toml").is_file() for folder in FRAMEWORK):
        pytest.skip(f"the framework's sources are not in {CHECKOUT}")
    project = tmp_path / "tutorial"
    for path, content in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(content, encoding="utf-8")
    venv = project / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    reader = Reader(project, venv, tmp_path / "instance")
    # The introduction's install (from this checkout), then step 4's.
    reader.run("pip", "install", "--quiet", *map(str, FRAMEWORK))
    reader.run("pip", "install", "--quiet", "./mymodule", "./myapp")
    installed = reader.run("pip", "show", "--files", "mymodule").stdout
    assert "Version: 0.1.0" in installed
    assert "mymodule/templates/mymodule.html" in installed
    assert "mymodule/static/mymodule.css" in installed
    assert "mymodule/migrations/a41fbe067287_create_greetings.py" in installed

    # Step 3: the commands.
    listed = reader.run("myapp", "--help").stdout
    for command in ("check", "config", "packages", "routes", "run", "shell", "testapp"):
        assert f"  {command} " in listed
    assert reader.run("myapp", "testsimple").stdout == "Test\n"
    assert reader.run("myapp", "testapp").stdout == "myapp\n"
    checked = reader.run("myapp", "check").stdout
    assert "0 error" in checked
    assert "AF402 migrations-not-applied" in checked
    # Step 2: db upgrade runs mymodule's migration and makes the SQLite file (check
    # did not), private.
    database = tmp_path / "instance" / "myapp.sqlite3"
    assert not database.exists()
    upgraded = reader.run("myapp", "db", "upgrade").stdout
    assert upgraded == "Applied 1 revision(s).\nmymodule: a41fbe067287\n"
    assert database.stat().st_mode & 0o777 == 0o600
    checked = reader.run("myapp", "check").stdout
    for culprit in ("AF401", "AF402"):
        assert culprit not in checked, checked
    shell = reader.run(
        "myapp",
        "shell",
        stdin="from appfactory.sqlalchemy import db\n"
        "from mymodule.models import Greeting\n"
        'db.session.add(Greeting(text="Hello"))\n'
        "db.session.commit()\n"
        "db.session.scalars(db.select(Greeting.text)).all()\n",
    )
    assert "['Hello']" in shell.stdout, shell.stdout + shell.stderr

    # Step 3: the page, its template and its stylesheet, from a real server.
    port = free_port()
    server = reader.start("myapp", "run", "--port", str(port))
    try:
        status, kind, page = wait_for_page(f"http://127.0.0.1:{port}/", server)
        assert (status, kind) == (200, "text/html")
        assert "<title>mymodule</title>" in page
        assert "<h1>Hello, World!</h1>" in page
        assert '<link rel="stylesheet" href="/mymodule/static/mymodule.css">' in page
        status, kind, css = get(f"http://127.0.0.1:{port}/mymodule/static/mymodule.css")
        assert (status, kind) == (200, "text/css")
        assert "font-family" in css
        # Step 2: the greetings pages, on the table that the migration created.
        form = urllib.parse.urlencode({"text": "Hi"}).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/greetings", form) as response:
            assert response.status == 201
        status, kind, listed = get(f"http://127.0.0.1:{port}/greetings")
        assert (status, kind) == (200, "application/json")
        assert json.loads(listed) == {"greetings": ["Hello", "Hi"]}
    finally:
        stop(server)

    # Step 4: a worker on the embedded broker, and both tasks sent from the shell.
    worker = reader.start("celery", "-A", "myapp.celery", "worker", "--loglevel=info")
    try:
        shell = reader.run(
            "myapp",
            "shell",
            # The tutorial's lines, with a longer wait: the worker may still be starting.
            stdin="from mymodule.tasks import appctx, reqctx\n"
            "appctx.delay().get(timeout=60)\n"
            "reqctx.delay().get(timeout=60)\n"
            "from mymodule.tasks import leave_greeting\n"
            "leave_greeting.delay('Hello from a task').get(timeout=60)\n",
        )
    finally:
        log = stop(worker)
    answers = [line.replace(">>> ", "") for line in shell.stdout.splitlines()]
    assert answers[:3] == ["'myapp'", "'GET'", "3"], shell.stdout + shell.stderr
    assert "Celery: tasks go to the embedded broker in " in shell.stderr
    assert "mymodule.tasks.appctx" in log
    assert "succeeded" in log, log
    # The task's greeting is committed; read_greeting was sent after the commit.
    assert "mymodule.tasks.leave_greeting" in log, log
