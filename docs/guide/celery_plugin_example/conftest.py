"""A conftest.py for a suite written against Celery's plugin: only the plugins change."""

import pytest

import myapp.app

# Instead of pytest_plugins = ["celery.contrib.pytest"]:
pytest_plugins = ["appfactory.core.testing", "appfactory.celery.testing"]


@pytest.fixture(scope="session")
def create_app():  # the app whose tasks the workers run (session scope: the session worker)
    return myapp.app.create_app


@pytest.fixture(scope="session")
def celery_session_broker():  # the embedded broker, in a folder of the run: no server
    return "embedded"


@pytest.fixture(scope="session")
def celery_config():
    return {"result_extended": True}


@pytest.fixture(scope="session")
def celery_worker_parameters():
    return {"perform_ping_check": True, "shutdown_timeout": 30}


@pytest.fixture(scope="session")
def celery_includes():
    return ["tasks_of_the_tests"]
