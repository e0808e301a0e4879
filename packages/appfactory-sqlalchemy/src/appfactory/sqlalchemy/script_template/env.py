"""Alembic's environment of every app and package (see appfactory.sqlalchemy.environment)."""

from appfactory.sqlalchemy.environment import run_environment

run_environment()
