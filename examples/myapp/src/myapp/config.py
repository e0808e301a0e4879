"""Configuration of myapp: its extensions, packages and Celery broker."""

EXTENSIONS = [
    "myexts.database",
    "appfactory.celery",
]

PACKAGES = [
    "mymodule",
]

# Celery: with no broker configured, the embedded broker in the instance
# folder is used (no server needed). For Redis, set for example
#   CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
# here, in the instance file, or as MYAPP_CELERY_BROKER_URL.
