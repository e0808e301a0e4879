"""Benchmarks of appfactory against a hand-written floor and the peers a user would pick.

Run them with ``nox -s bench`` (``-- --quick`` for the small CI run,
``-- --json PATH`` to keep the figures). Every metric measures three systems in
the same run, alternating them, and reports paired ratios to the floor:

* ``floor``: plain Flask (and plain Celery) written by hand for the same work;
* ``ours``: appfactory.core and appfactory.celery;
* ``peer``: invenio-base's ``create_app_factory`` / ``create_cli``, or Flask-CeleryExt.

:mod:`benchmarks.harness` holds the statistics, the interleaving and the
child processes; :mod:`benchmarks.report` the JSON document and the table;
:mod:`benchmarks.synthetic` writes the synthetic packages; :mod:`benchmarks.apps`
holds the systems; one module per metric measures (see
:data:`benchmarks.__main__.METRIC_MODULES`).
"""
