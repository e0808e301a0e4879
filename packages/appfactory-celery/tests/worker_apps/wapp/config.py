"""Configuration of the worker tests' app (broker and marker come from the environment)."""

EXTENSIONS = ["appfactory.celery"]
PACKAGES = ["mymodule", "wtasks"]
MARKER = "unset"
