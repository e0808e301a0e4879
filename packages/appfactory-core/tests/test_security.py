"""Nothing appfactory adds opens a door.

- Environment values are parsed as literals, never evaluated: a planted
  ``__import__('os').system('touch ...')`` stays text (or is refused) and the
  file it would create never appears, whichever way the variable is read.
- The instance folder is created readable by its owner only, whatever the umask.
- ``run`` listens on 127.0.0.1 unless told otherwise.

Masking of secrets in every output is proved end to end, with a worker, in
appfactory-celery's ``test_worker_security.py``; the real ``myapp run`` in
``examples/myapp/tests/test_myapp_security.py``.
"""

from __future__ import annotations

import os
import stat
import typing as t
from pathlib import Path

import flask.cli
import pytest
from click.testing import CliRunner

from appfactory.core import ConfigError, appfactory, clifactory

MakeApp = t.Callable[..., t.Any]


def payload(target: Path) -> str:
    """Python that would create ``target`` if it were ever evaluated."""
    return f"__import__('os').system('touch {target}')"


@pytest.fixture
def target(tmp_path: Path) -> t.Iterator[Path]:
    """The file a planted payload would create; the test fails if it exists at the end."""
    path = tmp_path / "evaluated"
    yield path
    assert not path.exists(), "an environment value was evaluated"


@pytest.mark.parametrize(
    ("variable", "key", "config", "wrap"),
    [
        # A setting nothing defines: the text is kept as a string.
        ("TESTAPP_GREETING", "GREETING", {}, "{}"),
        # A string setting: kept as the raw text.
        ("TESTAPP_SERVER_NAME", "SERVER_NAME", {"SERVER_NAME": "example.org"}, "{}"),
        # Inside what looks like a container literal: not a literal, so a string.
        ("TESTAPP_ALLOWED", "ALLOWED", {}, "[{}]"),
        ("TESTAPP_OPTIONS", "OPTIONS", {}, "{{'run': {}}}"),
    ],
)
def test_planted_code_stays_a_string(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    target: Path,
    variable: str,
    key: str,
    config: dict[str, t.Any],
    wrap: str,
) -> None:
    raw = wrap.format(payload(target))
    monkeypatch.setenv(variable, raw)

    app = make_app(**config)

    assert app.config[key] == raw
    assert type(app.config[key]) is str


@pytest.mark.parametrize(
    ("variable", "config", "kind"),
    [
        ("TESTAPP_DEBUG", {}, "bool"),
        ("TESTAPP_MAX_COOKIE_SIZE", {}, "int"),
        ("TESTAPP_PACKAGES", {"PACKAGES": []}, "list"),
        ("TESTAPP_EXTENSIONS", {"EXTENSIONS": []}, "list"),
        ("TESTAPP_BLUEPRINTS_URL_PREFIXES", {"BLUEPRINTS_URL_PREFIXES": {}}, "dict"),
    ],
)
def test_planted_code_in_a_typed_setting_is_refused(
    make_app: MakeApp,
    monkeypatch: pytest.MonkeyPatch,
    target: Path,
    variable: str,
    config: dict[str, t.Any],
    kind: str,
) -> None:
    monkeypatch.setenv(variable, payload(target))

    with pytest.raises(
        ConfigError, match=f"Environment variable {variable}=.* is not a valid {kind}"
    ):
        make_app(**config)


def test_planted_code_in_a_legacy_variable_stays_a_string(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, target: Path
) -> None:
    # APP_CONFIG_ENVS names bare variables, read like the prefixed ones.
    monkeypatch.setenv("TESTAPP_APP_CONFIG_ENVS", "DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL", payload(target))

    app = make_app()

    assert app.config["DATABASE_URL"] == payload(target)


def test_planted_code_in_the_legacy_list_itself_is_only_names(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, target: Path
) -> None:
    monkeypatch.setenv("TESTAPP_APP_CONFIG_ENVS", f"[{payload(target)}]")

    app = make_app()

    # Not a literal, so a string of names to look up in the environment (none is set).
    assert "TESTAPP_APP_CONFIG_ENVS" not in app.config


def test_planted_code_is_shown_as_text(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    monkeypatch.setenv("TESTAPP_GREETING", payload(target))
    cli = clifactory(lambda load=True, **kw: appfactory("testapp", None, load=load, **kw))

    result = CliRunner().invoke(cli, ["config", "show", "GREETING"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"GREETING = {payload(target)!r}"


# The instance folder


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o000, 0o002, 0o022, 0o077], ids=lambda m: f"umask-{m:03o}")
def umask(request: pytest.FixtureRequest) -> t.Iterator[int]:
    """Run the test under this umask (0o000 is the most permissive)."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_instance_folder_is_private_whatever_the_umask(umask: int, instance_path: Path) -> None:
    appfactory("testapp", load=False)

    assert mode_of(instance_path) == 0o700


def test_instance_folder_given_as_argument_is_private(umask: int, tmp_path: Path) -> None:
    folder = tmp_path / "parent" / "instance"

    appfactory("testapp", load=False, instance_path=str(folder))

    assert mode_of(folder) == 0o700


def test_only_the_private_key_file_is_written_into_the_instance_folder(
    make_app: MakeApp, instance_path: Path
) -> None:
    """Without a configured key, the one file written is the key file, readable by its
    owner only; with a configured key, nothing is written."""
    app = make_app(PACKAGES=["pkg_alpha", "pkg_beta"], TESTING=True)

    assert [p.name for p in instance_path.iterdir()] == ["secret-key"]
    assert mode_of(instance_path / "secret-key") == 0o600
    assert app.config["SECRET_KEY"] == (instance_path / "secret-key").read_text().strip()

    (instance_path / "secret-key").unlink()
    make_app(PACKAGES=["pkg_alpha", "pkg_beta"], SECRET_KEY="0123456789abcdef" * 4)
    assert list(instance_path.iterdir()) == []


# The development server


def test_run_listens_on_loopback_by_default(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, t.Any]] = []
    monkeypatch.setattr(flask.cli.run_command, "callback", lambda **kw: calls.append(kw))
    cli = clifactory(lambda load=True, **kw: appfactory("testapp", None, load=load, **kw))

    [host] = [p for p in cli.commands["run"].params if p.name == "host"]
    result = CliRunner().invoke(cli, ["run", "--no-reload"], env={"TESTAPP_SECRET_KEY": "x"})

    assert host.default == "127.0.0.1"
    assert result.exit_code == 0, result.output
    assert [call["host"] for call in calls] == ["127.0.0.1"]
