"""Version of the appfactory-core distribution."""

__version__ = "0.1.0"
