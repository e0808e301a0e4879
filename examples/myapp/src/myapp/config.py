"""Configuration of myapp: its extensions and packages."""

EXTENSIONS = [
    "myexts.database",
]

PACKAGES = [
    "mymodule",
]
