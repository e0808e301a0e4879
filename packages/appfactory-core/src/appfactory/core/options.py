"""Declared settings: a name, a default and a type, declared once as data.

A distribution or an extension declares its settings in one table of
:class:`Option`. The factory uses the table to know the name (``check`` does
not report it as unknown), to give the default where no layer set the key,
and to read an environment variable's text as the setting's type.
"""

from __future__ import annotations

import builtins
import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: The default of a declared setting that the factory does not set.
NO_DEFAULT: t.Any = _NoDefault()


@dataclass(frozen=True)
class Option:
    """A declared setting.

    ``type`` is the type of ``default`` unless given; a setting with neither
    (or a default of ``None``) takes any Python literal from the environment.

    >>> Option("GREETING", "Hello").kind
    <class 'str'>
    >>> Option("DATABASE_URI", None, str).kind
    <class 'str'>
    """

    name: str
    default: t.Any = NO_DEFAULT
    type: builtins.type | None = None
    doc: str = ""

    @property
    def kind(self) -> builtins.type | None:
        """The type an environment value of this setting is read as (``None``: any)."""
        if self.type is not None:
            return self.type
        if self.default is NO_DEFAULT or self.default is None:
            return None
        return type(self.default)


class OptionTable(dict[str, Option]):
    """``{name: option}``, made by :func:`option_table`."""

    def __init__(self, options: Iterable[Option]) -> None:
        super().__init__((option.name, option) for option in options)
        #: The options whose default the factory sets.
        self.with_defaults = tuple(o for o in self.values() if o.default is not NO_DEFAULT)


def option_table(options: Iterable[Option] | Mapping[str, t.Any]) -> OptionTable:
    """``{name: option}`` from options, or from a mapping of names to defaults.

    >>> option_table({"GREETING": "Hi"})["GREETING"].default
    'Hi'
    """
    if isinstance(options, Mapping):
        items = [
            value if isinstance(value, Option) else Option(name, value)
            for name, value in options.items()
        ]
    else:
        items = list(options)
    for option in items:
        if not isinstance(option, Option):
            raise TypeError(f"Expected an Option, got {type(option).__name__} {option!r}.")
        if not (option.name.isupper() and option.name.isidentifier()):
            raise ValueError(
                f"Setting name {option.name!r} is not an UPPERCASE identifier; Flask reads "
                "only UPPERCASE names from configuration objects."
            )
    return OptionTable(items)


#: The settings appfactory-core itself reads.
CORE_OPTIONS = option_table(
    [
        Option("PACKAGES", type=list, doc="Import names of the app's packages, in order."),
        Option("PACKAGES_EXCLUDE", type=list, doc="Package names to leave out."),
        Option(
            "PACKAGES_ENTRY_POINT_GROUP",
            doc="Entry-point group of advertised packages (None turns them off).",
        ),
        Option(
            "PACKAGES_ENTRY_POINTS_EXTRA",
            type=dict,
            doc="Packages advertised for this app only, {entry point: package}.",
        ),
        Option("EXTENSIONS", type=list, doc="Extensions to set up, in order."),
        Option("JINJA2_EXTENSIONS", type=list, doc="Jinja extensions to add."),
        Option("BLUEPRINTS_URL_PREFIXES", type=dict, doc="URL prefix of blueprints, by name."),
        Option("APP_CONFIG_ENVS", doc="Bare environment variable names to read (legacy)."),
        Option("SECRET_KEY", type=str, doc="Flask's signing key, read as text."),
    ]
)
