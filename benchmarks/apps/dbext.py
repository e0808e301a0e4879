"""The extension ``benchmarks.apps.dbext``: one Flask-SQLAlchemy ``db`` and one model.

The database is ``BENCHAPP_SQLALCHEMY_DATABASE_URI`` (set by the harness).
"""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

db = SQLAlchemy()


class Row(db.Model):  # type: ignore[name-defined,misc]
    """The row each benchmarked transaction writes before it sends its task."""

    __tablename__ = "bench_row"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), default="")


def setup_app(app: Flask) -> None:
    db.init_app(app)
