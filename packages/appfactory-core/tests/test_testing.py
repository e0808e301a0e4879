"""The pytest plugin ``appfactory.core.testing``, run as its users run it (with pytester)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import appfactory
from appfactory.core.testing import SECRET_KEY, discover_app_name

#: The test project: an app called greeter made of one package, greeterpkg.
CONFTEST = """
import pytest

from appfactory.core import appfactory

pytest_plugins = ["appfactory.core.testing"]


def create_greeter(load=True, **config):
    return appfactory("greeter", None, load=load, **{"PACKAGES": ["greeterpkg"], **config})


@pytest.fixture(scope="module")
def create_app():
    return create_greeter
"""

GREETERPKG = {
    "greeterpkg/__init__.py": "",
    "greeterpkg/config.py": "GREETING = 'Hello'\n",
    "greeterpkg/views.py": """
        from flask import Blueprint, current_app

        blueprint = Blueprint("greeterpkg", __name__)


        @blueprint.route("/")
        def index():
            return current_app.config["GREETING"]
        """,
    "greeterpkg/cli.py": """
        import click
        from flask import current_app
        from flask.cli import with_appcontext


        @click.command()
        @with_appcontext
        def hello():
            click.echo(f"{current_app.config['GREETING']} from {current_app.name}")


        commands = [hello]
        """,
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A test project of the greeter app, its package importable from its folder."""
    for relative, source in GREETERPKG.items():
        path = pytester.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    pytester.syspathinsert()
    pytester.makeconftest(CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


# The app fixtures


def test_app_client_and_cli_runner(project: pytest.Pytester) -> None:
    project.makepyfile(
        f"""
        import os

        from flask import current_app

        from appfactory.core import get_registry


        def test_app_is_loaded_with_no_context_pushed(app):
            assert get_registry(app).loaded
            assert "greeterpkg" in app.blueprints
            assert not current_app
            assert app.config["TESTING"] is True
            assert app.config["SECRET_KEY"] == {SECRET_KEY!r}


        def test_client(client):
            assert client.get("/").data == b"Hello"


        def test_cli_runner_runs_the_management_command(cli_runner):
            result = cli_runner.invoke(args=["hello"])
            assert result.exit_code == 0, result.output
            assert result.output == "Hello from greeter\\n"
            result = cli_runner.invoke(args=["config", "show", "TESTING"])
            assert "TESTING = True" in result.output


        def test_instance_folder_is_temporary(app, instance_path, app_environment, tmpdir_factory):
            assert app_environment == "GREETER"
            assert app.instance_path == str(instance_path)
            assert os.environ["GREETER_INSTANCE_PATH"] == str(instance_path)
            assert str(instance_path).startswith(str(tmpdir_factory.getbasetemp()))
        """
    )
    result = run(project)
    result.assert_outcomes(passed=4)


def test_instance_folder_is_one_per_module_and_never_the_real_one(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Apps that found no instance folder would fall back to <sys.prefix>/var.
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    for module in ("one", "two"):
        project.makepyfile(
            **{
                f"test_{module}": f"""
                seen = []


                def test_first(app):
                    seen.append(app.instance_path)


                def test_second(app, tmp_path_factory):
                    assert seen == [app.instance_path]
                    basetemp = str(tmp_path_factory.getbasetemp())
                    assert app.instance_path.startswith(basetemp)
                    (tmp_path_factory.getbasetemp() / "{module}.txt").write_text(
                        app.instance_path
                    )
                """
            }
        )
    result = run(project)
    result.assert_outcomes(passed=4)
    basetemp = project.path.parent / "basetemp"
    folders = {(basetemp / f"{module}.txt").read_text() for module in ("one", "two")}
    assert len(folders) == 2, "each module has its own instance folder"
    assert not (tmp_path / "prefix").exists(), "no app used the default instance folder"


def test_without_create_app_the_test_says_how_to_define_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["appfactory.core.testing"]')
    pytester.makepyfile("def test_home(client):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*appfactory.core.testing has no app to test: define a fixture called create_app*",
            "*def create_app():",
        ]
    )


# app_config: defaults, module override, markers, parametrization


def test_app_config_layers(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest


        @pytest.fixture
        def app_config(app_config):
            return {**app_config, "GREETING": "Module", "KEPT": 1}


        def test_module_override(app, app_config):
            assert app.config["GREETING"] == app_config["GREETING"] == "Module"
            assert app.config["TESTING"] is True


        @pytest.mark.app_config(GREETING="Marker")
        def test_marker_beats_the_module(client):
            assert client.get("/").data == b"Marker"


        @pytest.mark.app_config(GREETING="Class", KEPT=2)
        class TestClosestMarkerWins:
            @pytest.mark.app_config(GREETING="Function")
            def test_it(self, app):
                assert app.config["GREETING"] == "Function"
                assert app.config["KEPT"] == 2


        @pytest.mark.parametrize("app_config", [{"GREETING": "Replaced"}])
        def test_direct_parametrization_replaces_it(app):
            assert app.config["GREETING"] == "Replaced"
            assert not app.config["TESTING"]


        @pytest.mark.app_config(GREETING="Marked")
        def test_cli_gets_the_marker_too(cli_runner):
            assert cli_runner.invoke(args=["hello"]).output == "Marked from greeter\\n"
        """
    )
    project.makepyfile(
        test_parametrized="""
        import pytest


        @pytest.mark.parametrize("app_config", [{"GREETING": "Param"}], indirect=True)
        def test_indirect_parametrization(app, app_config):
            assert app.config["GREETING"] == app_config["GREETING"] == "Param"
            assert app.config["TESTING"] is True
        """
    )
    result = run(project)
    result.assert_outcomes(passed=6)


def test_app_config_marker_takes_keywords_only(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest


        @pytest.mark.app_config({"GREETING": "Hi"})
        def test_it(app):
            pass
        """
    )
    result = run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.app_config takes settings as keywords, not*"])


def test_cli_fixture_can_be_overridden(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import click
        import pytest


        @pytest.fixture
        def cli():
            @click.command()
            def shout():
                click.echo("HELLO")

            return shout


        def test_it(cli_runner):
            assert cli_runner.invoke().output == "HELLO\\n"
        """
    )
    run(project).assert_outcomes(passed=1)


# Isolation between tests


def test_two_tests_never_see_each_others_settings_or_variables(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        """
        import os

        import pytest


        @pytest.mark.app_config(GREETING="First")
        def test_first(app, monkeypatch):
            app.config["CHANGED_AT_RUN_TIME"] = True
            os.environ["GREETER_SET_DIRECTLY"] = "leak"
            os.environ["FLASK_DEBUG"] = "1"
            monkeypatch.setenv("GREETER_SET_BY_MONKEYPATCH", "leak")


        def test_second(app):
            assert app.config["GREETING"] == "Hello"
            assert "CHANGED_AT_RUN_TIME" not in app.config
            assert "SET_DIRECTLY" not in app.config
            assert "SET_BY_MONKEYPATCH" not in app.config
            assert "GREETER_SET_DIRECTLY" not in os.environ
            assert "FLASK_DEBUG" not in os.environ
        """
    )
    run(project).assert_outcomes(passed=2)


def test_callers_variables_are_hidden_then_restored(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = tmp_path / "the-real-instance"
    shell = {
        "GREETER_INSTANCE_PATH": str(real),
        "GREETER_GREETING": "From the shell",
        "FLASK_DEBUG": "1",
        "CELERY_BROKER_URL": "redis://production:6379/0",
    }
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    project.makepyfile(
        """
        import os


        def test_it(app, instance_path):
            assert app.config["GREETING"] == "Hello"
            assert app.instance_path == str(instance_path)
            assert "FLASK_DEBUG" not in os.environ
            assert "CELERY_BROKER_URL" not in os.environ
        """
    )
    run(project).assert_outcomes(passed=1)
    assert {name: os.environ.get(name) for name in shell} == shell
    assert not real.exists()


def test_leaked_contexts_fail_the_test_and_are_popped(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest
        from flask import current_app, request

        from appfactory.core.testing import isolated_environment


        @pytest.fixture(scope="module")
        def module_context(create_app, instance_path):
            with isolated_environment("GREETER", instance_path):
                app = create_app()
            with app.app_context() as ctx:
                yield ctx


        def test_leaks_an_app_context(app):
            app.app_context().push()


        def test_leaks_a_request_context(app):
            app.test_request_context("/").push()


        def test_after_the_leaks(app):
            assert not current_app
            assert not request


        def test_a_wider_fixtures_context_is_no_leak(module_context):
            assert current_app.name == "greeter"
        """
    )
    result = run(project)
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*ERROR at teardown of test_leaks_an_app_context*",
            "*ERROR at teardown of test_leaks_a_request_context*",
        ]
    )
    output = result.stdout.str()
    assert "the test leaked an app context of 'greeter': pop every context" in output
    assert "the test leaked a request context of 'greeter'" in output


# Packages added by a test


def test_packages_added_by_a_test_reach_one_app_and_leave_with_the_test(
    project: pytest.Pytester,
) -> None:
    project.mkdir("test_folder")
    folder = project.path / "test_folder" / "folderpkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "config.py").write_text("FOLDERPKG = 'from a test folder'\n")
    project.makepyfile(
        """
        import sys
        from pathlib import Path

        import pytest

        from appfactory.core import get_registry

        FOLDER = Path(__file__).parent / "test_folder"


        @pytest.fixture
        def app_config(app_config, make_package, import_path):
            make_package("injected", {"config.py": "INJECTED = 'yes'\\n"})
            import_path(FOLDER)
            extra = {"inj": "injected", "folder": "folderpkg"}
            return {**app_config, "PACKAGES_ENTRY_POINTS_EXTRA": extra}


        def test_added(app):
            registry = get_registry(app)
            assert [(p.name, p.source) for p in registry.packages] == [
                ("greeterpkg", "PACKAGES"),
                ("folderpkg", "entry point 'folder' of PACKAGES_ENTRY_POINTS_EXTRA"),
                ("injected", "entry point 'inj' of PACKAGES_ENTRY_POINTS_EXTRA"),
            ]
            assert app.config["INJECTED"] == "yes"
            assert app.config["FOLDERPKG"] == "from a test folder"


        def test_gone_afterwards(create_app, app_environment):
            assert not {"injected", "folderpkg"} & set(sys.modules)
            assert str(FOLDER) not in sys.path
            with pytest.raises(ModuleNotFoundError):
                __import__("injected")
            app = create_app()
            assert [p.name for p in get_registry(app).packages] == ["greeterpkg"]
        """
    )
    run(project).assert_outcomes(passed=2)


def test_import_path_refuses_a_missing_folder(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        def test_it(import_path):
            import_path("no/such/folder")
        """
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*import_path('no/such/folder'): * is not a folder*"])


# The app's name


def greeter_factory(load: bool = True, **config: t.Any) -> Flask:
    return appfactory("greeter", "module_that_must_not_be_imported", load=load, **config)


def test_app_name_is_found_without_making_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("GREETER_INSTANCE_PATH", str(instance))

    assert discover_app_name(greeter_factory) == "greeter"

    assert not instance.exists(), "no instance folder was created"
    assert "module_that_must_not_be_imported" not in sys.modules


def test_app_name_of_a_factory_that_does_not_use_appfactory() -> None:
    def flask_factory(load: bool = True) -> Flask:
        return Flask("plain")

    with pytest.raises(
        pytest.fail.Exception,
        match=re.escape("without calling appfactory.core.appfactory(). Define a fixture called "),
    ):
        discover_app_name(flask_factory)


# Enabling


def test_installing_the_plugin_enables_nothing(pytester: pytest.Pytester) -> None:
    groups = importlib.metadata.entry_points(group="pytest11")
    assert not [ep for ep in groups if ep.value.startswith("appfactory")]
    pytester.makepyfile(
        """
        import sys

        from flask import Flask


        def test_no_guard_of_leaked_contexts():
            Flask("leaky").app_context().push()


        def test_the_plugin_is_not_even_imported():
            assert not [name for name in sys.modules if name.startswith("appfactory.core.testing")]


        def test_no_fixtures(request):
            assert "app" not in request.fixturenames
            assert "app" not in request.config._getini("markers")
        """
    )
    # In a subprocess: this process has the plugin enabled.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_without_appfactory_celery_there_is_no_celery_fixture(project: pytest.Pytester) -> None:
    project.makeconftest(
        "import sys\n\n"
        # As if appfactory-celery were not installed (find_spec answers None).
        "sys.modules['appfactory.celery'] = None\n" + CONFTEST
    )
    project.makepyfile(
        """
        import sys


        def test_task(request):
            assert "celery_app" not in request.fixturenames
            assert not [name for name in sys.modules if name.startswith("appfactory.celery.")]
            assert "celery" not in sys.modules
        """
    )
    # In a subprocess: this process has imported Celery (the other suites' runs).
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_celery_names_moved_with_a_warning() -> None:
    pytest.importorskip("appfactory.celery", reason="the names moved to appfactory-celery")
    import appfactory.core.testing as core_testing
    from appfactory.celery import testing as celery_testing

    for name in ("CeleryDefaultAppError", "Server", "forget_shared_tasks"):
        message = f"appfactory.core.testing.{name} moved to appfactory.celery.testing.{name}"
        with pytest.warns(DeprecationWarning, match=re.escape(message)):
            assert getattr(core_testing, name) is getattr(celery_testing, name)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        core_testing.nothing  # noqa: B018


def test_core_plugin_alone_still_enables_the_celery_fixtures_with_a_warning(
    project: pytest.Pytester,
) -> None:
    pytest.importorskip("appfactory.celery", reason="the fixtures moved to appfactory-celery")
    project.makeconftest(CONFTEST)
    project.makepyfile(
        """
        import pytest
        from celery import current_app


        def test_eager(app, celery_app):
            assert celery_app.flask_app is app


        def test_guard_still_on():
            with pytest.raises(Exception, match="Celery's default app was used"):
                current_app.conf
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*DeprecationWarning: The celery_app fixture moved to the pytest plugin "
            "appfactory.celery.testing in appfactory-core 0.2: add it to pytest_plugins*",
        ]
    )
