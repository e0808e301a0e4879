"""``db revision --package NAME``: a package's migrations started and continued, its
tables only compared."""

from __future__ import annotations

import typing as t
from pathlib import Path

import sqlalchemy as sa
from conftest import PACKAGES, Run, table_model


def test_first_revision_of_a_package_creates_its_tables_only(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    folder = make_package("mig_notes", {"models.py": table_model("mig_note")})
    run = make_run(sqlite_url, [*PACKAGES, "mig_notes"])
    run("db", "upgrade")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
    engine.dispose()

    output = run("db", "revision", "--package", "mig_notes", "-m", "Create notes")

    (made,) = sorted((folder / "migrations").glob("*_create_notes.py"))
    assert output.strip() == f"Revision {made.name.split('_')[0]} of mig_notes: {made}"
    source = made.read_text(encoding="utf-8")
    assert "op.create_table('mig_note'" in source
    assert "branch_labels = ('mig_notes',)" in source
    assert "depends_on = None" in source
    # Other packages' tables, and tables of no package, are left alone.
    assert "mig_user" not in source
    assert "stray" not in source
    assert (folder / "migrations" / "__init__.py").is_file()

    run("db", "upgrade")

    assert "mig_note" in run.tables()
    assert "mig_notes: " in run("db", "current")
    assert run("check", code=0).strip().endswith("No problems found.")


def test_first_revision_depends_on_the_heads_of_the_declared_packages(
    sqlite_url: str, make_run: t.Callable[..., Run], make_package: t.Callable[..., Path]
) -> None:
    folder = make_package(
        "mig_reviews",
        {
            "models.py": table_model(
                "mig_review", ", sa.Column('user_id', sa.ForeignKey('mig_user.id'))"
            ),
            "migrations/__init__.py": "DEPENDS_ON = ['mig_accounts']",
        },
    )
    run = make_run(sqlite_url, [*PACKAGES, "mig_reviews"])
    run("db", "upgrade")

    run("db", "revision", "--package", "mig_reviews", "-m", "Reviews")
    run("db", "revision", "--package", "mig_reviews", "-m", "Nothing", "--empty")

    (first,) = sorted((folder / "migrations").glob("*_reviews.py"))
    (second,) = sorted((folder / "migrations").glob("*_nothing.py"))
    assert "depends_on = 'a1000000002'" in first.read_text(encoding="utf-8")
    first_id = first.name.split("_")[0]
    assert f"down_revision = {first_id!r}" in second.read_text(encoding="utf-8")

    run("db", "downgrade", "--package", "mig_accounts", "base", code=1)
    run("db", "upgrade")
    assert "mig_review" in run.tables()


def test_revision_needs_an_up_to_date_database(
    sqlite_url: str, make_run: t.Callable[..., Run]
) -> None:
    run = make_run(sqlite_url)

    output = run("db", "revision", "--package", "mig_catalog", "-m", "More", code=1)

    assert (
        "Error: No revision made for package 'mig_catalog': CommandError: Target database is "
        "not up to date. Run 'db upgrade' first." in output
    )
