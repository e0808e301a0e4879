"""Masking of secrets wherever a setting is shown or logged."""

from __future__ import annotations

import re
import typing as t

MASK = "********"

_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL")
# Like urllib, the password runs to the last "@" of the netloc (which ends at
# "/", "?" or "#"), so a password holding a raw "@" is masked whole.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s]*:)(?P<password>[^/?#\s]+)(?=@)"
)


def is_secret_name(name: str) -> bool:
    """Whether a setting's name says it holds a secret.

    ``KEY`` counts only as a whole word or a suffix, so that ``JSON_SORT_KEYS``
    is not masked while ``SECRET_KEY`` and ``STRIPE_APIKEY`` are.

    >>> [is_secret_name(n) for n in ("SECRET_KEY", "DB_PASSWORD", "JSON_SORT_KEYS")]
    [True, True, False]
    """
    upper = name.upper()
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return upper.endswith("KEY") or "KEY" in upper.split("_")


def mask_url(text: str) -> str:
    """Replace the password inside URLs found in ``text``.

    >>> mask_url("redis://user:hunter2@127.0.0.1:6379/0")
    'redis://user:********@127.0.0.1:6379/0'
    """
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_value(name: str, value: t.Any) -> t.Any:
    """Return ``value`` fit for display under the setting ``name``.

    >>> mask_value("SECRET_KEY", "abc")
    '********'
    >>> mask_value("BROKER", {"url": "amqp://guest:guest@localhost//", "token": "x"})
    {'url': 'amqp://guest:********@localhost//', 'token': '********'}
    """
    if is_secret_name(name) and value not in (None, "", b"", False):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        masked = [mask_value("", item) for item in value]
        return type(value)(masked) if isinstance(value, tuple) else masked
    return value


def masked_repr(name: str, value: t.Any) -> str:
    """The masked ``repr`` of a setting's value."""
    masked = mask_value(name, value)
    return MASK if masked is MASK else repr(masked)
