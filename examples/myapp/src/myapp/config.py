"""Configuration of myapp: its extensions, packages and Celery broker."""

EXTENSIONS = [
    "appfactory.sqlalchemy",
    "appfactory.celery",
]

PACKAGES = [
    "mymodule",
]

# Celery: with no broker configured, the embedded broker in the instance
# folder is used (no server needed). For Redis, set for example
#   CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
# here, in the instance file, or as MYAPP_CELERY_BROKER_URL.

# Database: with no SQLALCHEMY_DATABASE_URI, appfactory.sqlalchemy uses a SQLite
# file in the instance folder. For PostgreSQL, set for example
#   SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://user@127.0.0.1/myapp"
# here, in the instance file, or as MYAPP_SQLALCHEMY_DATABASE_URI.
