"""The embedded broker's store when it is read-only, full or deleted: one clear error.

A read-only or full store is made with a mount as root (a bind mount
remounted read-only, a small tmpfs), else with permissions; without either
the test skips (fails under CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from servers import wait_until
from workers import WORKER_APPS, Worker, start_worker

from appfactory.celery import BrokerUnavailableError, celeryfactory
from appfactory.celery.embedded import Channel, check_payload
from appfactory.celery.store import Store, StoreError, path_from_url, process_alive

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def wapp(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., Flask]:
    monkeypatch.syspath_prepend(str(WORKER_APPS))
    from wapp.app import create_app

    return t.cast(t.Callable[..., Flask], create_app)


@pytest.fixture
def workers(tmp_path: Path) -> t.Iterator[t.Callable[..., Worker]]:
    started: list[Worker] = []

    def start(env: dict[str, str]) -> Worker:
        worker = start_worker("wapp.celery", env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def mount(*args: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        reason = "mounting needs root and mount(8)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
        pytest.skip(reason)
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)}: {done.stderr.strip()}")


@pytest.fixture
def unmount() -> t.Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for folder in reversed(mounted):
        # Lazy: the test process may still hold the store open.
        subprocess.run(["umount", "-l", str(folder)], check=False)


def make_read_only(folder: Path, unmount: list[Path]) -> None:
    mount("--bind", str(folder), str(folder))
    unmount.append(folder)
    mount("-o", "remount,bind,ro", str(folder))


def test_read_only_store_one_clear_error_at_send_and_in_the_worker(
    wapp: t.Callable[..., Flask], unmount: list[Path], tmp_path: Path
) -> None:
    app = wapp()
    celery = celeryfactory(app)
    folder = Path(app.instance_path) / "celery"
    make_read_only(folder, unmount)
    from wtasks.tasks import marker

    with app.app_context(), pytest.raises(BrokerUnavailableError) as caught:
        marker.delay()
    message = str(caught.value)
    assert message.startswith(
        f"Task 'wtasks.tasks.marker' was not sent: The embedded broker's store "
        f"'{folder / 'store.sqlite3'}' cannot be used ("
    )
    assert f"make '{folder}' and the files in it writable by this user" in message
    assert "\n" not in message
    # A worker started on it says the same, and goes on trying.
    worker = Worker("wapp.celery", {}, tmp_path / "worker.log")
    try:
        assert wait_until(lambda: "writable by this user" in worker.output(), 30), worker.output()
        assert worker.process.poll() is None
        # Writable again: the worker connects and takes tasks.
        subprocess.run(["umount", str(folder)], check=True)
        unmount.remove(folder)
        worker.wait_ready()
        with app.app_context():
            assert marker.delay().get(timeout=60) == "unset"
        assert "Unrecoverable error" not in worker.output()
    finally:
        worker.stop()
    assert celery.conf.broker_url.startswith("sqlite-embedded:///")


def test_full_disk_one_clear_error_at_send(
    wapp: t.Callable[..., Flask], unmount: list[Path], tmp_path: Path
) -> None:
    instance = tmp_path / "small"
    instance.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(instance))
    unmount.append(instance)
    app = wapp(instance_path=str(instance))
    celeryfactory(app)
    from wtasks.tasks import length

    with app.app_context(), pytest.raises(BrokerUnavailableError) as caught:
        length.delay("x" * 2_000_000)
    message = str(caught.value)
    assert f"The embedded broker's store '{instance / 'celery' / 'store.sqlite3'}'" in message
    assert f"free disk space on the file system of '{instance / 'celery'}'" in message


def test_deleted_store_is_made_again_and_the_worker_follows(
    wapp: t.Callable[..., Flask], workers: t.Callable[..., Worker]
) -> None:
    """Deleting the folder loses what it held; the worker says so once and carries on."""
    app = wapp()
    celeryfactory(app)
    folder = Path(app.instance_path) / "celery"
    worker = workers({"WAPP_CELERY_BROKER_TRANSPORT_OPTIONS": "{'reclaim_interval': 0.5}"})
    from wtasks.tasks import marker

    with app.app_context():
        assert marker.delay().get(timeout=30) == "unset"
        shutil.rmtree(folder)
        assert marker.delay().get(timeout=30) == "unset"
    assert (folder / "store.sqlite3").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    output = worker.output()
    assert "was deleted or replaced while in use" in output
    assert worker.process.poll() is None


# -- the pieces, without a worker ----------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([1], "a JSON list, not an object"),
        ({"body": ""}, "no 'properties' object"),
        ({"properties": {}, "headers": [], "body": ""}, "'headers' is not an object"),
        ({"properties": {}}, "no 'body'"),
        ({"properties": {"delivery_info": {}}, "headers": {}, "body": ""}, None),
    ],
)
def test_check_payload(payload: t.Any, problem: str | None) -> None:
    assert check_payload(payload) == problem


@pytest.mark.parametrize(
    "url",
    ["sqlite-embedded://", "sqlite-embedded:///", "redis://x", "sqlite-embedded:relative"],
)
def test_a_url_without_a_store_path_is_refused(url: str) -> None:
    with pytest.raises(StoreError, match="is not a URL of the embedded store: use"):
        path_from_url(url)


def test_a_process_is_known_by_pid_and_start_time() -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        from appfactory.celery.store import process_start

        start = process_start(process.pid)
        assert start
        assert process_alive(process.pid, start)
        # Same PID, another start: a new process that reused the number.
        assert not process_alive(process.pid, start + 1)
    finally:
        process.kill()
        process.wait()
    assert not process_alive(process.pid, start)


def test_a_lease_of_a_dead_process_is_taken_back(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store.sqlite3"))
    store.put("q", '{"x": 1}')
    process = subprocess.Popen(["true"])
    process.wait()
    from appfactory.celery.store import this_host

    leased = store.lease("q", 3600, (this_host(), process.pid, 12345))
    assert leased is not None
    assert store.lease("q", 3600, (this_host(), os.getpid(), 1)) is None
    assert store.reclaim() == 1
    again = store.lease("q", 3600, (this_host(), os.getpid(), 1))
    assert again is not None
    assert again[3] == 2  # delivered twice
    assert Channel.QoS is not None


def test_the_store_counts_the_workers_that_still_run(tmp_path: Path) -> None:
    """A sender's timed-out get() asks the store whether any worker listens."""
    from appfactory.celery.store import owner, this_host

    store = Store(str(tmp_path / "store.sqlite3"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.add_consumer((this_host(), gone.pid, 12345))
    assert store.consumers() == 0
    store.add_consumer(owner())
    store.add_consumer(owner())
    assert store.consumers() == 1
    # A worker of another machine is not this machine's to judge: it counts.
    store.add_consumer(("elsewhere/boot", 1, 1))
    assert store.consumers() == 2
