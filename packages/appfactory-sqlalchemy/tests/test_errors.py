"""A broken migration, dependencies that are missing or circular, a table defined twice."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from conftest import PACKAGES, Run, revision_file, table_model

HEADS = {"a1000000002", "o1000000001", "c1000000001"}


def test_broken_migration_names_package_revision_and_file(
    url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    create = "op.create_table('{}', sa.Column('id', sa.Integer, primary_key=True))"
    folder = make_package(
        "mig_broken",
        {
            "migrations/b1_ok.py": revision_file(
                "b1", None, create.format("mig_broken_ok"), label="mig_broken"
            ),
            "migrations/b2_broken.py": revision_file(
                "b2",
                "b1",
                create.format("mig_broken_half") + "\n    op.execute('SELECT * FROM nowhere')",
            ),
        },
    )
    run = make_run(url, [*PACKAGES, "mig_broken"])

    output = run("db", "upgrade", code=1)

    path = folder / "migrations" / "b2_broken.py"
    assert f"Error: Migration 'b2' of package 'mig_broken' ({path}) failed: " in output
    assert "nowhere" in output
    assert (
        "The database stays at the last revision applied of each package (mig_orders at "
        "o1000000001, mig_accounts at a1000000002, mig_catalog at c1000000001, mig_broken "
        "at b1); fix the migration and run the command again." in output
    )
    assert run.versions() == HEADS | {"b1"}
    assert "mig_broken_ok" in run.tables()
    if url.startswith("postgresql"):
        # Transactional DDL: the table that the failed revision made is rolled back.
        assert "mig_broken_half" not in run.tables()
    assert "Traceback" not in output


def test_revision_file_that_does_not_import(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    folder = make_package("mig_syntax", {"migrations/s1_bad.py": "revision = 's1'\ndef (:\n"})
    run = make_run(sqlite_url, ["mig_syntax"])

    output = run("db", "upgrade", code=1)

    assert "Error: The migrations cannot be read: " in output
    assert str(folder / "migrations" / "s1_bad.py") in output


def test_first_revision_without_branch_label(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    folder = make_package("mig_nolabel", {"migrations/n1.py": revision_file("n1", None, "pass")})
    run = make_run(sqlite_url, ["mig_nolabel"])

    output = run("db", "current", code=1)

    assert (
        f"Error: Revision 'n1' ({folder / 'migrations' / 'n1.py'}) starts the migrations of "
        "package 'mig_nolabel' but has no branch label 'mig_nolabel'; add branch_labels = "
        "('mig_nolabel',) to it." in output
    )


def test_dependency_that_is_not_a_package(sqlite_url: str, make_run: t.Callable[..., Run]) -> None:
    run = make_run(sqlite_url, ["mig_orders", "mig_catalog"])

    output = run("db", "upgrade", code=1)

    assert (
        "Error: Extension 'appfactory.sqlalchemy' in EXTENSIONS failed while setting up the "
        "app: MigrationDependencyError: Package 'mig_orders' needs the tables of package "
        "'mig_accounts' (DEPENDS_ON in "
        "mig_orders.migrations), but 'mig_accounts' is not a package of the app; add it to "
        "PACKAGES, or remove it from DEPENDS_ON." in output
    )


def test_dependency_without_migrations(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_plain", {})
    make_package("mig_needs", {"migrations/__init__.py": "DEPENDS_ON = ['mig_plain']"})
    run = make_run(sqlite_url, ["mig_needs", "mig_plain"])

    output = run("db", "upgrade", code=1)

    assert (
        "Package 'mig_needs' needs the tables of package 'mig_plain' (DEPENDS_ON in "
        "mig_needs.migrations), but 'mig_plain' has no migrations folder (mig_plain/"
        "migrations/); give it migrations, or remove it from DEPENDS_ON." in output
    )


def test_dependency_cycle(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_x", {"migrations/__init__.py": "DEPENDS_ON = ['mig_y']"})
    make_package("mig_y", {"migrations/__init__.py": "DEPENDS_ON = ('mig_z',)"})
    make_package("mig_z", {"migrations/__init__.py": "DEPENDS_ON = ['mig_x']"})
    run = make_run(sqlite_url, ["mig_x", "mig_y", "mig_z"])

    output = run("db", "upgrade", code=1)

    assert (
        "The migrations of packages 'mig_x' -> 'mig_y' -> 'mig_z' -> 'mig_x' depend on each "
        "other in a cycle (DEPENDS_ON); remove one of these dependencies (a table both need "
        "belongs in one package)." in output
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'mig_accounts'", "DEPENDS_ON in mig_bad.migrations must be a list of package names, "
         "not 'mig_accounts'; for example DEPENDS_ON = ['mymodule']."),
        ("[None]", "DEPENDS_ON in mig_bad.migrations holds None, which is not a package name; "
         "for example DEPENDS_ON = ['mymodule']."),
    ],
)  # fmt: skip
def test_dependencies_that_are_not_names(
    sqlite_url: str,
    make_run: t.Callable[..., Run],
    make_package: t.Callable[..., Path],
    value: str,
    message: str,
) -> None:
    make_package("mig_bad", {"migrations/__init__.py": f"DEPENDS_ON = {value}"})
    run = make_run(sqlite_url, ["mig_accounts", "mig_bad"])

    assert message in run("db", "upgrade", code=1)


def test_table_defined_twice_on_the_metadata(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    make_package("mig_first", {"models.py": table_model("mig_shared")})
    make_package("mig_second", {"models.py": table_model("mig_shared")})
    run = make_run(sqlite_url, ["mig_first", "mig_second"])

    output = run("db", "current", code=1)

    assert (
        "Package 'mig_second' defines table 'mig_shared' in mig_second.models, which package "
        "'mig_first' already defines; each table has one owner: rename one of the tables "
        "(__tablename__), or drop one package." in output
    )
