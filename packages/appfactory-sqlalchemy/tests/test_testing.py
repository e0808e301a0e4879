"""The pytest plugin appfactory.sqlalchemy.testing, run by pytest in pytest."""

from __future__ import annotations

import typing as t

import pytest
from conftest import DBAPPS, PACKAGES, SECRET_KEY

CONFTEST = f"""
import sys
import pytest
from appfactory.core import appfactory

pytest_plugins = ["appfactory.core.testing", "appfactory.sqlalchemy.testing"]
sys.path.insert(0, {str(DBAPPS)!r})


@pytest.fixture(scope="session")
def create_app():
    def create_app(load=True, **config):
        config.setdefault("SECRET_KEY", {SECRET_KEY!r})
        return appfactory("dbtested", None, load=load, EXTENSIONS=["appfactory.sqlalchemy"],
                          PACKAGES={PACKAGES!r}, **config)
    return create_app
"""

TESTS = """
import sqlalchemy as sa
from mig_accounts.models import User


def test_first_writes_and_commits(db_session, database_url):
    db_session.add(User(name="ada", email="ada@example.org"))
    db_session.commit()
    db_session.add(User(name="bob"))
    db_session.flush()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 2
    print("URL", database_url)


def test_second_sees_nothing_of_the_first(db_session):
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_upgraded_to_head_once(database_app, db_session):
    rows = db_session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    assert set(rows) == {"a1000000002", "o1000000001", "c1000000001"}


def test_db_session_is_ordinary_again_after_the_fixture(database_app):
    from appfactory.sqlalchemy import db

    with database_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        db.session.remove()
"""


@pytest.mark.parametrize("server", ["sqlite", "postgresql"])
def test_database_per_run_and_rollback_per_test(pytester: pytest.Pytester, server: str) -> None:
    args: list[str] = ["-p", "no:cacheprovider", "-s"]
    if server == "postgresql":
        from conftest import postgres_server

        args.append(f"--database-url={postgres_server()}")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_db=TESTS)

    result = pytester.runpytest_subprocess(*args)

    result.assert_outcomes(passed=4)
    (url,) = [line.partition("URL ")[2] for line in result.outlines if "URL " in line]
    if server == "sqlite":
        assert url.startswith("sqlite:///")
        assert "/test_" in url
    else:
        name = url.rpartition("/")[2]
        assert url.startswith("postgresql+psycopg://postgres@")
        assert "appfactory_test_" in name
        assert not _database_exists(name)


def _database_exists(name: str) -> bool:
    import sqlalchemy as sa
    from conftest import POSTGRES

    engine = sa.create_engine(POSTGRES.replace("/appfactory", "/postgres"), poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            found: t.Any = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            return found is not None
    finally:
        engine.dispose()
