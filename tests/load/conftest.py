"""The load tests' server: one real gunicorn per module (see ``server.py``).

The tests run with ``transaction=True`` so that what they build is committed
and visible to the server's processes; the server is stopped (by PID) before
pytest-django drops the test database.
"""

import pytest
from django.db import connection

from tests.load.server import Gunicorn, RqWorker


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """One server for the module: starting one costs seconds. Safe to share
    because each test uses its own campaign code and channel key, which is
    what the workers' process caches are keyed by."""
    if connection.vendor != "postgresql":
        pytest.skip("the load tests need PostgreSQL")
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(gunicorn, transactional_db, tmp_path):
    gunicorn.wait_workers()
    gunicorn.mark()
    worker = RqWorker(tmp_path / "rqworker.log")
    worker.start()
    gunicorn.rq = worker
    try:
        yield gunicorn
    finally:
        worker.stop()
