"""``myapp shell`` says where tasks go, and a result that never comes says why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "myapp"
#: What a reader types in the shell (tutorial step 4), with a short wait.
SEND_AND_WAIT = "from mymodule.tasks import appctx\nappctx.delay().get(timeout=1)\n"


def shell(stdin: str, instance: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``myapp shell`` with ``stdin`` as its input and only ``env`` among MYAPP_ variables."""
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: install examples/myapp in this virtualenv."
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MYAPP_", "FLASK_"))}
    return subprocess.run(
        [str(SCRIPT), "shell"],
        input=stdin,
        env={**base, "MYAPP_INSTANCE_PATH": str(instance), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_banner_names_the_embedded_broker_and_its_folder(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    result = shell("", instance, tmp_path)
    assert result.returncode == 0, result.stderr
    folder = instance / "celery"
    assert (
        f"Celery: tasks go to the embedded broker in {folder}; results with the tasks.\n"
    ) in result.stderr


def test_banner_masks_the_broker_password(tmp_path: Path) -> None:
    url = "redis://:banner-secret@127.0.0.1:6379/13"
    result = shell("", tmp_path / "instance", tmp_path, MYAPP_CELERY_BROKER_URL=url)
    assert result.returncode == 0, result.stderr
    assert "Celery: tasks go to redis://:********@127.0.0.1:6379/13; " in result.stderr
    assert "banner-secret" not in result.stdout + result.stderr


def test_get_without_a_worker_says_so(tmp_path: Path) -> None:
    """No worker listens on the embedded broker: the timeout names it and the fix."""
    instance = tmp_path / "instance"
    result = shell(SEND_AND_WAIT, instance, tmp_path)
    lines = [line for line in result.stderr.splitlines() if "NoWorkerError:" in line]
    assert len(lines) == 1, result.stderr
    last = lines[0]
    assert last.startswith("appfactory.celery.errors.NoWorkerError: No result for task "), (
        result.stderr
    )
    assert last.endswith(
        f": no worker listens on the embedded broker in {instance / 'celery'}, where it "
        "waits until one takes it. Start a worker with this app's settings: "
        "celery -A myapp.celery worker"
    )


def test_no_worker_error_is_a_celery_timeout(app: object) -> None:
    """Code that catches Celery's TimeoutError keeps working."""
    from celery.exceptions import TimeoutError as CeleryTimeoutError

    from appfactory.celery import NoWorkerError
    from mymodule.tasks import appctx

    with app.app_context():  # type: ignore[attr-defined]
        result = appctx.delay()
        with pytest.raises(CeleryTimeoutError) as caught:
            result.get(timeout=0.2)
    assert isinstance(caught.value, NoWorkerError)
    assert "Start a worker with this app's settings: celery -A myapp.celery worker" in str(
        caught.value
    )
