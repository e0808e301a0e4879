"""An app for the worker tests."""
