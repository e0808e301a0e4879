"""The SECRET_KEY rule: never a known value; without a configured key, one per instance."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, current_app, session

from appfactory.core import (
    ConfigError,
    Layer,
    Level,
    Origin,
    PackageContentError,
    SecretKeyError,
    appfactory,
    check_app,
    clifactory,
    get_registry,
)

MakeApp = t.Callable[..., Flask]
HEX_KEY = re.compile(r"^[0-9a-f]{64}$")
STRONG_KEY = "0123456789abcdef" * 4


def add_session_route(app: Flask) -> None:
    @app.route("/cfg-session")
    def use_session() -> str:
        session["seen"] = True
        return "ok"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Without a configured key: the instance's key file


def test_first_start_writes_a_private_key_file(make_app: MakeApp, instance_path: Path) -> None:
    app = make_app()

    key_file = instance_path / "secret-key"
    key = app.config["SECRET_KEY"]
    assert HEX_KEY.match(key)
    assert key_file.read_text() == key + "\n"
    assert mode_of(key_file) == 0o600
    assert get_registry(app).history.origin("SECRET_KEY") == Origin(Layer.GENERATED, str(key_file))
    assert not [p for p in instance_path.iterdir() if p.name.startswith("secret-key.")], (
        "no partial file is left"
    )


def test_configuration_only_app_writes_no_key(make_app: MakeApp, instance_path: Path) -> None:
    app = make_app(load=False)

    assert app.config["SECRET_KEY"] is None
    assert not (instance_path / "secret-key").exists()


def test_the_same_key_for_every_app_and_process_of_an_instance(
    make_app: MakeApp, instance_path: Path
) -> None:
    first = make_app().config["SECRET_KEY"]
    second = make_app(DEBUG=True).config["SECRET_KEY"]
    other_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "from appfactory.core import appfactory; "
            "print(appfactory('testapp', None).config['SECRET_KEY'])",
        ],
        env={**os.environ, "TESTAPP_INSTANCE_PATH": str(instance_path)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert first == second == other_process.stdout.strip()


def test_processes_starting_together_agree_on_one_key(instance_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from appfactory.core import appfactory
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
        print(appfactory("testapp", None).config["SECRET_KEY"])
        """
    )
    import time

    start = str(time.time() + 1.5)
    env = {**os.environ, "TESTAPP_INSTANCE_PATH": str(instance_path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, start], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}

    assert len(keys) == 1
    assert keys == {(instance_path / "secret-key").read_text().strip()}


def test_sessions_survive_a_restart(make_app: MakeApp) -> None:
    app = make_app()
    add_session_route(app)
    with app.test_client() as client:
        response = client.get("/cfg-session")
        cookie = response.headers["Set-Cookie"].split(";")[0]
        response.close()

    restarted = make_app()

    @restarted.route("/cfg-read")
    def read() -> str:
        return str(session.get("seen"))

    with restarted.test_client() as client:
        client.set_cookie("session", cookie.split("=", 1)[1])
        response = client.get("/cfg-read")
        assert response.data == b"True"
        response.close()


def test_check_names_the_key_file_and_warns_about_several_hosts(
    make_app: MakeApp, instance_path: Path
) -> None:
    app = make_app()

    [problem] = [p for p in check_app(app) if p.id.startswith("AF00")]

    assert problem.id == "AF002"
    assert problem.level is Level.WARNING
    assert problem.message == (
        f"SECRET_KEY comes from {instance_path / 'secret-key'}, made at random for this "
        "instance folder; every host that serves the app or runs its workers needs the same key."
    )
    assert problem.hint == (
        f"On several hosts, set SECRET_KEY in the instance file {instance_path / 'testapp.cfg'} "
        "or in the environment variable TESTAPP_SECRET_KEY with the same key on every host."
    )


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("", 0o600, "Key file {file} is empty; remove it to get a new key."),
        (
            "k" * 64,
            0o644,
            "Key file {file} can be read by others (mode 0o644); make it private with: "
            "chmod 600 {file}",
        ),
    ],
)
def test_bad_key_file(
    make_app: MakeApp, instance_path: Path, content: str, mode: int, message: str
) -> None:
    instance_path.mkdir(parents=True)
    key_file = instance_path / "secret-key"
    key_file.write_text(content)
    key_file.chmod(mode)

    with pytest.raises(ConfigError, match=re.escape(message.format(file=key_file))):
        make_app()


# An instance folder that cannot be written: no key, and the app refuses to serve


@pytest.fixture
def unwritable_instance(read_only_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TESTAPP_INSTANCE_PATH", str(read_only_folder))
    monkeypatch.setenv("MYAPP_INSTANCE_PATH", str(read_only_folder))
    return read_only_folder


def test_read_only_instance_folder_leaves_no_key(
    make_app: MakeApp, unwritable_instance: Path
) -> None:
    app = make_app()

    assert app.config["SECRET_KEY"] is None
    assert [s.origin.layer for s in get_registry(app).history.history("SECRET_KEY")] == [
        Layer.FLASK
    ]


def test_request_is_refused_and_the_error_says_where_to_set_the_key(
    unwritable_instance: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = appfactory("myapp", None)
    add_session_route(app)

    with caplog.at_level(logging.ERROR), app.test_client() as client:
        response = client.get("/cfg-session")
        assert response.status_code == 500
        response.close()

    errors = [r for r in caplog.records if r.exc_info and r.exc_info[1] is not None]
    assert len(errors) == 1
    error = errors[0].exc_info[1]  # type: ignore[index]
    assert isinstance(error, SecretKeyError)
    message = str(error)
    assert message.startswith(
        "SECRET_KEY is not set for 'myapp', and the app refuses to serve without one. No key "
        f"could be kept in {unwritable_instance / 'secret-key'} either (OSError: "
    )
    assert f"Set SECRET_KEY in the instance file {unwritable_instance / 'myapp.cfg'}" in message
    assert "or in the environment variable MYAPP_SECRET_KEY." in message
    assert "secrets.token_hex(32)" in message


def test_every_route_is_refused(
    make_app: MakeApp, unwritable_instance: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()

    with caplog.at_level(logging.ERROR), app.test_client() as client:
        response = client.get("/no-such-page")
        assert response.status_code == 500
        response.close()

    assert any(r.exc_info and isinstance(r.exc_info[1], SecretKeyError) for r in caplog.records), (
        "a 404 page must not be served without a secret key either"
    )


def test_app_context_works_without_a_secret_key(
    make_app: MakeApp, unwritable_instance: Path
) -> None:
    app = make_app()

    with app.app_context():
        assert current_app.name == "testapp"


def test_check_reports_the_missing_key(make_app: MakeApp, unwritable_instance: Path) -> None:
    app = make_app()

    [problem] = [p for p in check_app(app) if p.id == "AF001"]

    assert problem.name == "secret-key-missing"
    assert problem.level is Level.WARNING
    assert problem.message.startswith(
        f"SECRET_KEY is not set for 'testapp' and no key file could be kept in "
        f"{unwritable_instance / 'secret-key'} (OSError: "
    )
    assert problem.message.endswith("; the app refuses to serve requests.")
    assert problem.hint == (
        f"Set SECRET_KEY in the instance file {unwritable_instance / 'testapp.cfg'} or in the "
        "environment variable TESTAPP_SECRET_KEY."
    )


def test_run_refuses_in_one_line(make_app: MakeApp, unwritable_instance: Path) -> None:
    create_app = lambda load=True, **kw: make_app(load=load, **kw)  # noqa: E731

    result = CliRunner().invoke(clifactory(create_app), ["run"])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: SECRET_KEY is not set for 'testapp', and the app refuses")
    assert "Traceback" not in result.output


# A configured key


@pytest.mark.parametrize("testing", [True, False])
@pytest.mark.parametrize("layer", ["kwargs", "instance", "env"])
def test_configured_key_is_kept(
    make_app: MakeApp,
    write_instance_file: t.Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    instance_path: Path,
    layer: str,
    testing: bool,
) -> None:
    config: dict[str, t.Any] = {"TESTING": testing}
    if layer == "kwargs":
        config["SECRET_KEY"] = STRONG_KEY
    elif layer == "instance":
        write_instance_file("testapp", f"SECRET_KEY = {STRONG_KEY!r}\n")
    else:
        monkeypatch.setenv("TESTAPP_SECRET_KEY", STRONG_KEY)

    app = make_app(**config)

    assert app.config["SECRET_KEY"] == STRONG_KEY
    origin = get_registry(app).history.origin("SECRET_KEY")
    assert origin is not None
    assert (
        origin.layer
        is {"kwargs": Layer.KWARGS, "instance": Layer.INSTANCE, "env": Layer.ENV}[layer]
    )
    assert not {p.id for p in check_app(app)} & {"AF001", "AF002", "AF003"}
    assert not (instance_path / "secret-key").exists(), "a configured key wins: no key file"
    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 404
        response.close()


def test_key_from_the_environment_stays_text(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESTAPP_SECRET_KEY", "12345678901234567890123456789012345")

    app = make_app()

    assert app.config["SECRET_KEY"] == "12345678901234567890123456789012345"


@pytest.mark.parametrize("value", [12345, ["a", "b"], 1.5])
def test_key_that_is_not_text_is_refused(make_app: MakeApp, value: t.Any) -> None:
    with pytest.raises(ConfigError) as info:
        make_app(SECRET_KEY=value)

    message = str(info.value)
    assert message.startswith(
        f"SECRET_KEY (set by keyword argument (SECRET_KEY)) is a {type(value).__name__}, not "
        "a text: Flask cannot sign sessions with it."
    )
    assert str(value) not in message


def test_short_key_is_reported(make_app: MakeApp) -> None:
    app = make_app(SECRET_KEY="change-me")

    [problem] = [p for p in check_app(app) if p.id == "AF003"]

    assert problem.name == "secret-key-weak"
    assert problem.message == (
        "SECRET_KEY (set by keyword argument (SECRET_KEY)) has 9 characters; a guessable key "
        "lets anyone sign sessions."
    )
    assert "change-me" not in str(problem)


@pytest.mark.parametrize("key", ["SECRET_KEY", "SECRET_KEY_FALLBACKS"])
def test_package_that_ships_a_key_is_refused(
    make_app: MakeApp, make_package: t.Any, key: str
) -> None:
    value = "'shipped-to-everyone'" if key == "SECRET_KEY" else "['shipped-to-everyone']"
    make_package("pkg_keyed", {"config.py": f"{key} = {value}\n"})

    with pytest.raises(PackageContentError) as info:
        make_app(PACKAGES=["pkg_keyed"], SECRET_KEY=STRONG_KEY)

    assert str(info.value) == (
        f"pkg_keyed.config sets {key}, a secret that every install of 'pkg_keyed' would "
        "share, so anyone could sign this app's sessions. Remove it from pkg_keyed.config: the "
        "app's key comes from its instance folder or its own settings."
    )
    assert "shipped-to-everyone" not in str(info.value)


def test_key_set_after_loading_is_honoured(make_app: MakeApp, unwritable_instance: Path) -> None:
    app = make_app()
    app.config["SECRET_KEY"] = STRONG_KEY

    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 404
        response.close()
