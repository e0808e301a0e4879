"""Alembic revisions of mymodule: its branch, labelled 'mymodule'."""

#: The packages whose tables these migrations need.
DEPENDS_ON: list[str] = []
