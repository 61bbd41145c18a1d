"""Automatic dispatch rate: batched drains against one RQ job per grant.

Bulk-creates pending grants — setup, not timed: plain bulk inserts, not
``grant_create`` — then delivers them through real Redis and ``--workers``
(default 2) real ``manage.py rqworker --burst`` processes (RQ's default forking
worker, as ``make run`` starts it; ``--worker-class`` to try another) with the
logging backend:

- one job per grant, on ``--per-job-grants`` grants (default 2,000): one RQ
  job per grant that delivers just that grant
  (``delivery.grants_deliver(grant_ids=[pk])``: claim, record, status). At
  well under a hundred grants a second (the forking worker starts a work horse
  and a database connection per job), 100,000 of them would take an hour or
  more; the rate is what is compared, and 2,000 jobs give a steady one.
- batched, the production path, on ``--grants`` grants (default 100,000):
  ``delivery.grants_enqueue`` puts the ids in the Redis queue and each drain
  job delivers REWARDS_DISPATCH_BATCH_SIZE grants with one claim UPDATE, one
  INSERT of records and one status UPDATE. A drain queues the next one as it
  starts, but a ``--burst`` worker quits the moment it finds the queue empty,
  so each worker gets a drain of its own to start with (long-running workers
  need no such help).

One job per grant runs first, so the batched run meets the larger tables.
Each rate is timed from the first enqueue until the last worker exits (worker
start-up counts in both) and checked: every grant delivered, exactly one
DeliveryRecord per key.

Runs on DATABASE_URL (PostgreSQL gives the figures worth quoting; the database
must be empty) and needs REDIS_URL, whose default queue must be idle: the
benchmark empties it. Target: batched at least 5 times the rate.
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from _setup import ROOT, ratio, report, setup_django

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--grants", type=int, default=100_000, help="grants delivered by the batched design")
parser.add_argument("--per-job-grants", type=int, default=2_000, help="grants delivered one job each")
parser.add_argument("--workers", type=int, default=2)
parser.add_argument("--worker-class", default="", help="e.g. rq.worker.SimpleWorker (default: RQ's forking Worker)")
parser.add_argument("--customers", type=int, default=10_000)
ARGS = parser.parse_args()

setup_django()

import django_rq  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from rq import Queue  # noqa: E402

from accounts import services as accounts  # noqa: E402
from audiences.models import Customer  # noqa: E402
from rewards.models import DeliveryRecord, Grant, GrantStatus, Prize, PrizePool  # noqa: E402
from rewards.services import delivery  # noqa: E402

settings.DEBUG = False  # no query log in this process
ENQUEUE_CHUNK = 2_000


def create_grants(prize: Prize, customer_ids: list[int], design: str, n: int) -> list[int]:
    with transaction.atomic():
        Grant.objects.bulk_create(
            (
                Grant(idempotency_key=f"bench:{design}:{i}", prize=prize, customer_id=customer_ids[i % len(customer_ids)],
                      cost=prize.unit_cost, source="bench", source_ref=design)
                for i in range(n)
            ),
            batch_size=5_000,
        )
    return list(Grant.objects.filter(source_ref=design).order_by("pk").values_list("pk", flat=True))


def setup() -> tuple[list[int], list[int]]:
    if Grant.objects.exists():
        raise SystemExit("bench/dispatch.py needs an empty database")
    branch = accounts.branch_create(actor=None, code="HO", name="HO", parent=None)
    pool = PrizePool.objects.create(code="BENCH", name="bench", owner_branch=branch)
    prize = Prize.objects.create(pool=pool, code="CASH1", name="1 yuan", kind="cash", unit_cost=Decimal("1.00"))
    opened = dt.date(2020, 1, 1)
    Customer.objects.bulk_create(
        (Customer(customer_ref=f"D{i:08d}", name=f"客户{i}", branch=branch, opened_on=opened) for i in range(ARGS.customers)),
        batch_size=5_000,
    )
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    per_job = create_grants(prize, customer_ids, "one-job-per-grant", ARGS.per_job_grants)
    batched = create_grants(prize, customer_ids, "batched", ARGS.grants)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Grant._meta.db_table}")
    return per_job, batched


def redis_clean() -> None:
    redis = django_rq.get_connection("default")
    redis.delete(delivery.QUEUE_KEY, delivery.DRAIN_FLAG)
    django_rq.get_queue("default").empty()


def enqueue_one_job_per_grant(ids: list[int]) -> None:
    queue = django_rq.get_queue("default", commit_mode="auto")
    for start in range(0, len(ids), ENQUEUE_CHUNK):
        jobs = [
            Queue.prepare_data("rewards.services.delivery.grants_deliver", kwargs={"grant_ids": [pk]}, result_ttl=0)
            for pk in ids[start:start + ENQUEUE_CHUNK]
        ]
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()


def enqueue_batched(ids: list[int]) -> None:
    delivery.grants_enqueue(grant_ids=ids)
    queue = django_rq.get_queue("default", commit_mode="auto")
    for _ in range(ARGS.workers - 1):
        queue.enqueue("rewards.jobs.grants_dispatch", result_ttl=0)


def run_workers(logdir: str, design: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "REWARDS_DISPATCH_BACKEND": "rewards.backends.logging.LoggingBackend"}
    worker_class = ["--worker-class", ARGS.worker_class] if ARGS.worker_class else []
    workers = []
    for n in range(ARGS.workers):
        log = open(os.path.join(logdir, f"{design}-{n}.log"), "w")  # noqa: SIM115 (closed below)
        workers.append((log, subprocess.Popen(  # noqa: S603 (our own command line)
            [sys.executable, "manage.py", "rqworker", "--burst", *worker_class, "default"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT,
        )))
    for log, worker in workers:
        worker.wait()
        log.close()
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed: see {log.name}")


def check(ids: list[int], design: str) -> None:
    delivered = Grant.objects.filter(pk__in=ids, status=GrantStatus.DELIVERED).count()
    assert delivered == len(ids), f"{design}: {delivered} of {len(ids)} delivered"
    per_key = (
        DeliveryRecord.objects.filter(grant__source_ref=design)
        .values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert per_key == 0, f"{design}: {per_key} keys delivered more than once"
    assert DeliveryRecord.objects.filter(grant__source_ref=design).count() == len(ids)


def measure(design: str, ids: list[int], enqueue, logdir: str) -> float:
    redis_clean()
    started = time.perf_counter()
    enqueue(ids)
    queued = time.perf_counter()
    run_workers(logdir, design)
    total = time.perf_counter() - started
    check(ids, design)
    report(f"enqueue_time[{design}]", queued - started, "s")
    report(f"total_time[{design}]", total, "s")
    rate = len(ids) / total
    report(f"rate[{design}]", rate, "grants/s")
    return rate


def main() -> None:
    started = time.perf_counter()
    per_job_ids, batched_ids = setup()
    report("setup_time", time.perf_counter() - started, "s")
    report("grants[batched]", ARGS.grants, "grants")
    report("grants[one-job-per-grant]", ARGS.per_job_grants, "grants")
    report("workers", ARGS.workers, "processes")
    report("batch_size", settings.REWARDS_DISPATCH_BATCH_SIZE, "grants")
    logdir = tempfile.mkdtemp(prefix="bench-dispatch-")
    per_job = measure("one-job-per-grant", per_job_ids, enqueue_one_job_per_grant, logdir)
    batched = measure("batched", batched_ids, enqueue_batched, logdir)
    ratio("batched vs one-job-per-grant", batched / per_job, 5)


main()
