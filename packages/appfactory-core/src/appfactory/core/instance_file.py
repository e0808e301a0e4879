"""The instance file ``<instance>/<app_name>.cfg``: Python assignments, read with care.

The file is run as Python (as Flask's ``from_pyfile`` does), but what cannot
be read is told in one line naming the file and the line, and never shows a
secret: a line that assigns a setting with a secret's name is not quoted, in
the message nor in the stack that ``--traceback`` prints.
"""

from __future__ import annotations

import os
import re
import stat
import traceback
import typing as t
from dataclasses import dataclass

from .errors import ConfigError, describe_exception
from .masking import MASK, is_secret_name

#: ``NAME =`` (or ``NAME:``) at the start of a line: the setting a line assigns.
_ASSIGNED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=(?!=)")
_FIX_LINE = "Fix that line; the file holds Python assignments such as SECRET_KEY = '...'."
#: String literals, and a value that is one bare word (an unquoted text).
_STRING = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_WORD = re.compile(r"[^\s'\"()\[\]{},]+")

_FILE_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
}


@dataclass
class InstanceFile:
    """What the instance file assigns: its settings, and its other top-level names."""

    settings: dict[str, t.Any]
    #: ``{name: line}`` of names that are not UPPERCASE (Flask ignores them).
    other_names: dict[str, int]


def read_instance_file(path: str) -> InstanceFile:
    """Run the instance file at ``path``; a missing file gives no settings.

    >>> read_instance_file("/no/such/file.cfg").settings
    {}
    """
    source = _source(path)
    if source is None:
        return InstanceFile({}, {})
    lines = source.splitlines()
    # Compiled under a name that is not a path: a stack printed later cannot
    # read the file back and show one of its lines.
    filename = f"<instance file {path}>"
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        line = exc.lineno or "?"
        # The error's own text is the line: left out, and out of the chained cause.
        cause = SyntaxError(exc.msg, (filename, exc.lineno, exc.offset, None))
        raise ConfigError(
            f"Instance file {path}, line {line}: syntax error: {exc.msg}. {_FIX_LINE}"
        ) from cause
    namespace: dict[str, t.Any] = {"__file__": path}
    try:
        exec(code, namespace)
    except Exception as exc:
        line = _failing_line(filename, exc)
        secrets = _secret_values(lines, line)
        if not secrets:
            raise ConfigError(
                f"Instance file {path}, line {line}: {describe_exception(exc)}. Fix that line."
            ) from exc
        # The line sets a secret: what the error quotes of its value is masked,
        # in the message and in the chained cause that --traceback prints.
        text = str(exc)
        for secret in secrets:
            text = text.replace(secret, MASK)
        hint = "A text needs quotes: NAME = '...'." if isinstance(exc, NameError) else ""
        raise ConfigError(
            f"Instance file {path}, line {line}: {type(exc).__name__}: {text}. Fix that "
            f"line. {hint}".rstrip()
        ) from _same_kind(exc, text)
    settings: dict[str, t.Any] = {}
    other: dict[str, int] = {}
    for name, value in namespace.items():
        if not isinstance(name, str) or name.startswith("__"):
            continue
        if name.isupper():
            settings[name] = value
        else:
            other[name] = _assigning_line(lines, name)
    return InstanceFile(settings, other)


def _source(path: str) -> str | None:
    """The file's text; ``None`` when there is no file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise ConfigError(
                f"Instance file {path} is a symbolic link to {os.readlink(path)}, which does "
                "not exist. Point the link at the instance file, or remove the link."
            ) from None
        return None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    for test, kind in _FILE_KINDS.items():
        if test(mode):
            raise ConfigError(
                f"Instance file {path} is {kind}, not a file. Replace it by a file of Python "
                "assignments such as SECRET_KEY = '...', or remove it."
            )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"Instance file {path}, line {line}: the byte {data[exc.start]:#04x} is not UTF-8 "
            "text. Save the file as UTF-8."
        ) from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ConfigError(
            f"Instance file {path}, line {line}: a NUL byte, which a text file does not hold. "
            "Remove it (the file may have been saved in another encoding, such as UTF-16: "
            "save it as UTF-8)."
        )
    return text


def _unreadable(path: str, exc: OSError) -> ConfigError:
    return ConfigError(
        f"Instance file {path} cannot be read: {describe_exception(exc)}. "
        "Fix its permissions or remove it."
    )


def _failing_line(filename: str, exc: BaseException) -> int | str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return frames[-1].lineno or "?" if frames else "?"


def _secret_values(lines: list[str], line: int | str) -> list[str]:
    """The texts of a secret's value on ``line``, if it assigns a secret setting: the
    contents of its string literals, and the value itself when it is one bare word."""
    if not isinstance(line, int) or not 0 < line <= len(lines):
        return []
    text = lines[line - 1]
    match = _ASSIGNED.match(text)
    if not match or not is_secret_name(match[1]):
        return []
    value = text[match.end() :].strip()
    found = [a or b for a, b in _STRING.findall(value) if a or b]
    if value and _WORD.fullmatch(value):
        found.append(value)
    return sorted(found, key=len, reverse=True)


def _same_kind(exc: BaseException, text: str) -> BaseException | None:
    """An exception of the type of ``exc`` with the message ``text`` (else ``None``)."""
    try:
        return type(exc)(text)
    except Exception:
        return None


def _assigning_line(lines: list[str], name: str) -> int:
    """The first line that assigns ``name`` (0 when none does, as for imports)."""
    for number, text in enumerate(lines, 1):
        match = _ASSIGNED.match(text)
        if match and match[1] == name:
            return number
    return 0
