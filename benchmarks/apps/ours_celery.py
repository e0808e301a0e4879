"""Our worker: ``celeryfactory(create_app())``, as ``myapp/celery.py`` is.

The broker comes from ``BENCHAPP_CELERY_BROKER_URL`` (our environment layer);
without it, the embedded broker under the instance folder.
"""

from __future__ import annotations

from appfactory.celery import celeryfactory
from benchmarks.apps.ours import factory

create_app = factory(names=["benchmarks.apps.worktasks"], entry_points=False, celery=True)
celery = celeryfactory(create_app())
