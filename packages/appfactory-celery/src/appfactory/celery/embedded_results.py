"""The embedded broker's result backend: results in the same SQLite store.

URL: ``sqlite-embedded:///<absolute path of the store file>`` (the entry
point ``celery.result_backends`` names this class). Results expire after
``result_expires`` (Celery's default: one day); expired ones are deleted by
the worker that stores results, every minute (or every ``result_expires``
seconds if that is shorter), and by
``celery.backend_cleanup``. Waiting for a result looks at the store every
few milliseconds (at most every 5 ms, cheap reads of a local file), not
every half second as Celery's key-value backends do.
"""

from __future__ import annotations

import threading
import time
import typing as t

from celery.backends.base import KeyValueStoreBackend

from .store import Store, path_from_url

#: Seconds between two looks at the store while waiting for a result.
WAIT_INTERVAL = 0.005
#: Seconds between two deletions of expired results by one process.
EXPIRE_INTERVAL = 60.0


def _text(key: t.Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


class EmbeddedBackend(KeyValueStoreBackend):  # type: ignore[misc]
    """Celery results kept in the embedded store."""

    supports_autoexpire = True
    implements_incr = True

    def __init__(self, url: str | None = None, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, url=url, **kwargs)
        self.url = url or ""
        self.path = path_from_url(self.url)
        self._store: Store | None = None
        self._lock = threading.Lock()
        self._next_expiry = 0.0

    def __reduce__(
        self, args: tuple[t.Any, ...] = (), kwargs: dict[str, t.Any] | None = None
    ) -> t.Any:
        return super().__reduce__(args, {**(kwargs or {}), "url": self.url})

    @property
    def store(self) -> Store:
        """The connection to the store (opened on first use, again if the file was replaced)."""
        store = self._store
        if store is None or store.replaced():
            with self._lock:
                if self._store is store:
                    self._store = Store(self.path)
                    if store is not None:
                        store.close()
                store = t.cast(Store, self._store)
        return store

    def get(self, key: t.Any) -> bytes | None:
        return self.store.get_results([_text(key)]).get(_text(key))

    def mget(self, keys: t.Sequence[t.Any]) -> list[bytes | None]:
        names = [_text(key) for key in keys]
        found = self.store.get_results(names) if names else {}
        return [found.get(name) for name in names]

    def set(self, key: t.Any, value: t.Any) -> None:
        self.store.set_result(_text(key), value, self.expires)
        self._expire_now_and_then()

    def delete(self, key: t.Any) -> None:
        self.store.delete_result(_text(key))

    def incr(self, key: t.Any) -> int:
        return self.store.incr_result(_text(key), self.expires)

    def expire(self, key: t.Any, value: t.Any) -> None:
        pass  # each value carries its expiry time

    def cleanup(self) -> None:
        """Delete the expired results (Celery's ``celery.backend_cleanup`` calls this)."""
        self.store.expire_results()

    def _expire_now_and_then(self) -> None:
        now = time.monotonic()
        if now >= self._next_expiry:
            every = min(EXPIRE_INTERVAL, self.expires) if self.expires else EXPIRE_INTERVAL
            self._next_expiry = now + every
            self.store.expire_results()

    def wait_for(
        self,
        task_id: str,
        timeout: float | None = None,
        interval: float = 0.5,
        no_ack: bool = True,
        on_interval: t.Callable[[], t.Any] | None = None,
    ) -> t.Any:
        return super().wait_for(
            task_id,
            timeout=timeout,
            interval=min(interval, WAIT_INTERVAL),
            no_ack=no_ack,
            on_interval=on_interval,
        )

    def get_many(self, task_ids: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        interval = kwargs.get("interval")
        kwargs["interval"] = WAIT_INTERVAL if interval is None else min(interval, WAIT_INTERVAL)
        return super().get_many(task_ids, *args, **kwargs)
