"""One Celery app per Flask app: ``celeryfactory``, the extension, task discovery and checks."""

from __future__ import annotations

import importlib
import re
import sys
import typing as t
from pathlib import Path

import pytest
from celery import Celery, _state
from click.testing import CliRunner
from flask import Flask

from appfactory.celery import AppContextTask, NoCeleryAppError, celeryfactory, load_tasks
from appfactory.celery import factory as factory_module
from appfactory.celery.state import get_state
from appfactory.core import (
    AppFactoryWarning,
    Level,
    PackageModuleError,
    Problem,
    appfactory,
    check_app,
    clifactory,
    get_registry,
)

MakePackage = t.Callable[[str, dict[str, str]], Path]

TASKS = """\
from celery import shared_task
from flask import current_app


@shared_task
def work():
    return current_app.name
"""


def make_app(app_name: str = "testapp", load: bool = True, **config: t.Any) -> Flask:
    config.setdefault("EXTENSIONS", ["appfactory.celery"])
    config.setdefault("CELERY_TASK_ALWAYS_EAGER", True)
    return appfactory(app_name, None, load=load, **config)


# celeryfactory


def test_celeryfactory_returns_one_celery_app_per_flask_app() -> None:
    app = make_app()

    celery = celeryfactory(app)

    assert isinstance(celery, Celery)
    assert celeryfactory(app) is celery
    assert celeryfactory(app, load_tasks=False) is celery
    assert celery.flask_app is app
    assert celery.main == "testapp"
    assert issubclass(celery.Task, AppContextTask)


def test_two_flask_apps_get_two_celery_apps() -> None:
    first = make_app("testapp", CELERY_TASK_DEFAULT_QUEUE="first")
    second = make_app(
        "otherapp", CELERY_TASK_DEFAULT_QUEUE="second", CELERY_TASK_ALWAYS_EAGER=False
    )

    celery_first, celery_second = celeryfactory(first), celeryfactory(second)

    assert celery_first is not celery_second
    assert celery_first.flask_app is first
    assert celery_second.flask_app is second
    assert celery_first.conf.task_default_queue == "first"
    assert celery_second.conf.task_default_queue == "second"
    assert celery_first.conf.task_always_eager is True
    assert celery_second.conf.task_always_eager is False
    stores = {c.conf.broker_url for c in (celery_first, celery_second)}
    assert stores == {
        f"sqlite-embedded://{Path(app.instance_path) / 'celery' / 'store.sqlite3'}"
        for app in (first, second)
    }


def test_creating_apps_leaves_celerys_default_and_current_app_alone() -> None:
    default_before = _state.default_app
    current_before = getattr(_state._tls, "current_app", None)

    celeries = [celeryfactory(make_app(name)) for name in ("testapp", "otherapp")]

    assert _state.default_app is default_before
    assert getattr(_state._tls, "current_app", None) is current_before
    for celery in celeries:
        assert celery is not default_before
        assert celery is not current_before


@pytest.mark.parametrize("load", [True, False])
def test_celeryfactory_on_an_app_without_the_extension(load: bool) -> None:
    app = make_app(EXTENSIONS=[], load=load)

    celery = celeryfactory(app)

    assert celery.flask_app is app
    assert celeryfactory(app) is celery


def test_load_tasks_without_a_celery_app() -> None:
    app = make_app(EXTENSIONS=[])

    with pytest.raises(
        NoCeleryAppError,
        match=re.escape(
            "Flask app 'testapp' has no Celery app; call appfactory.celery.celeryfactory(app) "
            "or list 'appfactory.celery' in EXTENSIONS."
        ),
    ):
        load_tasks(app)


@pytest.mark.parametrize("name", ["celery_app", "create_celery_app"])
def test_old_names_of_celeryfactory_warn_and_still_work(name: str) -> None:
    import appfactory.celery

    app = make_app(EXTENSIONS=["appfactory.celery"])
    old = getattr(appfactory.celery, name)

    with pytest.warns(
        DeprecationWarning,
        match=re.escape(
            f"appfactory.celery.{name}(app) is deprecated and will be removed in "
            "appfactory-celery 0.3; use celeryfactory(app, load_tasks=False)"
        ),
    ):
        celery = old(app)

    assert celery is celeryfactory(app, load_tasks=False)
    assert not get_state(app).tasks_loaded


# The extension: a Celery app at load time, no task module imported.


def test_extension_gives_the_app_its_celery_app_without_importing_tasks(
    make_package: MakePackage,
) -> None:
    make_package("lazy_pkg", {"tasks.py": TASKS})

    app = make_app(PACKAGES=["lazy_pkg"])

    assert "lazy_pkg" in sys.modules
    assert "lazy_pkg.tasks" not in sys.modules
    celery = celeryfactory(app, load_tasks=False)
    assert celery.flask_app is app
    assert "lazy_pkg.tasks" not in sys.modules
    assert "tasks" not in get_registry(app).package("lazy_pkg").modules

    assert celeryfactory(app) is celery
    assert "lazy_pkg.tasks" in sys.modules
    assert "lazy_pkg.tasks.work" in celery.tasks
    assert get_registry(app).package("lazy_pkg").extras["tasks"] == ["lazy_pkg.tasks.work"]


def test_configuration_only_app_has_no_celery_app() -> None:
    app = make_app(load=False)

    assert "appfactory.celery" not in app.extensions
    assert "flask-celeryext" not in app.extensions


@pytest.mark.parametrize("order", [["ord_a", "ord_b"], ["ord_b", "ord_a"]], ids="-".join)
def test_celeryfactory_imports_tasks_in_packages_order(
    make_package: MakePackage, order: list[str]
) -> None:
    make_package("ord_log", {"__init__.py": "imported = []\n"})
    for name in ("ord_a", "ord_b"):
        make_package(name, {"tasks.py": "import ord_log\n\nord_log.imported.append(__name__)\n"})
    log = importlib.import_module("ord_log")

    celeryfactory(make_app(PACKAGES=order))

    assert log.imported == [f"{name}.tasks" for name in order]


def test_tasks_are_loaded_once(make_package: MakePackage) -> None:
    make_package("once_log", {"__init__.py": "loads = []\n"})
    make_package("once_pkg", {"tasks.py": f"import once_log\nonce_log.loads.append(1)\n{TASKS}"})
    log = importlib.import_module("once_log")
    app = make_app(PACKAGES=["once_pkg"])

    celeryfactory(app)
    celeryfactory(app)
    check_app(app)

    assert log.loads == [1]
    assert get_registry(app).package("once_pkg").extras["tasks"] == ["once_pkg.tasks.work"]


# Flask-CeleryExt's entry in EXTENSIONS (the original tutorial's config).


def test_flask_celeryext_entry_gives_the_app_its_own_celery_app() -> None:
    default_before = _state.default_app
    first = make_app("testapp", EXTENSIONS=["flask_celeryext:FlaskCeleryExt"])
    second = make_app(
        "otherapp",
        EXTENSIONS=["flask_celeryext:FlaskCeleryExt"],
        CELERY_TASK_DEFAULT_QUEUE="other",
    )

    celery_first, celery_second = (
        celeryfactory(first, load_tasks=False),
        celeryfactory(second, load_tasks=False),
    )

    assert get_registry(first).extensions == ["appfactory.celery"]
    assert celery_first.flask_app is first
    assert celery_second.flask_app is second
    assert celery_first is not celery_second
    assert _state.default_app is default_before
    assert celery_first is not _state.default_app
    assert celery_first.conf.task_default_queue == "celery"
    assert celery_second.conf.task_default_queue == "other"
    assert first.extensions["flask-celeryext"].celery is celery_first
    assert issubclass(celery_first.Task, AppContextTask)


@pytest.mark.parametrize(
    "extensions",
    [
        ["flask_celeryext:FlaskCeleryExt", "appfactory.celery"],
        ["appfactory.celery", "flask_celeryext:FlaskCeleryExt"],
        ["appfactory.celery", "appfactory.celery"],
    ],
    ids=["ext-then-ours", "ours-then-ext", "ours-twice"],
)
def test_celery_extension_is_set_up_once(
    monkeypatch: pytest.MonkeyPatch, extensions: list[str]
) -> None:
    created: list[Celery] = []
    create = factory_module._create_celery_app

    def counting_create(flask_app: Flask) -> Celery:
        created.append(create(flask_app))
        return created[-1]

    monkeypatch.setattr(factory_module, "_create_celery_app", counting_create)

    app = make_app(EXTENSIONS=extensions)

    assert created == [celeryfactory(app, load_tasks=False)]
    registry = get_registry(app)
    assert registry.extensions == ["appfactory.celery"]
    assert registry.before_inspect.count(load_tasks) == 1


# Discovery: a broken tasks module fails loudly; a missing one is fine.


@pytest.mark.parametrize(
    ("source", "cause", "description"),
    [
        ("raise RuntimeError('tasks exploded')\n", RuntimeError, "RuntimeError: tasks exploded"),
        (
            "import brk_missing_dependency\n",
            ModuleNotFoundError,
            "ModuleNotFoundError: No module named 'brk_missing_dependency'",
        ),
        ("def broken(:\n", SyntaxError, "SyntaxError: "),
    ],
    ids=["raises", "missing-dependency", "syntax-error"],
)
def test_broken_tasks_module_names_package_and_module(
    make_package: MakePackage, source: str, cause: type[Exception], description: str
) -> None:
    make_package("brk_pkg", {"tasks.py": source})
    app = make_app(PACKAGES=["mymodule", "brk_pkg"])

    with pytest.raises(PackageModuleError) as info:
        celeryfactory(app)

    message = str(info.value)
    assert message.startswith(
        f"Module 'brk_pkg.tasks' of package 'brk_pkg' failed to import: {description}"
    )
    assert message.endswith("Fix the error in brk_pkg.tasks, or remove 'brk_pkg' from PACKAGES.")
    assert isinstance(info.value.__cause__, cause)
    # Not marked as loaded: asking again fails again instead of running without the tasks.
    with pytest.raises(PackageModuleError, match=re.escape("'brk_pkg.tasks' of package")):
        celeryfactory(app)


def test_package_without_tasks_module_is_fine(make_package: MakePackage) -> None:
    make_package("plain_pkg", {"config.py": "PLAIN_PKG_SETTING = 1\n"})
    app = make_app(PACKAGES=["plain_pkg", "mymodule"])

    celery = celeryfactory(app)

    registry = get_registry(app)
    assert "tasks" not in registry.package("plain_pkg").modules
    assert "tasks" not in registry.package("plain_pkg").extras
    assert registry.package("mymodule").extras["tasks"] == [
        "mymodule.tasks.appctx",
        "mymodule.tasks.leave_greeting",
        "mymodule.tasks.read_greeting",
        "mymodule.tasks.reqctx",
    ]
    assert "mymodule.tasks.appctx" in celery.tasks


def test_packages_command_lists_each_packages_tasks(make_package: MakePackage) -> None:
    make_package("plain_pkg", {"config.py": "PLAIN_PKG_SETTING = 1\n"})
    make_package("listed_pkg", {"tasks.py": TASKS})

    def create_app(load: bool = True, **config: t.Any) -> Flask:
        return make_app(load=load, **config)

    cli = clifactory(create_app, PACKAGES=["mymodule", "plain_pkg", "listed_pkg"])
    result = CliRunner().invoke(cli, ["packages"])

    assert result.exit_code == 0, result.output
    blocks = re.split(r"^\d+\. ", result.output, flags=re.MULTILINE)[1:]
    tasks = {block.split()[0]: _row(block, "tasks") for block in blocks}
    assert tasks == {
        "mymodule": (
            "mymodule.tasks.appctx, mymodule.tasks.leave_greeting, "
            "mymodule.tasks.read_greeting, mymodule.tasks.reqctx"
        ),
        "plain_pkg": None,
        "listed_pkg": "listed_pkg.tasks.work",
    }
    assert "extension appfactory.celery  commands: outbox" in result.output


def _row(block: str, label: str) -> str | None:
    for line in block.splitlines():
        if line.strip().startswith(f"{label}:"):
            return line.split(":", 1)[1].strip()
    return None


# check: task name conflicts, schedules and routes to no task, unknown settings, the broker.


def problems(app: Flask, id: str) -> list[Problem]:
    return [p for p in check_app(app) if p.id == id]


@pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")
def test_check_task_name_registered_by_two_packages(make_package: MakePackage) -> None:
    for name in ("dup_one", "dup_two"):
        make_package(
            name,
            {
                "tasks.py": f"""\
                from celery import shared_task


                @shared_task(name="af302.dup")
                def {name}_task():
                    return {name!r}
                """
            },
        )
    app = make_app(PACKAGES=["dup_one", "dup_two"])

    with pytest.warns(AppFactoryWarning, match="Task name 'af302.dup' is registered by packages"):
        found = problems(app, "AF302")

    # Celery keeps the first registered callable; which one that is, is Celery's choice.
    winner = celeryfactory(app, load_tasks=False).tasks["af302.dup"].__module__.partition(".")[0]
    loser = ({"dup_one", "dup_two"} - {winner}).pop()
    assert found == [
        Problem(
            "AF302",
            "task-name-conflict",
            Level.ERROR,
            f"Task 'af302.dup' is registered by packages {winner!r} and {loser!r}; "
            f"only the task of {winner!r} runs.",
            "Give one of the tasks another name: @shared_task(name='pkg.task').",
        )
    ]
    with celeryfactory(app, load_tasks=False).flask_app.app_context():
        assert celeryfactory(app, load_tasks=False).tasks["af302.dup"].delay().get() == winner


def test_check_no_task_conflict_for_distinct_names(make_package: MakePackage) -> None:
    make_package("nodup_pkg", {"tasks.py": TASKS})
    app = make_app(PACKAGES=["mymodule", "nodup_pkg"])

    assert problems(app, "AF302") == []


def test_check_schedule_entry_with_unknown_task() -> None:
    app = make_app(
        PACKAGES=["mymodule"],
        CELERY_BEAT_SCHEDULE={
            "nightly": {"task": "af303.missing", "schedule": 60.0},
            "known": {"task": "mymodule.tasks.appctx", "schedule": 60.0},
        },
    )

    assert problems(app, "AF303") == [
        Problem(
            "AF303",
            "schedule-task-unknown",
            Level.WARNING,
            "Beat schedule entry 'nightly' runs task 'af303.missing', which no package registers.",
            "Fix the task name, or add the package that defines it to PACKAGES.",
        )
    ]


def test_check_schedule_under_the_legacy_name() -> None:
    app = make_app(CELERYBEAT_SCHEDULE={"old": {"task": "af303.legacy", "schedule": 5.0}})

    assert [p.message for p in problems(app, "AF303")] == [
        "Beat schedule entry 'old' runs task 'af303.legacy', which no package registers."
    ]


def test_check_route_with_unknown_task() -> None:
    app = make_app(
        PACKAGES=["mymodule"],
        CELERY_TASK_ROUTES={
            "af304.missing": {"queue": "slow"},
            "mymodule.tasks.appctx": {"queue": "fast"},
            # Glob patterns match no name in particular and are not reported.
            "af304.*": {"queue": "slow"},
        },
    )

    assert problems(app, "AF304") == [
        Problem(
            "AF304",
            "route-task-unknown",
            Level.WARNING,
            "CELERY_TASK_ROUTES routes task 'af304.missing', which no package registers.",
            "Fix the task name, or add the package that defines it to PACKAGES.",
        )
    ]


def test_check_unknown_celery_setting() -> None:
    with pytest.warns(AppFactoryWarning, match="Did you mean CELERY_TASK_ALWAYS_EAGER"):
        app = make_app(CELERY_TASK_ALWAYS_EGAER=True)

    assert problems(app, "AF301") == [
        Problem(
            "AF301",
            "celery-setting-unknown",
            Level.WARNING,
            "CELERY_TASK_ALWAYS_EGAER looks like a Celery setting but Celery has none of that "
            "name; it is not passed to Celery.",
            "Rename it to CELERY_TASK_ALWAYS_EAGER.",
        )
    ]


@pytest.mark.parametrize(
    ("broker", "options", "reported"),
    [
        (None, None, "the embedded broker, its store {store!r} in the instance folder"),
        # The user's transport options do not change the broker (they are merged).
        (
            None,
            {"polling_interval": 0.5},
            "the embedded broker, its store {store!r} in the instance folder",
        ),
        (
            "sqlite-embedded:///srv/queue/store.sqlite3",
            None,
            "the embedded broker, its store '/srv/queue/store.sqlite3' named by CELERY_BROKER_URL",
        ),
        (
            "filesystem://",
            {"polling_interval": 0.5},
            "kombu's filesystem transport (queue folder {queue!r}), named by CELERY_BROKER_URL: "
            "a worker killed while it holds tasks loses them",
        ),
        ("redis://127.0.0.1:6379/0", None, None),
        ("memory://", None, None),
    ],
)
def test_check_embedded_broker(
    broker: str | None, options: dict[str, t.Any] | None, reported: str | None
) -> None:
    settings: dict[str, t.Any] = {"CELERY_BROKER_URL": broker} if broker else {}
    if options:
        settings["CELERY_BROKER_TRANSPORT_OPTIONS"] = options
    app = make_app(**settings)
    celery = Path(app.instance_path) / "celery"

    found = problems(app, "AF305")
    if reported is None:
        assert found == []
        return
    what = reported.format(store=str(celery / "store.sqlite3"), queue=str(celery / "queue"))
    assert found == [
        Problem(
            "AF305",
            "celery-embedded-broker",
            Level.INFO,
            f"Celery uses {what} (no server, workers and senders on this machine only).",
            "Set CELERY_BROKER_URL to a Redis or RabbitMQ URL to spread workers over machines.",
        )
    ]


def test_check_command_reports_celery_problems() -> None:
    def create_app(load: bool = True, **config: t.Any) -> Flask:
        return make_app(load=load, **config)

    cli = clifactory(
        create_app,
        SECRET_KEY="test",
        PACKAGES=["mymodule"],
        CELERY_TASK_ROUTES={"af304.cli": {"queue": "q"}},
    )
    result = CliRunner().invoke(cli, ["check", "--fail-level", "warning"])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert (
        "warning AF304 route-task-unknown: CELERY_TASK_ROUTES routes task 'af304.cli', which "
        "no package registers. Hint: Fix the task name, or add the package that defines it to "
        "PACKAGES."
    ) in lines
    assert any(line.startswith("info AF305 celery-embedded-broker: ") for line in lines)


def test_a_task_imported_from_another_package_is_no_conflict(make_package: MakePackage) -> None:
    make_package(
        "reexporting",
        {
            "tasks.py": """
                from celery import shared_task

                from mymodule.tasks import appctx

                @shared_task
                def own():
                    return "own"
            """
        },
    )
    app = make_app(PACKAGES=["mymodule", "reexporting"])

    assert problems(app, "AF302") == []
    registry = get_registry(app)
    assert registry.package("reexporting").extras["tasks"] == ["reexporting.tasks.own"]
    assert "mymodule.tasks.appctx" in registry.package("mymodule").extras["tasks"]


def test_filesystem_broker_named_explicitly_gets_the_embedded_folders(
    isolated: Path,
) -> None:
    app = make_app(CELERY_BROKER_URL="filesystem://")
    options = celeryfactory(app, load_tasks=False).conf.broker_transport_options

    queue = Path(app.instance_path) / "celery" / "queue"
    assert options["data_folder_in"] == str(queue)
    assert options["data_folder_out"] == str(queue)
    assert queue.is_dir()
    assert celeryfactory(app, load_tasks=False).conf.result_backend.startswith("file://")
