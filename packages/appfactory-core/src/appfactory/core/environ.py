"""Settings from environment variables: the prefix and the parsing rules."""

from __future__ import annotations

import ast
import difflib
import functools
import re
import typing as t
from collections.abc import Mapping

from .errors import ConfigError
from .masking import masked_repr
from .provenance import ConfigHistory, Layer

#: Variables ``<PREFIX>_<NAME>`` that choose folders or lists rather than settings.
RESERVED_NAMES = frozenset({"INSTANCE_PATH", "STATIC_FOLDER", "APP_CONFIG_ENVS"})

_BOOLEANS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}
_SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def env_prefix(app_name: str) -> str:
    """The prefix of an app's environment variables.

    The app name upper-cased with every character that is not a letter dropped.

    >>> env_prefix("myapp")
    'MYAPP'
    >>> env_prefix("my-app2")
    'MYAPP'
    """
    prefix = re.sub("[^A-Z]", "", app_name.upper())
    if not prefix:
        raise ConfigError(
            f"App name {app_name!r} has no letters, so it gives no prefix for "
            "environment variables; choose a name with letters, such as 'myapp'."
        )
    return prefix


def parse_env_value(variable: str, raw: str, current: t.Any) -> t.Any:
    """Turn a variable's text into a setting's value, of the kind ``current`` is.

    Python literals are parsed (never evaluated), anything else stays a string.
    When the setting already holds a value, the result must be of its kind
    (see :func:`parse_as`).

    >>> parse_env_value("MYAPP_DEBUG", "Off", True)
    False
    >>> parse_env_value("MYAPP_PORTS", "[80, 443]", None)
    [80, 443]
    >>> parse_env_value("MYAPP_NAME", "__import__('os')", None)
    "__import__('os')"
    """
    if current is None:
        return parse_as(variable, raw, None)
    return parse_as(
        variable, raw, type(current), f"the setting holds {masked_repr(variable, current)}"
    )


def parse_as(variable: str, raw: str, kind: type | None, why: str = "") -> t.Any:
    """Turn a variable's text into a value of the type ``kind`` (``None``: any literal).

    Booleans accept ``true/false/yes/no/on/off/1/0`` in any case, numbers must
    be numbers, containers containers, and strings stay the raw text; a text
    that is not of the kind is a :class:`~appfactory.core.ConfigError` naming
    the variable and the expected type (``why`` says where the type comes from).

    >>> parse_as("MYAPP_RECORD_QUERIES", "false", bool)
    False
    >>> parse_as("MYAPP_POOL_SIZE", "5", int)
    5
    """
    if kind is not None and issubclass(kind, bool):
        word = raw.strip().lower()
        if word not in _BOOLEANS:
            raise _wrong_kind(variable, raw, kind, why, "true/false, yes/no, on/off or 1/0")
        return _BOOLEANS[word]
    if kind is not None and issubclass(kind, str):
        return raw
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
    if kind is None:
        return value
    if issubclass(kind, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _wrong_kind(variable, raw, kind, why, "a number such as 42 or 0.5")
        return value
    for kinds, example in (((list, tuple, set, frozenset), "['a', 'b']"), ((dict,), "{'a': 1}")):
        if issubclass(kind, kinds):
            if not isinstance(value, kinds):
                raise _wrong_kind(variable, raw, kind, why, f"a Python literal such as {example}")
            return value
    return value


def _wrong_kind(variable: str, raw: str, kind: type, why: str, expected: str) -> ConfigError:
    return ConfigError(
        f"Environment variable {variable}={masked_repr(variable, raw)} is not a valid "
        f"{kind.__name__}{': ' + why if why else ''}. Set it to {expected}, or unset {variable}."
    )


def prefixed_variables(prefix: str, environ: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``(variable, setting name, raw text)`` of the app's variables, sorted.

    Reserved names and empty values are left out: an empty variable never
    erases a setting.
    """
    start = prefix + "_"
    found = []
    for variable, raw in environ.items():
        if not variable.startswith(start):
            continue
        name = variable[len(start) :]
        if name in RESERVED_NAMES or raw == "":
            continue
        if not _SETTING_NAME.match(name):
            if _SETTING_NAME.match(name.upper()):
                raise ConfigError(
                    f"Environment variable {variable} names the setting {name}, which is not "
                    f"upper-case: settings are UPPERCASE. Rename it to {start}{name.upper()}."
                )
            continue
        found.append((variable, name, check_text(variable, raw)))
    return sorted(found)


def check_text(variable: str, raw: str) -> str:
    """``raw``, unless it holds bytes that are not UTF-8 (which Python keeps as
    lone surrogates): then an error naming the variable.

    >>> check_text("MYAPP_GREETING", "Grüß Gott")
    'Grüß Gott'
    """
    if any("\udc80" <= char <= "\udcff" for char in raw):
        raise ConfigError(
            f"Environment variable {variable} holds bytes that are not UTF-8 text. Set it "
            "again as UTF-8 text (check the encoding of the file or the terminal it came from)."
        )
    return raw


def empty_variables(prefix: str, environ: Mapping[str, str]) -> list[str]:
    """The app's variables that are set but empty (and therefore ignored)."""
    start = prefix + "_"
    return sorted(v for v, raw in environ.items() if v.startswith(start) and raw == "")


def legacy_variable_names(value: t.Any, source: str) -> list[str]:
    """The bare variable names of an ``APP_CONFIG_ENVS`` list.

    A list of names, or a string of names separated by commas or spaces.

    >>> legacy_variable_names("SECRET_KEY, DATABASE_URL", "MYAPP_APP_CONFIG_ENVS")
    ['SECRET_KEY', 'DATABASE_URL']
    """
    if isinstance(value, str):
        names = [n.strip() for n in re.split(r"[,\s]+", value)]
    elif isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value):
        names = [n.strip() for n in value]
    else:
        raise ConfigError(
            f"{source} must be a list of environment variable names or a comma-separated "
            f"string, not {type(value).__name__}; for example ['SECRET_KEY']."
        )
    return [n.upper() for n in names if n]


def misspelt_variables(
    prefix: str, history: ConfigHistory, declared: t.AbstractSet[str]
) -> list[tuple[str, str, str]]:
    """``(variable, setting, closest known setting)`` of the likely typos among variables.

    A variable ``<PREFIX>_<NAME>`` is a likely typo when no layer but the
    environment knows ``NAME`` (neither Flask, a package, an extension,
    the app's configuration, the instance file nor a keyword argument), and a
    known setting or reserved name is close to it.

    >>> from appfactory.core.provenance import ConfigHistory, Layer, Origin
    >>> history = ConfigHistory()
    >>> history.record("SECRT_KEY", "x", Origin(Layer.ENV, "MYAPP_SECRT_KEY"))
    >>> misspelt_variables("MYAPP", history, {"SECRET_KEY", "DEBUG"})
    [('MYAPP_SECRT_KEY', 'SECRT_KEY', 'SECRET_KEY')]
    """
    unknown = [key for key in history.keys_from(Layer.ENV) if key not in declared]
    if not unknown:
        return []
    known = frozenset(
        declared | history.keys_from(Layer.APP, Layer.INSTANCE, Layer.KWARGS) | RESERVED_NAMES
    )
    start = prefix + "_"
    found = []
    for key in sorted(set(unknown) - known):
        variables = [s.origin.source for s in history.history(key) if s.origin.layer is Layer.ENV]
        if not variables[-1].startswith(start):
            continue  # a bare name the app listed in APP_CONFIG_ENVS
        close = _closest(key, known)
        if close is not None:
            found.append((variables[-1], key, close))
    return found


@functools.lru_cache(maxsize=256)
def _closest(key: str, known: frozenset[str]) -> str | None:
    # Cached: the app's own variables would otherwise cost a comparison with
    # every known setting (hundreds with Celery's) each time an app is made.
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return close[0] if close else None
