"""Version of the appfactory-sqlalchemy distribution."""

__version__ = "0.1.0"
