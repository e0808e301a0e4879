"""From an empty database to head with one command, and one package down, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import typing as t

import pytest
from conftest import Run

HEADS = {"a1000000002", "o1000000001", "c1000000001"}
TABLES = {"mig_user", "mig_order", "mig_product", "alembic_version"}


def test_upgrade_then_downgrade_one_package(url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(url)

    output = run("db", "upgrade")

    assert "Applied 4 revision(s)." in output
    assert run.tables() == TABLES
    assert run.versions() == HEADS

    output = run("db", "downgrade", "--package", "mig_catalog", "base")

    assert output.strip() == "Reverted 1 revision(s); mig_catalog: base"
    assert run.tables() == TABLES - {"mig_product"}
    assert run.versions() == HEADS - {"c1000000001"}
    assert run("db", "current").splitlines() == [
        "mig_orders: o1000000001 (head)",
        "mig_accounts: a1000000002 (head)",
        "mig_catalog: base (not at head)",
    ]


def test_one_step_down_and_up_again(url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(url)
    run("db", "upgrade")

    run("db", "downgrade", "--package", "mig_accounts")

    # Alembic keeps a row per head not implied by another: the orders' row, whose
    # revision depends on a1000000001, stands for it.
    assert run.versions() == {"o1000000001", "c1000000001"}
    assert run("db", "current").splitlines()[1] == "mig_accounts: a1000000001 (not at head)"
    assert "email" not in _columns(run, "mig_user")

    run("db", "upgrade", "--package", "mig_accounts")

    assert run.versions() == HEADS
    assert "email" in _columns(run, "mig_user")


def test_one_package_brings_its_dependencies(
    sqlite_url: str, make_run: t.Callable[..., Run]
) -> None:
    run = make_run(sqlite_url)

    run("db", "upgrade", "--package", "mig_orders")

    assert run.tables() == {"mig_user", "mig_order", "alembic_version"}
    assert run.versions() == {"a1000000002", "o1000000001"}


def test_upgrade_to_one_revision(sqlite_url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(sqlite_url)

    run("db", "upgrade", "a1000000001")

    assert run.versions() == {"a1000000001"}
    assert run("db", "current").splitlines()[1] == "mig_accounts: a1000000001 (not at head)"


def test_dependency_cannot_go_to_base_under_its_dependent(
    sqlite_url: str, make_run: t.Callable[..., Run]
) -> None:
    run = make_run(sqlite_url)
    run("db", "upgrade")

    output = run("db", "downgrade", "--package", "mig_accounts", "base", code=1)

    assert (
        "Error: Package 'mig_accounts' cannot go down to base: the tables of 'mig_orders' "
        "need its tables (DEPENDS_ON); downgrade that package first." in output
    )
    assert run.versions() == HEADS

    run("db", "downgrade", "--package", "mig_accounts")  # a1000000002: nothing needs it
    output = run("db", "downgrade", "--package", "mig_accounts", code=1)
    assert "Package 'mig_accounts' cannot go down to -1: the tables of 'mig_orders'" in output

    run("db", "downgrade", "--package", "mig_orders", "base")
    run("db", "downgrade", "--package", "mig_accounts", "base")

    assert run.tables() == {"mig_product", "alembic_version"}
    assert run.versions() == {"c1000000001"}


def test_history_marks_what_is_applied(sqlite_url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(sqlite_url)
    run("db", "upgrade", "a1000000001")

    assert run("db", "history", "--package", "mig_accounts").splitlines() == [
        "mig_accounts:",
        "  [ ] a1000000001 -> a1000000002: Add the user's email.",
        "  [x] base -> a1000000001: Create the user table.",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["downgrade", "--package", "nothere"],
            "Error: 'nothere' is not a package of the app (its packages: 'mig_orders', "
            "'mig_accounts', 'mig_catalog'); give one of them, or add it to PACKAGES.",
        ),
        (
            ["downgrade", "--package", "mig_accounts", "c1000000001"],
            "Error: Revision 'c1000000001' is of package 'mig_catalog', not 'mig_accounts'; "
            "give a revision of 'mig_accounts', '-1' or 'base'.",
        ),
        (
            ["upgrade", "nope"],
            "Error: Migrating to 'nope' failed: CommandError: Can't locate revision identified "
            "by 'nope'. See the revisions with 'db history'.",
        ),
        (
            ["downgrade", "--package", "mig_accounts", "nope"],
            "Error: Unknown revision 'nope': CommandError: Can't locate revision identified by "
            "'nope'. See the revisions with 'db history'.",
        ),
        (
            ["upgrade", "--package", "mig_orders", "o1000000001"],
            "Error: Give --package or REVISION, not both.",
        ),
    ],
)
def test_bad_requests(
    sqlite_url: str, make_run: t.Callable[..., Run], args: list[str], message: str
) -> None:
    run = make_run(sqlite_url)

    output = run("db", *args, code=2 if "not both" in message else 1)

    assert message in output


def _columns(run: Run, table: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(run.url, poolclass=sa.NullPool)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()
