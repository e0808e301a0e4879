"""The guard active in every test of a project that enables the plugin.

``no_leaked_context`` fails a test that leaves a Flask app or request context
pushed, and pops it, so that a failing test does not make the next ones fail.
(appfactory.celery.testing adds the guard of Celery's state.)
"""

from __future__ import annotations

import typing as t

import pytest
from flask.globals import _cv_app, _cv_request

#: How many leaked contexts are popped at most (a context that cannot be popped stops it).
_MAX_POPS = 100


def describe_context(ctx: t.Any) -> str:
    """``'myapp'`` for a context of the app called myapp."""
    app = getattr(ctx, "app", None)
    return repr(getattr(app, "name", app))


def pop_contexts_since(request_before: t.Any, app_before: t.Any) -> list[str]:
    """Pop the request and app contexts pushed since the given ones; describe them.

    Request contexts first (each pops the app context it pushed), then app contexts.
    """
    leaks = []
    pairs = ((_cv_request, request_before, "request"), (_cv_app, app_before, "app"))
    for var, before, kind in pairs:
        for _ in range(_MAX_POPS):
            ctx: t.Any = var.get(None)
            if ctx is None or ctx is before:
                break
            article = "a" if kind == "request" else "an"
            leaks.append(f"the test leaked {article} {kind} context of {describe_context(ctx)}")
            try:
                ctx.pop()
            except Exception:
                break
    return leaks


@pytest.fixture(autouse=True)
def no_leaked_context() -> t.Iterator[None]:
    """Fail a test that leaves a Flask app or request context pushed.

    Contexts pushed before the test (by a fixture of a wider scope) are
    left alone; the leaked ones are popped, so that the next test starts
    clean.
    """
    request_before = _cv_request.get(None)
    app_before = _cv_app.get(None)
    yield
    leaks = pop_contexts_since(request_before, app_before)
    if leaks:
        pytest.fail(
            "; ".join(leaks) + ": pop every context the test pushes, for example with "
            "'with app.app_context():' or 'with app.test_request_context():'",
            pytrace=False,
        )
