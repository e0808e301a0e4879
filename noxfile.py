"""Sessions that test, lint, type-check, document and build every distribution.

Run ``nox -s tests`` for the test suites and ``nox -s demo`` for the example
app end to end; ``nox -l`` lists the sessions. Every session installs the
distributions of this checkout, never their released versions.
"""

from __future__ import annotations

import os
import shutil
import tomllib
import typing as t
from pathlib import Path

import nox
import nox.command
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["tests"]
nox.options.error_on_external_run = True
# Python 3.11 only: a machine without it fails rather than skipping every session.
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent.resolve()
PYTHON = "3.11"

#: Folders of the distributions, in dependency order. Folders that do not exist
#: (yet) are left out, so a new distribution only needs its folder and a line here.
DISTRIBUTION_FOLDERS = [
    "packages/appfactory-core",
    "packages/appfactory-celery",
    "packages/appfactory-sqlalchemy",
    "packages/mymodule",
    "examples/myapp",
]

#: Extras of the distributions that the test suites, the type check, the docs and the
#: benchmarks install: appfactory-celery's tasks sent on commit and outbox need SQLAlchemy.
EXTRAS = {"packages/appfactory-celery": "sqlalchemy"}
#: The PostgreSQL driver of the database tests (a dependency of no distribution).
POSTGRES_DRIVER = "psycopg[binary]>=3.1,<4"

#: Tool versions, pinned so that a new release cannot break CI overnight.
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
IMPORT_LINTER = "import-linter==2.17"

#: Options of every pytest run: a hung test fails instead of blocking CI.
PYTEST_OPTIONS = ["-ra", "--strict-markers", "--timeout=300", "-p", "no:cacheprovider"]


def distributions() -> list[Path]:
    """The distribution folders of this checkout that exist."""
    return [ROOT / folder for folder in DISTRIBUTION_FOLDERS if (ROOT / folder).is_dir()]


def editable_args(extras: bool = False) -> list[str]:
    """``-e <folder>`` for every distribution: installed in one pip command so
    that the sibling requirements (``appfactory-core>=0.1,<0.2``) resolve to this
    checkout and never to an index. ``extras``: with the :data:`EXTRAS`."""
    args = []
    for folder in distributions():
        extra = EXTRAS.get(folder.relative_to(ROOT).as_posix()) if extras else None
        args += ["-e", f"{folder}[{extra}]" if extra else str(folder)]
    return args


def test_suites() -> list[Path]:
    """Every ``tests`` folder of the packages and the examples, in dependency order,
    then the benchmark harness's own tests."""
    found = {*ROOT.glob("packages/*/tests"), *ROOT.glob("examples/*/tests")}
    if (ROOT / "benchmarks" / "tests").is_dir():
        found.add(ROOT / "benchmarks" / "tests")
    order = {folder / "tests": index for index, folder in enumerate(distributions())}
    return sorted(found, key=lambda suite: (order.get(suite, len(order)), str(suite)))


def fresh_venv(session: nox.Session, name: str) -> Path:
    """A new virtualenv under the session's temporary folder; returns its bin folder."""
    path = Path(session.create_tmp()) / name
    if path.exists():
        shutil.rmtree(path)
    session.run("python", "-m", "venv", str(path), silent=True)
    return path / "bin"


def check_install(session: nox.Session, bin_dir: Path, source: str) -> None:
    """Run the example's commands from ``bin_dir``, outside the checkout."""
    session.run(
        "python",
        str(ROOT / "scripts" / "check_install.py"),
        "--bin",
        str(bin_dir),
        "--source",
        source,
        "--checkout",
        str(ROOT),
    )


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every package's test suite and the example's, against editable installs."""
    session.install(*editable_args(extras=True), POSTGRES_DRIVER, "pytest", "pytest-timeout")
    suites = test_suites()
    if not suites:
        session.error("No tests folder found under packages/*/ or examples/*/.")
    # Every suite runs even when an earlier one fails; the session fails at the end.
    problems = []
    for suite in suites:
        name = str(suite.relative_to(ROOT))
        if not any(suite.rglob("test_*.py")):
            problems.append(f"{name} has no test_*.py file (a suite that runs no test)")
            continue
        session.log(f"Suite {name}")
        try:
            # Exit status 5 (no test collected) is a failure like any other.
            session.run("pytest", *PYTEST_OPTIONS, str(suite), *session.posargs)
        except nox.command.CommandFailed:
            problems.append(f"{name} failed")
    if problems:
        session.error("; ".join(problems))


#: The extras each distribution's own test suite needs, in ``nox -s isolated``
#: (declared by the distribution, like its dependencies).
TEST_EXTRAS = {
    "packages/appfactory-core": ["testing"],
    "packages/appfactory-celery": ["sqlalchemy", "redis", "testing"],
}
#: Distributions of this checkout that a suite uses as test data besides its
#: declared dependencies: appfactory-celery's tests run the sample package and the
#: example app (``PACKAGES = ["mymodule"]``, the ``myapp`` command). mymodule's
#: models use appfactory-sqlalchemy's ``db``, a declared dependency.
TEST_DATA = {
    "packages/appfactory-celery": ["packages/mymodule", "examples/myapp"],
}
#: Modules that must not be importable in appfactory-core's isolated virtualenv.
NOT_WITH_CORE = ("celery", "kombu", "flask_celeryext")


def project_table(folder: Path) -> dict[str, t.Any]:
    """The ``[project]`` table of a distribution folder's pyproject.toml."""
    with (folder / "pyproject.toml").open("rb") as file:
        project: dict[str, t.Any] = tomllib.load(file)["project"]
    return project


def checkout_requirements(folder: Path, extras: t.Iterable[str] = ()) -> dict[Path, set[str]]:
    """``folder`` and the distributions of this checkout it requires, directly or
    through other ones, with the extras asked of each (optional dependencies included)."""
    by_name = {canonicalize_name(project_table(f)["name"]): f for f in distributions()}
    needed: dict[Path, set[str]] = {}
    todo = [(folder, set(extras))]
    while todo:
        current, wanted = todo.pop()
        known = needed.get(current)
        if known is not None and wanted <= known:
            continue
        needed[current] = (known or set()) | wanted
        project = project_table(current)
        lines = list(project.get("dependencies", []))
        for extra in wanted:
            lines += project.get("optional-dependencies", {}).get(extra, [])
        for line in lines:
            requirement = Requirement(line)
            sibling = by_name.get(canonicalize_name(requirement.name))
            if sibling is not None:
                todo.append((sibling, set(requirement.extras)))
    return needed


@nox.session(python=PYTHON)
def isolated(session: nox.Session) -> None:
    """Each distribution's test suite in a fresh virtualenv of its own, with only that
    distribution, its declared dependencies and pytest: appfactory-core's without Celery.

    ``nox -s isolated -- packages/appfactory-core`` runs the suites of the given
    folders only (CI runs core's); the default is every distribution's.
    """
    folders = [ROOT / arg for arg in session.posargs] or distributions()
    unknown = [str(f) for f in folders if f not in distributions()]
    if unknown:
        session.error(f"Not a distribution folder of this checkout: {', '.join(unknown)}.")
    problems = []
    for folder in folders:
        name = folder.relative_to(ROOT).as_posix()
        suite = folder / "tests"
        bin_dir = fresh_venv(session, folder.name)
        needed = checkout_requirements(folder, TEST_EXTRAS.get(name, []))
        for data in TEST_DATA.get(name, []):
            for required, extras in checkout_requirements(ROOT / data).items():
                needed[required] = needed.get(required, set()) | extras
        args = []
        # In dependency order: pip resolves a sibling's requirement to the folder given.
        for required in (f for f in distributions() if f in needed):
            extras = needed[required]
            args += ["-e", f"{required}[{','.join(sorted(extras))}]" if extras else str(required)]
        tools = ["pytest", "pytest-timeout"]
        if name in (
            "packages/appfactory-celery",
            "packages/appfactory-sqlalchemy",
            "examples/myapp",
        ):
            tools.append(POSTGRES_DRIVER)  # the database tests' driver, declared by no one
        session.log(f"{name}: its own virtualenv, with {' '.join(args[1::2])}")
        python = str(bin_dir / "python")
        session.run(python, "-m", "pip", "install", "--quiet", *args, *tools, external=True)
        if name == "packages/appfactory-core":
            check = (
                "import importlib.util, sys; found = [m for m in sys.argv[1:] if "
                "importlib.util.find_spec(m)]; sys.exit(f'installed with appfactory-core "
                "alone: {found}' if found else None)"
            )
            session.run(python, "-c", check, *NOT_WITH_CORE, external=True)
        try:
            session.run(python, "-m", "pytest", *PYTEST_OPTIONS, str(suite), external=True)
        except nox.command.CommandFailed:
            problems.append(f"{name} failed in its own virtualenv")
    if problems:
        session.error("; ".join(problems))


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """The fault-injection tests (``pytest -m reliability``), which ``tests`` skips.

    Real workers and brokers: worker processes killed with SIGKILL, Redis
    restarted under load, a burst of 10,000 tasks; each test prints what
    became of the tasks it sent, and the figures close the run (see
    docs/reliability.rst). Needs redis-server, and RabbitMQ on 127.0.0.1:5672
    or rabbitmq-server, and PostgreSQL on 127.0.0.1:5432 or its binaries; under
    CI a missing one fails instead of skipping.
    """
    # gunicorn: the web host of the several-hosts tests.
    session.install(
        *editable_args(extras=True), POSTGRES_DRIVER, "gunicorn", "pytest", "pytest-timeout"
    )
    suite = ROOT / "packages" / "appfactory-celery" / "tests"
    session.run("pytest", *PYTEST_OPTIONS, "-m", "reliability", str(suite), *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (the lint rules and the formatting of every Python file), then the
    import contracts between the distributions (``.importlinter``)."""
    session.install(RUFF, IMPORT_LINTER, *editable_args())
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))
    session.run("lint-imports", str(ROOT / ".importlinter"))


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy strict (mypy.ini) on the framework packages and the examples' sources."""
    # pytest: appfactory.core.testing (the pytest plugin) is type-checked too.
    session.install(MYPY, "pytest", *editable_args(extras=True))
    packages = ["-p", "appfactory.core"]
    if (ROOT / "packages/appfactory-celery").is_dir():
        packages += ["-p", "appfactory.celery"]
    if (ROOT / "packages/appfactory-sqlalchemy").is_dir():
        packages += ["-p", "appfactory.sqlalchemy"]
    examples = ["-p", "mymodule", "-p", "myapp"]
    # The examples are not on mypy.ini's mypy_path; MYPYPATH adds their src folders.
    mypypath = os.pathsep.join(
        str(ROOT / folder) for folder in ("packages/mymodule/src", "examples/myapp/src")
    )
    session.run(
        "mypy",
        "--config-file",
        str(ROOT / "mypy.ini"),
        *packages,
        *examples,
        env={"MYPYPATH": mypypath},
    )


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Sphinx: the HTML docs with warnings as errors, then the doctests."""
    docs_dir = ROOT / "docs"
    if not (docs_dir / "conf.py").is_file():
        session.error(f"{docs_dir / 'conf.py'} is missing: there is no Sphinx tree to build")
    requirements = docs_dir / "requirements.txt"
    extra = ["-r", str(requirements)] if requirements.is_file() else ["sphinx"]
    session.install(*extra, *editable_args(extras=True))
    build = docs_dir / "_build"
    doctrees = str(build / "doctrees")
    session.run(
        "sphinx-build", "-W", "-E", "-d", doctrees, "-b", "html", str(docs_dir), str(build / "html")
    )
    session.run(
        "sphinx-build", "-W", "-d", doctrees, "-b", "doctest", str(docs_dir), str(build / "doctest")
    )


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Wheel and sdist of each distribution into dist/<name>/, checked with twine;
    then the built wheels, and the editable installs, each in a fresh virtualenv."""
    session.install("build", "twine")
    wheels = []
    for folder in distributions():
        out = ROOT / "dist" / folder.name
        if out.exists():
            shutil.rmtree(out)
        session.run("python", "-m", "build", "--outdir", str(out), str(folder))
        session.run("twine", "check", "--strict", *sorted(str(p) for p in out.iterdir()))
        found = sorted(out.glob("*.whl"))
        if len(found) != 1:
            session.error(f"Expected one wheel in {out}, found {[p.name for p in found]}.")
        wheels.append(str(found[0]))

    session.log("Fresh virtualenv with the built wheels")
    bin_dir = fresh_venv(session, "wheels")
    # By file path, all in one command: no sibling can come from an index.
    session.run(str(bin_dir / "python"), "-m", "pip", "install", *wheels, external=True)
    check_install(session, bin_dir, "site-packages")

    session.log("Fresh virtualenv with editable installs")
    bin_dir = fresh_venv(session, "editable")
    session.run(str(bin_dir / "python"), "-m", "pip", "install", *editable_args(), external=True)
    check_install(session, bin_dir, "checkout")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The example app end to end, as a reader of the README runs it.

    Installs the distributions (not editable) into this session's fresh
    virtualenv and runs the example's commands, a real server included; then
    starts a Celery worker on the embedded broker (no server needed), sends
    ``appctx``, ``reqctx`` and ``leave_greeting`` through ``myapp shell`` and stops the
    worker; ``myapp db upgrade`` (mymodule's migration) and the greetings pages run on
    the default SQLite file.
    """
    session.install(*(str(folder) for folder in distributions()))
    check_install(session, Path(session.bin), "site-packages")


#: The peers the benchmarks compare with, pinned so that figures stay comparable.
BENCH_PEERS = ["invenio-base==2.4.1"]


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against hand-written Flask and Celery and the peers (docs/performance.rst).

    ``nox -s bench`` is the full run (about 15 minutes); ``nox -s bench -- --quick``
    the small one CI runs; ``-- --json PATH`` also writes the figures. The peers
    are installed apart (``pip install --target``), so that only the peer's own
    processes see them: invenio-base adds a Flask plugin command that every
    ``flask`` command of the environment would otherwise load.
    """
    session.install(*editable_args(extras=True), POSTGRES_DRIVER, "celery[redis]", "psutil")
    peers = Path(session.create_tmp()) / "peers"
    if peers.exists():
        shutil.rmtree(peers)
    session.run(
        "python", "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(peers),
        *BENCH_PEERS,
    )  # fmt: skip
    session.run("python", "-m", "benchmarks", "--peer-site", str(peers), *session.posargs)
