"""The embedded store's names, paths and errors, without SQLite.

The web side imports this (to configure, check and explain); SQLite itself is
imported by :mod:`appfactory.celery.store` on first use of the store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket

from kombu.exceptions import OperationalError

#: The URL scheme of the embedded broker and of its result backend.
SCHEME = "sqlite-embedded"
#: The file name of the store in its folder.
STORE_NAME = "store.sqlite3"


class StoreError(OperationalError):
    """The embedded store cannot be used; the message names its folder and the fix."""


def path_from_url(url: str) -> str:
    """The store's path in a ``sqlite-embedded:///<absolute path>`` URL.

    >>> path_from_url("sqlite-embedded:///srv/app-instance/celery/store.sqlite3")
    '/srv/app-instance/celery/store.sqlite3'
    """
    scheme, sep, rest = url.partition("://")
    if scheme != SCHEME or not sep or not rest.startswith("/") or rest == "/":
        raise StoreError(
            f"{url!r} is not a URL of the embedded store: use "
            f"'{SCHEME}:///<absolute path of the store file>', or leave CELERY_BROKER_URL "
            "unset for the one in the instance folder."
        )
    return "/" + rest.lstrip("/")


def url_for(path: str) -> str:
    """The URL of the store at ``path``."""
    return f"{SCHEME}://{os.path.abspath(path)}"


@functools.cache
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            return file.read().strip()
    except OSError:
        return ""


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; Linux), 0 if unknown, None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    fields = stat.rpartition(b")")[2].split()
    if fields and fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19]) if len(fields) > 19 else 0


def process_alive(pid: int, start: int) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs on this machine."""
    if os.path.isdir("/proc/self"):
        now = process_start(pid)
        return now is not None and (not start or not now or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def this_host() -> str:
    """Names this machine (and this boot of it) in the leases it holds."""
    return f"{socket.gethostname()}/{_boot_id()}"


def explain(path: str, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for ``exc`` raised using the store at ``path``, with the fix."""
    folder = os.path.dirname(path)
    text = str(exc).lower()
    if "full" in text or getattr(exc, "errno", None) == 28:
        fix = f"free disk space on the file system of {folder!r}"
    elif "readonly" in text or "read-only" in text or isinstance(exc, PermissionError):
        fix = f"make {folder!r} and the files in it writable by this user (chmod u+rwX)"
    elif not os.path.isdir(folder):
        fix = f"the folder {folder!r} is missing: create the app again (it makes the folder)"
    elif "malformed" in text or "not a database" in text:
        fix = f"move {path!r} away (its messages are lost) and start again"
    else:
        fix = f"check that {folder!r} is a writable folder of this user on a local disk"
    return StoreError(
        f"The embedded broker's store {path!r} cannot be used ({type(exc).__name__}: {exc}); "
        f"{fix}, or set CELERY_BROKER_URL to a Redis or RabbitMQ URL."
    )


def make_private_folder(folder: str) -> None:
    """Create ``folder`` and its missing parents, readable by their owner only (0o700)."""
    missing = []
    path = os.path.abspath(folder)
    while not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, mode=0o700)


def create(path: str) -> None:
    """Create the store at ``path`` (folder 0o700, file 0o600) if it is missing."""
    try:
        make_private_folder(os.path.dirname(path))
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as exc:
        raise explain(path, exc) from exc
