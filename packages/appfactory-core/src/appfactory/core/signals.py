"""Signals sent while an app is assembled.

Receivers get the Flask app as the sender::

    from appfactory.core import app_loaded

    @app_loaded.connect
    def announce(app):
        app.logger.info("%s is ready", app.name)
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent when the configuration of an app is loaded, before extensions,
#: blueprints and commands (also for apps made with ``load=False``).
app_created = _signals.signal("appfactory.app-created")

#: Sent when :func:`~appfactory.core.load_application` has finished.
app_loaded = _signals.signal("appfactory.app-loaded")
