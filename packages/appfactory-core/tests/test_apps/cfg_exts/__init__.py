"""Extensions used by the factory tests.

Each records its call in ``app.extensions["cfg_calls"]`` with the blueprints
the app had at that moment.
"""

from flask import Flask


def record_call(app: Flask, name: str) -> None:
    app.extensions.setdefault("cfg_calls", []).append((name, sorted(app.blueprints)))
