"""Version of the mymodule distribution."""

__version__ = "0.1.0"
