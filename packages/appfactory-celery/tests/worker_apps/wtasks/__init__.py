"""Tasks for the worker tests."""
