"""Tables of mymodule, created by the example's database extension."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS greetings (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL
)
"""
