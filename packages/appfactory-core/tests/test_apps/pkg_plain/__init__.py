"""A package with no config, views or cli module: allowed."""
