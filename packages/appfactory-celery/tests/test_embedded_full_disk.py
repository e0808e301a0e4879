"""A disk that fills up under a running worker on the embedded broker.

The worker says what is wrong in its log (the store, its folder and the fix),
does not stop, and once there is room again the task whose result could not
be stored is given back to its queue at once (not when its lease runs out, an
hour later) and runs again: its result arrives.
"""

from __future__ import annotations

import subprocess
import time
import typing as t
from pathlib import Path

from flask import Flask
from test_embedded_store import mount, unmount, wapp  # noqa: F401 - fixtures
from workers import Worker

from appfactory.celery import celeryfactory


def test_a_full_disk_under_a_worker(
    wapp: t.Callable[..., Flask],  # noqa: F811
    unmount: list[Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    instance = tmp_path / "small"
    instance.mkdir()
    mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(instance))
    unmount.append(instance)
    app = wapp(instance_path=str(instance))
    celeryfactory(app)
    from wtasks.tasks import where

    worker = Worker("wapp.celery", {"WAPP_INSTANCE_PATH": str(instance)}, tmp_path / "w.log")
    try:
        worker.wait_ready()
        with app.app_context():
            result = where.delay(3.0)
            time.sleep(1.0)
            # Fill the file system while the task runs: its result cannot be stored.
            filler = instance / "filler"
            subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
            time.sleep(5)
            output = worker.output()
            assert "free disk space on the file system of" in output, output[-3000:]
            assert str(instance / "celery") in output
            assert worker.process.poll() is None, output[-3000:]
            filler.unlink()
            assert result.get(timeout=30) == worker.name
        assert "Gave back 1 task message(s)" in worker.output()
        assert "Unrecoverable error" not in worker.output()
    finally:
        worker.stop()
