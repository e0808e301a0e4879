"""Masking of secrets wherever a setting is shown or logged."""

from __future__ import annotations

import re
import typing as t

MASK = "********"

#: Words that make a setting's name secret wherever they stand in it.
_SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "PRIVATE")
#: Words that make it secret as a whole word or a suffix (``SSLKEY``, ``DB_PASS``).
_SECRET_SUFFIXES = ("KEY", "PASS", "PWD", "AUTH")

#: Where a URL starts: its scheme and ``//``.
_SCHEME = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://")
#: A URL's text ends at white space or where the next URL starts.
_URL_END = re.compile(r"\s|\b[a-zA-Z][a-zA-Z0-9+.\-]*://")
#: ``user:`` at the start of a URL's authority.
_USER = re.compile(r"[^:/?#@\s]*:")
#: ``host:port`` (the authority of a URL without a password).
_HOST_PORT = re.compile(r"[^:/?#@\s]+:\d*")
#: ``name=value`` in a query string (or the parameters after ``;``).
_PARAMETER = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&;#\s]+)=(?P<value>[^&;#\s'\"]*)")


def is_secret_name(name: str) -> bool:
    """Whether a setting's name says it holds a secret.

    ``KEY``, ``PASS``, ``PWD`` and ``AUTH`` count only as a whole word or a
    suffix, so that ``JSON_SORT_KEYS`` and ``PASSENGER`` are not masked while
    ``SECRET_KEY``, ``STRIPE_APIKEY`` and ``DB_PASS`` are.

    >>> [is_secret_name(n) for n in ("SECRET_KEY", "DB_PASS", "JSON_SORT_KEYS")]
    [True, True, False]
    """
    upper = name.upper()
    if any(word in upper for word in _SECRET_WORDS):
        return True
    words = upper.replace("-", "_").split("_")
    return upper.endswith(_SECRET_SUFFIXES) or any(w in _SECRET_SUFFIXES for w in words)


def mask_url(text: str) -> str:
    """Replace the passwords inside URLs found in ``text``.

    The password of ``scheme://user:password@host`` runs to the last ``@`` of
    the URL's text, so that one holding a raw ``@``, ``/``, ``#`` or ``?`` (not
    percent-encoded, as a URL needs) is masked whole; query parameters with a
    secret's name (``?password=...``, ``&sslkey=...``) are masked too.

    >>> mask_url("redis://user:hunter2@127.0.0.1:6379/0")
    'redis://user:********@127.0.0.1:6379/0'
    >>> mask_url("redis://:pl/ant#x@host/0")
    'redis://:********@host/0'
    """
    parts = []
    position = 0
    for start in _SCHEME.finditer(text):
        if start.start() < position:
            continue
        begin = start.end()
        end_match = _URL_END.search(text, begin)
        end = end_match.start() if end_match is not None else len(text)
        parts.append(text[position:begin])
        parts.append(_mask_one_url(text[begin:end]))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _mask_one_url(rest: str) -> str:
    """Mask the password and secret parameters of a URL's text after ``scheme://``."""
    user = _USER.match(rest)
    at = rest.rfind("@")
    if user is not None and at > user.end():
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        query = re.search(r"[?#]", rest)
        # "host:8080?email=a@b": a port, and the "@" in the query or the fragment.
        in_query = query is not None and at > query.start()
        if not (_HOST_PORT.fullmatch(authority) and in_query):
            rest = rest[: user.end()] + MASK + rest[at:]
    return _PARAMETER.sub(_mask_parameter, rest)


def _mask_parameter(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or not match["value"]:
        return match[0]
    return f"{match['sep']}{match['name']}={MASK}"


def mask_value(name: str, value: t.Any) -> t.Any:
    """Return ``value`` fit for display under the setting ``name``.

    Containers are masked item by item (a container holding itself is shown
    as ``...`` where it recurs).

    >>> mask_value("SECRET_KEY", "abc")
    '********'
    >>> mask_value("BROKER", {"url": "amqp://guest:guest@localhost//", "token": "x"})
    {'url': 'amqp://guest:********@localhost//', 'token': '********'}
    """
    return _masked(name, value, set())


def _masked(name: str, value: t.Any, seen: set[int]) -> t.Any:
    if is_secret_name(name) and value not in (None, "", b"", False):
        return MASK
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, bytes):
        return mask_url(value.decode("utf-8", "replace")).encode("utf-8")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if id(value) in seen:
            return ...
        seen = seen | {id(value)}
        if isinstance(value, dict):
            return {k: _masked(str(k), v, seen) for k, v in value.items()}
        masked = [_masked("", item, seen) for item in value]
        return masked if isinstance(value, list) else type(value)(masked)
    return value


def masked_repr(name: str, value: t.Any) -> str:
    """The masked ``repr`` of a setting's value."""
    masked = mask_value(name, value)
    return MASK if masked is MASK else repr(masked)
