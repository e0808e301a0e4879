"""The conftest.py at the root of myapp's tests."""

import pytest

import myapp.app

pytest_plugins = ["appfactory.core.testing", "appfactory.celery.testing"]


@pytest.fixture(scope="module")
def create_app():
    return myapp.app.create_app
