"""Exactly once with real processes on PostgreSQL and Redis: a worker SIGKILLed
mid-batch, then restarted, delivers every grant once; drains racing over the
same grants never claim one twice."""

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import django_rq
import pytest
from django.db import connection
from django.db.models import Count

from rewards import services
from rewards.models import DeliveryRecord, Grant, GrantStatus
from rewards.services import delivery

ROOT = Path(__file__).resolve().parents[2]
GRANTS = 1000
BATCH = 100

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with many processes"),
]


def database_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def process_env(**extra):
    return {
        **os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
        "REWARDS_DISPATCH_BATCH_SIZE": str(BATCH), **extra,
    }


@pytest.fixture
def redis():
    connection = django_rq.get_connection("default")
    queue = django_rq.get_queue("default")

    def clean():
        connection.delete(delivery.QUEUE_KEY, delivery.DRAIN_FLAG)
        queue.empty()

    clean()
    yield connection
    clean()


@pytest.fixture
def many_grants(personas, tree, make_customers, redis):
    """GRANTS grants through the real service: each commit queues its grant in Redis."""
    pool = services.pool_create(actor=personas.branch_admin, code="P", name="pool", owner_branch=tree.bj)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("100000"), reason="ample")
    prize = services.prize_create(actor=personas.branch_admin, pool=pool, code="X", name="x", kind="cash", unit_cost=Decimal("1"))
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=GRANTS, reason="stock")
    return [
        services.grant_create(prize=prize, customer=c, idempotency_key=f"kill:{c.customer_ref}", source="test").pk
        for c in make_customers(GRANTS, tree.bj)
    ]


def start_worker(tmp_path, name, **env):
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "--burst", "default"],
        cwd=ROOT, env=process_env(REWARDS_DISPATCH_BACKEND="tests.rewards.slow_backend.SlowLoggingBackend", **env),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # its own process group
    )


def wait_for(path: Path, process, seconds=60, read=True):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"the process stopped before it wrote {path.name}"
        assert time.monotonic() < deadline, f"the process never wrote {path.name}"
        time.sleep(0.02)
    return int(path.read_text()) if read else None


def deliveries_per_key():
    return dict(DeliveryRecord.objects.values_list("idempotency_key").annotate(n=Count("id")).values_list("idempotency_key", "n"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_then_restarted_delivers_every_grant_exactly_once(tmp_path, many_grants, redis):
    assert redis.zcard(delivery.QUEUE_KEY) == GRANTS and django_rq.get_queue("default").count == 1

    stalled = tmp_path / "stalled"
    worker = start_worker(tmp_path, "killed", DISPATCH_DELAY_PER_GRANT="0.001",
                          DISPATCH_STALL_AFTER=str(3 * BATCH), DISPATCH_STALLED=str(stalled))
    horse = wait_for(stalled, worker)
    # Mid-batch: its records are written and its grants claimed, nothing committed.
    delivered = Grant.objects.filter(status=GrantStatus.DELIVERED).count()
    assert 3 * BATCH <= delivered < GRANTS
    assert Grant.objects.filter(status=GrantStatus.DISPATCHING).count() == BATCH
    os.killpg(worker.pid, signal.SIGKILL)  # the worker, then its work horse (a group of its own)
    os.killpg(horse, signal.SIGKILL)
    worker.wait(timeout=10)

    assert sum(deliveries_per_key().values()) == delivered  # the killed batch left no record behind
    assert Grant.objects.filter(status=GrantStatus.DISPATCHING).count() == BATCH  # claims of a dead worker
    assert delivery.grants_sweep(stuck_after_seconds=0)["stuck_returned"] == BATCH

    worker = start_worker(tmp_path, "restarted")
    assert worker.wait(timeout=60) == 0, (tmp_path / "restarted.log").read_text()[-3000:]

    assert Grant.objects.filter(status=GrantStatus.DELIVERED).count() == GRANTS
    per_key = deliveries_per_key()
    assert len(per_key) == GRANTS and set(per_key.values()) == {1}
    assert redis.zcard(delivery.QUEUE_KEY) == 0


# Each process delivers every grant, in its own random order and chunks, all at once.
RACER = r"""
import json, os, random, sys, time
import django
django.setup()
from rewards.services import delivery
args = json.loads(sys.argv[1])
ids = args["ids"]
random.Random(args["seed"]).shuffle(ids)
open(args["ready"], "w").close()
while not os.path.exists(args["go"]):
    time.sleep(0.005)
claimed = 0
for start in range(0, len(ids), 50):
    claimed += delivery.grants_deliver(grant_ids=ids[start:start + 50])["claimed"]
print(json.dumps({"claimed": claimed}))
"""


@pytest.mark.django_db(transaction=True)
def test_drains_racing_over_the_same_grants_claim_each_once(tmp_path, many_grants):
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER,
             json.dumps({"ids": many_grants, "seed": n, "go": str(go), "ready": str(tmp_path / f"ready-{n}")})],
            cwd=ROOT, env=process_env(REWARDS_DISPATCH_BACKEND="rewards.backends.logging.LoggingBackend"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(4)
    ]
    for n, racer in enumerate(racers):  # all set up (Django loaded) before any starts
        wait_for(tmp_path / f"ready-{n}", racer, read=False)
    go.touch()
    claimed = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err[-3000:]
        claimed.append(json.loads(out)["claimed"])
    assert sum(claimed) == GRANTS and all(c > 0 for c in claimed)  # everyone won some, nobody won twice
    per_key = deliveries_per_key()
    assert len(per_key) == GRANTS and set(per_key.values()) == {1}
    assert Grant.objects.filter(status=GrantStatus.DELIVERED).count() == GRANTS
