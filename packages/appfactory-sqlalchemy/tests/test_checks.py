"""Each check id of appfactory-sqlalchemy fires; ``packages`` shows tables and heads."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from conftest import PACKAGES, Run, revision_file, table_model

from appfactory.sqlalchemy import CHECKS


def test_healthy_app_has_no_problem(sqlite_url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(sqlite_url)
    run("db", "upgrade")

    assert run("check").strip().endswith("No problems found.")


def test_models_without_migrations(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_loose", {"models.py": table_model("mig_loose_row")})
    run = make_run(sqlite_url, [*PACKAGES, "mig_loose"])
    run("db", "upgrade")

    output = run("check")

    assert (
        "warning AF401 models-without-migrations: Package 'mig_loose' defines table(s) "
        "'mig_loose_row' but has no migrations; no 'db upgrade' creates them. Hint: Start its "
        "migrations: myapp db revision --package mig_loose -m 'Create tables'." in output
    )


@pytest.mark.parametrize("database", ["sqlite", "sqlite-missing", "postgresql"])
def test_migrations_not_applied(
    database: str, tmp_path: Path, make_run: t.Callable[..., Run], request: pytest.FixtureRequest
) -> None:
    if database == "postgresql":
        url = _postgres(request, tmp_path)
    elif database == "sqlite-missing":
        url = f"sqlite:///{tmp_path / 'not-yet.sqlite3'}"
    else:
        url = f"sqlite:///{tmp_path / 'migapp.sqlite3'}"
    run = make_run(url)
    if database != "sqlite-missing":
        run("db", "upgrade", "--package", "mig_catalog")
        run("db", "upgrade", "a1000000001")

    output = run("check")

    assert (
        f"warning AF402 migrations-not-applied: The migrations of package 'mig_accounts' are "
        f"not applied to {url!r}: head(s) a1000000002 missing. Hint: Run: myapp db upgrade"
        in output
    )
    assert "package 'mig_orders' are not applied" in output
    assert ("package 'mig_catalog' are not applied" in output) is (database == "sqlite-missing")
    assert not (tmp_path / "not-yet.sqlite3").exists()


def test_unreachable_database_is_not_reported(
    make_run: t.Callable[..., Run],
) -> None:
    run = make_run("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")

    output = run("check")

    assert "AF402" not in output


def test_table_defined_twice(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_shadow", {"models.py": table_model("mig_user", ", extend_existing=True")})
    run = make_run(sqlite_url, [*PACKAGES, "mig_shadow"])

    output = run("check", code=1)

    assert (
        "error AF403 table-defined-twice: Table 'mig_user' is defined by packages "
        "'mig_accounts' and 'mig_shadow'; their models and migrations would fight over it. "
        "Hint: Give each table one owner: rename one (__tablename__), or drop a package." in output
    )


def test_several_heads(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    folder = make_package(
        "mig_forked",
        {
            "migrations/f1.py": revision_file("f1", None, "pass", label="mig_forked"),
            "migrations/f2.py": revision_file("f2", "f1", "pass"),
            "migrations/f3.py": revision_file("f3", "f1", "pass"),
        },
    )
    run = make_run(sqlite_url, [*PACKAGES, "mig_forked"])
    run("db", "upgrade")

    output = run("check", code=1)

    assert (
        "error AF404 migrations-several-heads: The migrations of package 'mig_forked' have 2 "
        "heads (f2, f3); a new revision has no single parent. Hint: Merge them: a revision in "
        f"{folder / 'migrations'} with down_revision = ('f2', 'f3') (and pass)." in output
    )
    assert "AF402" not in output


def test_unreadable_migrations(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_garbled", {"migrations/g1.py": "revision = 'g1'\ndown_revision = ("})
    run = make_run(sqlite_url, [*PACKAGES, "mig_garbled"])

    output = run("check", code=1)

    assert "error AF405 migrations-unreadable: The migrations cannot be read: SyntaxError" in output
    assert "mig_garbled/migrations/g1.py" in output
    assert "migrations:  cannot be read (see myapp check)" in run("packages")


def test_packages_lists_tables_and_heads(sqlite_url: str, make_run: t.Callable[..., Run]) -> None:
    output = make_run(sqlite_url)("packages")

    assert "   migrations:  head a1000000002\n   tables:      mig_user\n" in output
    assert "   migrations:  head o1000000001\n   tables:      mig_order\n" in output


def test_every_check_is_tested() -> None:
    source = Path(__file__).read_text(encoding="utf-8")

    assert [check_id for check_id in CHECKS if f" {check_id} " not in source] == []


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    from conftest import postgres_server

    from appfactory.sqlalchemy.testing import empty_database

    manager = empty_database(postgres_server(), tmp_path)
    url = manager.__enter__()
    request.addfinalizer(lambda: manager.__exit__(None, None, None))
    return url
