"""Configuration of the database tests' app (database and broker come from the environment)."""

EXTENSIONS = ["wdb.database", "appfactory.celery"]
PACKAGES = ["wdb"]
