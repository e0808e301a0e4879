"""An extension in the ``"module:Name"`` form: Name(app) is called."""

from flask import Flask

from cfg_exts import record_call


class Classy:
    def __init__(self, app: Flask) -> None:
        record_call(app, "classy")
        app.extensions["classy"] = self
