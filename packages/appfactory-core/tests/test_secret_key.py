"""The SECRET_KEY rule: never a known value; generated only in debug or testing."""

from __future__ import annotations

import logging
import re
import typing as t
import warnings
from pathlib import Path

import pytest
from flask import Flask, current_app, session

from appfactory.core import (
    AppFactoryWarning,
    Layer,
    Level,
    Origin,
    SecretKeyError,
    appfactory,
    check_app,
    get_registry,
)

MakeApp = t.Callable[..., Flask]
HEX_KEY = re.compile(r"^[0-9a-f]{64}$")


def add_session_route(app: Flask) -> None:
    @app.route("/cfg-session")
    def use_session() -> str:
        session["seen"] = True
        return "ok"


def test_no_secret_key_outside_debug_and_testing(make_app: MakeApp) -> None:
    app = make_app()

    assert app.config["SECRET_KEY"] is None
    assert not app.debug
    assert not app.testing
    assert [s.origin.layer for s in get_registry(app).history.history("SECRET_KEY")] == [
        Layer.FLASK
    ]


def test_request_is_refused_and_the_error_says_where_to_set_the_key(
    instance_path: Path, caplog: pytest.LogCaptureFixture
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
        "SECRET_KEY is not set for 'myapp', and the app refuses to serve without one "
        "(outside debug and testing)."
    )
    assert f"Set SECRET_KEY in the instance file {instance_path / 'myapp.cfg'}" in message
    assert "or in the environment variable MYAPP_SECRET_KEY." in message
    assert "secrets.token_hex(32)" in message


def test_every_route_is_refused(make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()

    with caplog.at_level(logging.ERROR), app.test_client() as client:
        response = client.get("/no-such-page")
        assert response.status_code == 500
        response.close()

    assert any(r.exc_info and isinstance(r.exc_info[1], SecretKeyError) for r in caplog.records), (
        "a 404 page must not be served without a secret key either"
    )


def test_app_context_works_without_a_secret_key(make_app: MakeApp) -> None:
    app = make_app()

    with app.app_context():
        assert current_app.name == "testapp"


def test_check_reports_the_missing_key(make_app: MakeApp, instance_path: Path) -> None:
    app = make_app()

    problems = [p for p in check_app(app) if p.id == "AF001"]

    assert len(problems) == 1
    problem = problems[0]
    assert problem.name == "secret-key-missing"
    assert problem.level >= Level.WARNING
    assert problem.message == (
        "SECRET_KEY is not set for 'testapp'; the app refuses to serve requests."
    )
    assert problem.hint == (
        f"Set SECRET_KEY in the instance file {instance_path / 'testapp.cfg'} or in the "
        "environment variable TESTAPP_SECRET_KEY."
    )


def test_empty_secret_key_counts_as_missing(make_app: MakeApp) -> None:
    app = make_app(SECRET_KEY="")

    assert "AF001" in {p.id for p in check_app(app)}
    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 500
        response.close()


@pytest.mark.parametrize(
    ("config", "variables"),
    [
        ({"TESTING": True}, {}),
        ({"DEBUG": True}, {}),
        ({}, {"TESTAPP_TESTING": "true"}),
        ({}, {"TESTAPP_DEBUG": "1"}),
    ],
    ids=["TESTING", "DEBUG", "TESTAPP_TESTING", "TESTAPP_DEBUG"],
)
def test_key_generated_in_debug_or_testing(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, t.Any],
    variables: dict[str, str],
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.warns(AppFactoryWarning) as record:
        app = make_app(**config)

    key = app.config["SECRET_KEY"]
    assert HEX_KEY.match(key)
    assert key != "change_me"
    assert len(record) == 1
    assert str(record[0].message).startswith(
        "SECRET_KEY is not set for 'testapp'; a random key was generated because debug or "
        "testing is on."
    )
    assert "TESTAPP_SECRET_KEY" in str(record[0].message)
    assert get_registry(app).history.origin("SECRET_KEY") == Origin(
        Layer.GENERATED, "debug or testing"
    )


def test_generated_key_lets_requests_through(make_app: MakeApp) -> None:
    with pytest.warns(AppFactoryWarning):
        app = make_app(TESTING=True)
    add_session_route(app)

    with app.test_client() as client:
        response = client.get("/cfg-session")
        assert response.status_code == 200
        assert "session=" in response.headers["Set-Cookie"]
        response.close()


def test_generated_key_is_reported_by_check(make_app: MakeApp) -> None:
    with pytest.warns(AppFactoryWarning):
        app = make_app(TESTING=True)

    ids = {p.id for p in check_app(app)}

    assert "AF002" in ids
    assert "AF001" not in ids


def test_generated_keys_differ_per_app(make_app: MakeApp) -> None:
    with pytest.warns(AppFactoryWarning):
        first = make_app(TESTING=True)
    with pytest.warns(AppFactoryWarning):
        second = make_app(TESTING=True)

    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


@pytest.mark.parametrize("testing", [True, False])
@pytest.mark.parametrize("layer", ["kwargs", "instance", "env"])
def test_configured_key_is_kept(
    make_app: MakeApp,
    write_instance_file: t.Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    layer: str,
    testing: bool,
) -> None:
    config: dict[str, t.Any] = {"TESTING": testing}
    if layer == "kwargs":
        config["SECRET_KEY"] = "configured-key"
    elif layer == "instance":
        write_instance_file("testapp", "SECRET_KEY = 'configured-key'\n")
    else:
        monkeypatch.setenv("TESTAPP_SECRET_KEY", "configured-key")

    with warnings.catch_warnings():
        warnings.simplefilter("error", AppFactoryWarning)
        app = make_app(**config)

    assert app.config["SECRET_KEY"] == "configured-key"
    origin = get_registry(app).history.origin("SECRET_KEY")
    assert origin is not None
    assert (
        origin.layer
        is {"kwargs": Layer.KWARGS, "instance": Layer.INSTANCE, "env": Layer.ENV}[layer]
    )
    assert not {"AF001", "AF002"} & {p.id for p in check_app(app)}
    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 404
        response.close()


def test_key_set_after_loading_is_honoured(make_app: MakeApp) -> None:
    app = make_app()
    app.config["SECRET_KEY"] = "set-later"

    with app.test_client() as client:
        response = client.get("/")
        assert response.status_code == 404
        response.close()
