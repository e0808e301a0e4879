"""The tables of mymodule, on the app's Flask-SQLAlchemy ``db``."""

from __future__ import annotations

from appfactory.sqlalchemy import db


class Greeting(db.Model):
    """A greeting left by a visitor."""

    __tablename__ = "greetings"

    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(200), nullable=False)
