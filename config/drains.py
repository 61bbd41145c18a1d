"""A queue of ids in Redis drained in batches by RQ jobs: rewards delivery
(grants to deliver) and the campaign runtime (awards to grant) both use it.

Ids go into a sorted set (score: when first queued; ZADD NX, so queueing an
id twice is a no-op). Whoever queues ids makes sure a drain job is queued:
the first to set the drain flag (SET NX with a TTL) enqueues the job. A drain
deletes the flag as it starts, *before* it pops, in one MULTI with the pop;
so an id added before the delete is seen by that pop, and an id added after
finds the flag free and queues a drain of its own. A drain that leaves ids
behind queues the next one, so every idle worker takes a batch. The TTL only
bounds how long a flag whose job never got queued (Redis failed between the
two calls) holds back new drains; each app's sweeper re-queues what is lost.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import django_rq
import redis
from django.conf import settings

ZADD_CHUNK = 10_000
FLAG_TTL = 60


@functools.cache
def client(url: str) -> redis.Redis:
    # One client, so one connection pool, per process: django_rq.get_connection
    # builds a new client each call, which opened (and closed) a connection to
    # Redis, with its five-command handshake, for every call.
    return redis.Redis.from_url(url)


def rq_redis() -> redis.Redis:
    return client(settings.RQ_QUEUES["default"]["URL"])


def rq_queue():
    # Every caller runs after its own commit: enqueue now, never defer to an
    # on_commit of a transaction that may not be ours.
    return django_rq.get_queue("default", connection=rq_redis(), commit_mode="auto")


class Drain:
    def __init__(self, name: str, job: str, description: str):
        self.queue_key, self.flag, self.job, self.description = f"{name}:queue", f"{name}:drain-queued", job, description

    def add(self, ids: Sequence[int], *, at: float, connection=None) -> None:
        """Queue ids (with ``connection``: a pipeline to add the commands to)."""
        connection = connection or rq_redis()
        for start in range(0, len(ids), ZADD_CHUNK):
            connection.zadd(self.queue_key, dict.fromkeys(map(str, ids[start:start + ZADD_CHUNK]), at), nx=True)

    def flag_set(self, connection=None):
        """Take the drain flag: True when a drain job is now to be queued (``job_queue``)."""
        return (connection or rq_redis()).set(self.flag, 1, nx=True, ex=FLAG_TTL)

    def job_queue(self) -> None:
        # result_ttl=0: a finished drain leaves nothing behind (there are many).
        rq_queue().enqueue(self.job, result_ttl=0, description=self.description)

    def ensure(self, *, force: bool = False) -> None:
        """Make sure a drain job is queued (``force``: whatever the flag says)."""
        if self.flag_set() or force:
            self.job_queue()

    def pop(self, count: int) -> list[int]:
        """The next ``count`` ids, oldest first; queues the next drain if ids remain."""
        with rq_redis().pipeline() as pipe:  # MULTI: the count left is exact
            pipe.delete(self.flag)
            pipe.zpopmin(self.queue_key, count)
            pipe.zcard(self.queue_key)
            _deleted, popped, left = pipe.execute()
        if left:
            self.ensure()
        return [int(member) for member, _score in popped]

    def size(self) -> int:
        return rq_redis().zcard(self.queue_key)
