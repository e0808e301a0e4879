"""Version of the appfactory-celery distribution."""

__version__ = "0.1.0"
