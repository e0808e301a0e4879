"""The rows the tests write, and the rows their tasks write when they run."""

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .database import db


class Item(db.Model):  # type: ignore[name-defined,misc]
    """A row written by the web side before it sends a task about it."""

    __tablename__ = "wdb_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")


class Seen(db.Model):  # type: ignore[name-defined,misc]
    """One run of ``look``: whether the task found its item."""

    __tablename__ = "wdb_seen"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    task_id: Mapped[str] = mapped_column(String(255))
    found: Mapped[bool] = mapped_column(Boolean)
