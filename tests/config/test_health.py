import redis
from django.conf import settings
from django.db import OperationalError


def test_healthz_is_ok_when_database_and_redis_answer(client, db):
    # REDIS_URL points at the real redis-server that `make test` started.
    assert redis.Redis.from_url(settings.REDIS_URL).ping()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_is_503_when_redis_is_unreachable(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "redis": "error"}


def test_healthz_is_503_when_the_database_is_unreachable(client, db, monkeypatch):
    class DownConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("config.views.connection", DownConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


def test_healthz_needs_no_login_and_is_not_cached(client, db):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
