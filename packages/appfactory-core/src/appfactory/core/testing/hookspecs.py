"""The hook the plugin calls, for plugins of other distributions to implement.

appfactory.celery.testing implements it to make Celery forget the shared
tasks of the packages a test added; core's plugin knows nothing of Celery.
"""

from __future__ import annotations

import typing as t


def pytest_appfactory_forget_folders(folders: t.Sequence[str]) -> None:
    """The packages of ``folders`` (added by ``import_path`` or ``make_package``)
    left ``sys.path`` and ``sys.modules`` at the end of a test: forget what else
    remembers code defined there.

    Called after each test that used ``import_path``, with the folders (absolute
    paths) it added.
    """
