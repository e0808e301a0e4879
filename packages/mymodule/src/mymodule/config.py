"""Default configuration of mymodule (the app may override it)."""

MYMODULE_GREETING = "Hello, World!"
