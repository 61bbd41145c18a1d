"""Plumbing the apps' background jobs share: progress kept in Redis for the
page that polls it, and telling whether the job a record waits for has died.

Neither ever raises for Redis: a progress bar or a "stuck" hint is worth less
than the job or the page that asks for it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import django_rq
import redis
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
_DEAD = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)


class Progress:
    """Writes ``{done, total, **extra}`` under ``key``; a Redis hiccup never stops the job."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.connection = None

    def set(self, done: int, total: int, **extra: Any) -> None:
        try:
            if self.connection is None:
                self.connection = django_rq.get_connection("default")
            value = json.dumps({**extra, "done": int(done), "total": int(total)})
            self.connection.set(self.key, value, ex=PROGRESS_TTL)
        except redis.RedisError:
            logger.warning("progress %s not recorded", self.key, exc_info=True)


def progress_get(key: str) -> dict[str, Any] | None:
    """What ``Progress`` wrote, with ``done`` clamped to ``[0, total]`` and a
    ``percent``; None when nothing is known."""
    try:
        raw = django_rq.get_connection("default").get(key)
    except redis.RedisError:
        logger.warning("progress %s unavailable", key, exc_info=True)
        return None
    if not raw:
        return None
    data = json.loads(raw)
    total = max(int(data.get("total", 0)), 0)
    done = min(max(int(data.get("done", 0)), 0), total)
    return {**data, "done": done, "total": total, "percent": int(100 * done / total) if total else 0}


def job_dead(job_id: str, *, started_at: dt.datetime | None = None) -> bool:
    """Is this rq job gone, failed, stopped, finished — or started and past its
    timeout (a worker killed outright leaves its job "started")?

    ``started_at`` is when the work began by the caller's own record, if it
    knows better than rq. When Redis cannot be asked the answer is no: nothing
    is run again on a guess. A caller must still check that its record has not
    moved on, since a job commits its end before rq marks it finished.
    """
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return True
    except redis.RedisError:
        logger.warning("job %s: status unavailable", job_id, exc_info=True)
        return False
    if status == JobStatus.STARTED and job.timeout:
        started = started_at or job.started_at
        return started is not None and timezone.now() - started > dt.timedelta(seconds=job.timeout)
    return status in _DEAD
