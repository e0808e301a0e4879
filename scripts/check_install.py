"""Check an installed example app end to end, from outside the source tree.

Given the ``bin`` folder of a virtualenv where appfactory-core,
appfactory-celery, mymodule and myapp are installed, run the commands a user
would run (``myapp --help``, ``myapp testapp``, ``myapp run``, a Celery worker
and ``myapp shell``, ...) from an empty temporary folder, with a
fresh instance folder and none of the caller's ``MYAPP_*`` variables, and fail
with a clear message at the first thing that does not work::

    python scripts/check_install.py --bin .venv/bin --source site-packages

``--source`` says where the modules must be imported from: ``site-packages``
for a normal install, ``checkout`` for an editable one. Standard library only,
so it runs with any Python 3.11.

New checks are functions ``check_<name>(env)`` added to :data:`CHECKS`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: Commands that ``myapp --help`` must list.
HELP_COMMANDS = ("run", "shell", "routes", "config", "packages", "check", "testsimple", "testapp")
#: Modules whose location tells which copy is installed.
MODULES = ("appfactory.core", "appfactory.celery", "appfactory.sqlalchemy", "mymodule", "myapp")
#: Seconds a one-shot command may take, and a server to answer its first request.
COMMAND_TIMEOUT = 120
SERVER_TIMEOUT = 60


class CheckFailed(Exception):
    """A check did not pass; the message says what and shows the output."""


class Env:
    """The installation under test: its bin folder, a working folder and variables."""

    def __init__(self, bin_dir: Path, source: str, checkout: Path, workdir: Path) -> None:
        self.bin_dir = bin_dir
        self.source = source
        self.checkout = checkout
        self.workdir = workdir
        self.instance = workdir / "instance"
        #: The SQLite database that ``myapp db upgrade`` creates by default.
        self.database = self.instance / "myapp.sqlite3"
        self.variables = clean_environment(bin_dir, self.instance)

    def command(self, name: str) -> str:
        """The path of an installed executable, checked to exist."""
        path = self.bin_dir / name
        if not path.is_file():
            raise CheckFailed(f"{path} does not exist: is {name!r} installed in {self.bin_dir}?")
        return str(path)

    def run(
        self,
        args: t.Sequence[str],
        *,
        expect_success: bool = True,
        extra_env: t.Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT,
        shown: str | None = None,
        stdin_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run an installed command from the working folder and show its output.

        ``shown`` is how the command is printed (default: the command line).
        """
        argv = [self.command(args[0]), *args[1:]]
        shown = shown or shlex.join(args)
        print(f"$ {shown}", flush=True)
        try:
            result = subprocess.run(
                argv,
                cwd=self.workdir,
                env={**self.variables, **(extra_env or {})},
                input=stdin_text,
                stdin=None if stdin_text is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CheckFailed(f"`{shown}` did not finish within {timeout} s.") from exc
        output = (result.stdout + result.stderr).rstrip()
        if output:
            print(indent(output), flush=True)
        if expect_success and result.returncode != 0:
            raise CheckFailed(f"`{shown}` exited with status {result.returncode}.")
        if not expect_success and result.returncode == 0:
            raise CheckFailed(f"`{shown}` exited with status 0, but it must fail.")
        return result


def clean_environment(bin_dir: Path, instance: Path) -> dict[str, str]:
    """The caller's environment without the app's variables or a source path."""
    dropped_prefixes = ("MYAPP_", "FLASK_", "PYTHON")
    variables = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(dropped_prefixes) and name != "VIRTUAL_ENV"
    }
    variables["PATH"] = os.pathsep.join([str(bin_dir), variables.get("PATH", "")])
    variables["MYAPP_INSTANCE_PATH"] = str(instance)
    return variables


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def expect_in(needle: str, result: subprocess.CompletedProcess[str], command: str) -> None:
    if needle not in result.stdout + result.stderr:
        raise CheckFailed(f"`{command}` does not mention {needle!r}.")


# The checks, in the order a user would try them.


def check_locations(env: Env) -> None:
    """The modules come from the expected copy, and ``appfactory`` is a namespace."""
    script = (
        "import importlib, json, appfactory\n"
        f"files = {{m: importlib.import_module(m).__file__ for m in {MODULES!r}}}\n"
        "files['appfactory'] = getattr(appfactory, '__file__', None)\n"
        "print(json.dumps(files))"
    )
    result = env.run(["python", "-c", script], shown="python -c '<print where the modules are>'")
    files: dict[str, str | None] = json.loads(result.stdout.strip().splitlines()[-1])
    if files.pop("appfactory") is not None:
        raise CheckFailed(
            "appfactory must be a PEP 420 namespace package without __init__.py, "
            "but an appfactory/__init__.py was imported."
        )
    prefix = env.bin_dir.parent.resolve()
    for module, file in files.items():
        if file is None:
            raise CheckFailed(f"{module} has no __file__: it was not imported from a folder.")
        path = Path(file).resolve()
        if env.source == "site-packages":
            ok = path.is_relative_to(prefix) and "site-packages" in path.parts
            where = f"the site-packages of {prefix}"
        else:
            ok = path.is_relative_to(env.checkout)
            where = f"the checkout {env.checkout}"
        if not ok:
            raise CheckFailed(f"{module} was imported from {path}, not from {where}.")


def check_help(env: Env) -> None:
    result = env.run(["myapp", "--help"])
    missing = [name for name in HELP_COMMANDS if f"  {name} " not in result.stdout]
    if missing:
        raise CheckFailed(f"`myapp --help` does not list the commands {missing}.")


def check_package_commands(env: Env) -> None:
    result = env.run(["myapp", "testsimple"])
    if result.stdout.strip() != "Test":
        raise CheckFailed(f"`myapp testsimple` printed {result.stdout!r}, expected 'Test'.")
    result = env.run(["myapp", "testapp"])
    if result.stdout.strip() != "myapp":
        raise CheckFailed(f"`myapp testapp` printed {result.stdout!r}, expected 'myapp'.")


def check_management(env: Env) -> None:
    show = ["myapp", "config", "show", "MYMODULE_GREETING"]
    expect_in("mymodule.config", env.run(show), shlex.join(show))
    expect_in("mymodule", env.run(["myapp", "packages"]), "myapp packages")
    env.run(["myapp", "check"])
    if env.database.exists():
        raise CheckFailed(f"`myapp check` created the database {env.database}.")


def check_db_upgrade(env: Env) -> None:
    """``myapp db upgrade`` runs mymodule's migration (shipped in its wheel) on a SQLite
    file of the instance folder (0o600); then ``myapp check`` reports nothing pending."""
    result = env.run(["myapp", "db", "upgrade"])
    lines = result.stdout.strip().splitlines()
    if (
        len(lines) != 2
        or lines[0] != "Applied 1 revision(s)."
        or not lines[1].startswith("mymodule: ")
    ):
        raise CheckFailed(
            f"`myapp db upgrade` printed {result.stdout!r}, expected 'Applied 1 revision(s).' "
            "and mymodule's head."
        )
    mode = env.database.stat().st_mode & 0o777 if env.database.is_file() else None
    if mode != 0o600:
        raise CheckFailed(f"{env.database} has mode {mode and oct(mode)}, not 0o600.")
    print(indent(f"{env.database}: mode 0o600, {lines[1]}"), flush=True)
    check = env.run(["myapp", "check"])
    for culprit in ("AF401", "AF402"):
        if culprit in check.stdout:
            raise CheckFailed(
                f"`myapp check` after `myapp db upgrade` reports {culprit}:\n{check.stdout}"
            )


def check_wsgi(env: Env) -> None:
    script = (
        "from myapp.wsgi import application\n"
        "import flask\n"
        "assert isinstance(application, flask.Flask), type(application)\n"
        "print(application.name)"
    )
    shown = 'python -c "from myapp.wsgi import application"'
    result = env.run(["python", "-c", script], shown=shown)
    if result.stdout.strip() != "myapp":
        raise CheckFailed(f"myapp.wsgi.application is named {result.stdout!r}, not 'myapp'.")


def check_server(env: Env) -> None:
    """A real ``myapp run`` answers GET / and serves mymodule's static file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["myapp", "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"]
    print(f"$ {shlex.join(args)}", flush=True)
    log_path = env.workdir / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [env.command("myapp"), *args[1:]],
            cwd=env.workdir,
            env=env.variables,  # no key set: the app keeps one in its instance folder
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        page = wait_for_page(f"{base}/", server, log_path)
        if "Hello, World!" not in page:
            raise CheckFailed(f"GET {base}/ did not say 'Hello, World!':\n{indent(page)}")
        print(indent("GET / -> the page says 'Hello, World!'"), flush=True)
        css = fetch(f"{base}/mymodule/static/mymodule.css")
        if "font-family" not in css:
            raise CheckFailed(f"GET {base}/mymodule/static/mymodule.css returned {css!r}.")
        print(indent("GET /mymodule/static/mymodule.css -> mymodule's stylesheet"), flush=True)
        form = urllib.parse.urlencode({"text": "Hello from the web"}).encode()
        with urllib.request.urlopen(f"{base}/greetings", form, timeout=10) as response:
            if response.status != 201:
                raise CheckFailed(f"POST {base}/greetings answered {response.status}, not 201.")
        listed = json.loads(fetch(f"{base}/greetings"))
        if listed != {"greetings": ["Hello from the web"]}:
            raise CheckFailed(f"GET {base}/greetings returned {listed!r}.")
        print(indent("POST /greetings, GET /greetings -> the greeting, from the database"))
    finally:
        stop(server)
    print(indent(log_path.read_text().rstrip()), flush=True)


def check_secret_key_file(env: Env) -> None:
    """With no key set, the app keeps one in ``<instance>/secret-key`` (0o600), never shown."""
    key_file = env.instance / "secret-key"
    if not key_file.is_file():
        raise CheckFailed(f"{key_file} is missing after `myapp run` served a page.")
    mode = key_file.stat().st_mode & 0o777
    if mode != 0o600:
        raise CheckFailed(f"{key_file} has mode {mode:#o}, not 0o600.")
    result = env.run(["myapp", "config", "show", "SECRET_KEY", "--history"])
    expect_in(str(key_file), result, "myapp config show SECRET_KEY --history")
    if key_file.read_text().strip() in result.stdout + result.stderr:
        raise CheckFailed("`myapp config show SECRET_KEY --history` printed the key.")
    print(indent(f"{key_file}: mode 0o600, named by config show, never printed"), flush=True)


#: What the tutorial types into ``myapp shell`` while a worker runs.
SHELL_INPUT = """\
from mymodule.tasks import appctx, leave_greeting, reqctx
print("appctx ->", appctx.delay().get(timeout=10))
print("reqctx ->", reqctx.delay().get(timeout=10))
print("leave_greeting ->", leave_greeting.delay("Hello from a task").get(timeout=10))
"""


def check_redis_transport(env: Env) -> None:
    """The Redis transport imports: the example's ``appfactory-celery[redis]`` brought it all."""
    code = "import kombu.transport.redis, redis; print('redis transport', redis.__version__)"
    result = env.run(["python", "-c", code], shown="python -c 'import kombu.transport.redis'")
    expect_in("redis transport", result, "python -c 'import kombu.transport.redis'")


def check_celery_tasks(env: Env) -> None:
    """A worker on the embedded broker runs the tasks sent from ``myapp shell``: appctx,
    reqctx, and leave_greeting, whose read_greeting is sent once its row is committed."""
    args = ["celery", "-A", "myapp.celery", "worker", "--loglevel=info", "-P", "solo"]
    print(f"$ {shlex.join(args)} &", flush=True)
    log_path = env.workdir / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [env.command("celery"), *args[1:]],
            cwd=env.workdir,
            env=env.variables,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_text(" ready.", worker, log_path, "the worker to be ready")
        result = env.run(["myapp", "shell"], stdin_text=SHELL_INPUT, shown="myapp shell < tasks")
        expect_in("appctx -> myapp", result, "myapp shell")
        expect_in("reqctx -> GET", result, "myapp shell")
        expect_in("leave_greeting -> 2", result, "myapp shell")
        # read_greeting, sent once leave_greeting's transaction committed, finds the row.
        wait_for_text("greeting 2: Hello from a task", worker, log_path, "read_greeting")
    except CheckFailed as exc:
        stop(worker)
        raise CheckFailed(
            f"{exc}\nThe worker's log ({log_path}):\n{indent(log_path.read_text().rstrip())}"
        ) from exc
    finally:
        stop(worker)
    print(indent(log_path.read_text().rstrip()), flush=True)


CHECKS: list[t.Callable[[Env], None]] = [
    check_locations,
    check_help,
    check_package_commands,
    check_management,
    check_wsgi,
    check_db_upgrade,
    check_server,
    check_secret_key_file,
    check_redis_transport,
    check_celery_tasks,
]


# Helpers for the server.


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body.decode()


def wait_for_page(url: str, server: subprocess.Popen[bytes], log_path: Path) -> str:
    """The body at ``url`` once the server answers, polling for a bounded time."""
    deadline = time.monotonic() + SERVER_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CheckFailed(
                f"The server exited with status {server.returncode} before answering:\n"
                f"{indent(log_path.read_text())}"
            )
        try:
            return fetch(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise CheckFailed(
        f"The server did not answer {url} within {SERVER_TIMEOUT} s ({last_error}):\n"
        f"{indent(log_path.read_text())}"
    )


def wait_for_text(text: str, process: subprocess.Popen[bytes], log_path: Path, what: str) -> None:
    """Wait, for a bounded time, until ``process`` writes ``text`` to its log."""
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        if text in log_path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise CheckFailed(
                f"The process exited with status {process.returncode} while waiting for "
                f"{what}:\n{indent(log_path.read_text())}"
            )
        time.sleep(0.2)
    raise CheckFailed(f"Waited {SERVER_TIMEOUT} s for {what}:\n{indent(log_path.read_text())}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this script started, by its PID: politely, then for sure."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def main(argv: t.Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, type=Path, help="the virtualenv's bin folder")
    parser.add_argument(
        "--source",
        choices=("site-packages", "checkout"),
        default="site-packages",
        help="where the modules must come from: an install, or an editable checkout",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the source checkout (default: this script's repository)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every check this many times, each time in a fresh folder (stops at a failure)",
    )
    options = parser.parse_args(argv)
    bin_dir = options.bin.absolute()
    for run in range(1, options.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="check-install-") as workdir:
            env = Env(bin_dir, options.source, options.checkout.resolve(), Path(workdir))
            for check in CHECKS:
                try:
                    check(env)
                except CheckFailed as exc:
                    print(
                        f"\nFAILED {check.__name__} ({bin_dir}, run {run} of {options.repeat}): "
                        f"{exc}",
                        file=sys.stderr,
                    )
                    return 1
        if options.repeat > 1:
            print(f"\nRun {run} of {options.repeat}: all {len(CHECKS)} checks passed.", flush=True)
    print(f"\nAll {len(CHECKS)} checks passed for the install in {bin_dir} ({options.source}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
