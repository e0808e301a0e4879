"""A package with a blueprint and no config or models."""
