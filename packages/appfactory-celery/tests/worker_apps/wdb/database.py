"""The extension ``wdb.database``: one Flask-SQLAlchemy ``db``, as the tutorial's step 2."""

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def setup_app(app: Flask) -> None:
    """SQLite in the instance folder unless ``SQLALCHEMY_DATABASE_URI`` is set."""
    default = "sqlite:///" + os.path.join(app.instance_path, "wdb.sqlite")
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", default)
    db.init_app(app)
    from . import models  # noqa: F401  (the tables, on db.metadata)
