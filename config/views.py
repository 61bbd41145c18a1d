"""Site-wide views that belong to no domain app."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health: database unreachable")
        return False


def _redis_ok() -> bool:
    timeout = settings.REDIS_HEALTH_TIMEOUT
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        logger.exception("health: redis unreachable")
        return False
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    """For load balancers and monitoring: 200 when the database and Redis answer, else 503."""
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    healthy = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: "ok" if ok else "error" for name, ok in checks.items()},
        },
        status=200 if healthy else 503,
    )
