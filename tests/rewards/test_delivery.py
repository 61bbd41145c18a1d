"""Automatic delivery: the Redis queue, batched drains, claims, retries, the sweeper.

Real Redis (REDIS_URL) and the real database; jobs run in a burst SimpleWorker
in this process, so they see the test's transaction.
"""

import datetime as dt
import logging
import signal

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone
from rq import SimpleWorker
from rq.cron import CronScheduler
from rq.job import Job

from rewards import jobs, services
from rewards.backends import Result
from rewards.backends import test as test_backend
from rewards.backends.logging import LoggingBackend
from rewards.models import DeliveryRecord, FailureKind, Grant, GrantStatus
from rewards.services import delivery

TEST_BACKEND = "rewards.backends.test.TestBackend"


@pytest.fixture(autouse=True)
def redis():
    """The dispatch keys and the default queue, empty before and after each test."""
    connection = django_rq.get_connection("default")

    def clean():
        connection.delete(delivery.QUEUE_KEY, delivery.DRAIN_FLAG)
        queue = django_rq.get_queue("default")
        queue.empty()
        # A job another test left started (its worker killed) would be failed as abandoned during this one.
        for registry in (queue.scheduled_job_registry, queue.started_job_registry, queue.failed_job_registry):
            connection.delete(*(Job.key_for(job_id) for job_id in registry.get_job_ids()), registry.key)

    clean()
    test_backend.reset()
    yield connection
    clean()
    test_backend.reset()


@pytest.fixture
def memory_backend(settings):
    settings.REWARDS_DISPATCH_BACKEND = TEST_BACKEND
    return test_backend


@pytest.fixture
def make_grants(prize, tree, make_customers, django_capture_on_commit_callbacks):
    """Grants made by the real service; ``enqueue=False`` loses their on_commit enqueue."""

    def make(n, *, enqueue=True, prefix="G"):
        customers = make_customers(n, tree.bj, prefix=prefix)
        with django_capture_on_commit_callbacks(execute=enqueue):
            grants = [
                services.grant_create(prize=prize, customer=c, idempotency_key=f"{prefix}-{i}", source="test")
                for i, c in enumerate(customers)
            ]
        return grants

    return make


def queued_ids(redis):
    return sorted(int(member) for member in redis.zrange(delivery.QUEUE_KEY, 0, -1))


def run_worker():
    """``rqworker --burst`` in this process: the jobs see the test's transaction."""
    queue = django_rq.get_queue("default")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worked = SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:  # the worker installs its own; give pytest's back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    failed = queue.failed_job_registry
    assert failed.count == 0, [Job.fetch(i, connection=queue.connection).latest_result() for i in failed.get_job_ids()]
    return worked


def statuses(grants):
    return [Grant.objects.get(pk=g.pk).status for g in grants]


def make_due(grant):
    Grant.objects.filter(pk=grant.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


# --- the delivered path -------------------------------------------------------------


def test_a_new_grant_is_queued_after_commit_and_delivered_when_the_job_runs(make_grants, redis):
    grants = make_grants(3)
    assert queued_ids(redis) == sorted(g.pk for g in grants)
    assert django_rq.get_queue("default").count == 1  # one drain for the three, not one job each
    assert run_worker()
    assert statuses(grants) == [GrantStatus.DELIVERED] * 3
    for grant in grants:
        grant.refresh_from_db()
        assert grant.delivered_at is not None and grant.attempts == 1 and grant.last_error == ""
        (record,) = DeliveryRecord.objects.filter(grant=grant)
        assert record.idempotency_key == grant.idempotency_key
        assert record.backend == "rewards.backends.logging.LoggingBackend"
        assert record.payload["customer_ref"] == grant.customer.customer_ref
        assert record.payload["cost"] == "5.00" and record.payload["prize"]["code"] == "CASH5"
    assert queued_ids(redis) == []


def test_a_grant_never_committed_is_never_queued(prize, tree, make_customers, redis, django_capture_on_commit_callbacks):
    (customer,) = make_customers(1, tree.bj)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.grant_create(prize=prize, customer=customer, idempotency_key="rolled-back", source="test")
        raise RuntimeError("the caller's transaction fails after the grant")
    assert queued_ids(redis) == [] and django_rq.get_queue("default").count == 0


def test_a_drain_takes_one_batch_and_queues_the_next_while_ids_remain(make_grants, redis, settings):
    settings.REWARDS_DISPATCH_BATCH_SIZE = 2
    grants = make_grants(5)
    assert django_rq.get_queue("default").count == 1
    counts = delivery.grants_dispatch()
    assert counts == {"claimed": 2, "delivered": 2, "retrying": 0, "failed": 0}
    assert len(queued_ids(redis)) == 3
    assert django_rq.get_queue("default").count == 2  # the first drain (still queued here) and the next
    assert run_worker()
    assert statuses(grants) == [GrantStatus.DELIVERED] * 5
    assert DeliveryRecord.objects.count() == 5


def test_queueing_the_same_grant_twice_delivers_it_once(make_grants, redis):
    (grant,) = make_grants(1)
    delivery.grants_enqueue(grant_ids=[grant.pk, grant.pk])
    assert queued_ids(redis) == [grant.pk]
    run_worker()
    delivery.grants_enqueue(grant_ids=[grant.pk])  # a late duplicate, after delivery
    run_worker()
    assert DeliveryRecord.objects.filter(grant=grant).count() == 1


# --- failures and retries -------------------------------------------------------------


def test_a_transient_failure_returns_the_grant_to_pending_with_backoff_until_it_fails(
    make_grants, memory_backend, settings, django_capture_on_commit_callbacks
):
    settings.REWARDS_MAX_ATTEMPTS = 3
    settings.REWARDS_RETRY_BASE_SECONDS = 30
    (grant,) = make_grants(1, enqueue=False)
    memory_backend.fail(grant.idempotency_key)  # transient, every time
    scheduled = django_rq.get_queue("default").scheduled_job_registry

    for attempt, backoff in ((1, 30), (2, 60)):
        before = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            assert delivery.grants_deliver(grant_ids=[grant.pk])["retrying"] == 1
        grant.refresh_from_db()
        assert grant.status == GrantStatus.PENDING and grant.attempts == attempt
        assert grant.failure_kind == FailureKind.TRANSIENT and "transient failure" in grant.last_error
        assert grant.claim_token == "" and grant.claimed_at is None
        wait = grant.next_attempt_at - before
        assert dt.timedelta(seconds=backoff) <= wait < dt.timedelta(seconds=backoff + 5)
        # The retry is a job on RQ's scheduler, due a second after the grant.
        job = Job.fetch(scheduled.get_job_ids()[-1], connection=scheduled.connection)
        assert job.func_name == "rewards.jobs.grants_dispatch" and job.kwargs == {"grant_ids": [grant.pk]}
        assert 0 < (scheduled.get_scheduled_time(job) - grant.next_attempt_at).total_seconds() <= 1.5
        # Not due yet: a drain that meets it now leaves it alone.
        assert delivery.grants_deliver(grant_ids=[grant.pk]) == {"claimed": 0}
        make_due(grant)

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.grants_deliver(grant_ids=[grant.pk])["failed"] == 1
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILED and grant.failure_kind == FailureKind.TRANSIENT
    assert grant.attempts == 3 and grant.next_attempt_at is None
    assert len(scheduled.get_job_ids()) == 2  # no retry after the last attempt
    assert memory_backend.outbox == []


def test_a_retry_that_comes_due_delivers_the_grant(make_grants, memory_backend, redis, django_capture_on_commit_callbacks):
    (grant,) = make_grants(1, enqueue=False)
    memory_backend.fail(grant.idempotency_key, times=1)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.grants_deliver(grant_ids=[grant.pk])
    queue = django_rq.get_queue("default")
    (job_id,) = queue.scheduled_job_registry.get_job_ids()
    make_due(grant)
    job = Job.fetch(job_id, connection=queue.connection)
    queue.scheduled_job_registry.remove(job)  # what the scheduler does once the job is due
    queue.enqueue_job(job)
    assert run_worker()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.DELIVERED and grant.attempts == 2 and grant.failure_kind == ""
    assert [p["idempotency_key"] for p in memory_backend.outbox] == [grant.idempotency_key]


def test_a_permanent_failure_fails_the_grant_at_once(make_grants, memory_backend, django_capture_on_commit_callbacks):
    (grant,) = make_grants(1, enqueue=False)
    memory_backend.fail(grant.idempotency_key, permanent=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.grants_deliver(grant_ids=[grant.pk]) == {"claimed": 1, "delivered": 0, "retrying": 0, "failed": 1}
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILED and grant.failure_kind == FailureKind.PERMANENT
    assert grant.attempts == 1 and "permanent failure" in grant.last_error
    assert django_rq.get_queue("default").scheduled_job_registry.count == 0
    assert delivery.grants_deliver(grant_ids=[grant.pk]) == {"claimed": 0}  # failed waits for a person


class MixedBackend(LoggingBackend):
    """Delivers the first grant, and fails the others each with its own error."""

    def deliver(self, grants):
        first, transient, permanent = grants
        super().deliver([first])
        return {
            first.pk: Result.delivered(),
            transient.pk: Result.transient(f"timeout for {transient.idempotency_key}"),
            permanent.pk: Result.permanent(f"HTTP 400 for {permanent.idempotency_key}"),
        }


def test_one_batch_records_each_grants_own_outcome_and_error(make_grants, settings):
    settings.REWARDS_DISPATCH_BACKEND = f"{__name__}.MixedBackend"
    grants = make_grants(3, enqueue=False)
    counts = delivery.grants_deliver(grant_ids=[g.pk for g in grants])
    assert counts == {"claimed": 3, "delivered": 1, "retrying": 1, "failed": 1}
    first, transient, permanent = (Grant.objects.get(pk=g.pk) for g in grants)
    assert first.status == GrantStatus.DELIVERED and first.last_error == ""
    assert transient.status == GrantStatus.PENDING and transient.last_error == f"timeout for {transient.idempotency_key}"
    assert permanent.status == GrantStatus.FAILED and permanent.last_error == f"HTTP 400 for {permanent.idempotency_key}"
    assert DeliveryRecord.objects.filter(grant=first).count() == 1 and DeliveryRecord.objects.count() == 1


class BrokenLoggingBackend(LoggingBackend):
    """Records the deliveries, then raises before the batch is done."""

    def deliver(self, grants):
        super().deliver(grants)
        raise ConnectionError("the core system hung up")


def test_a_backend_that_raises_leaves_no_record_and_the_batch_is_retried(make_grants, settings):
    settings.REWARDS_DISPATCH_BACKEND = f"{__name__}.BrokenLoggingBackend"
    grants = make_grants(2, enqueue=False)
    assert delivery.grants_deliver(grant_ids=[g.pk for g in grants])["retrying"] == 2
    assert DeliveryRecord.objects.count() == 0
    assert statuses(grants) == [GrantStatus.PENDING] * 2
    assert "the core system hung up" in Grant.objects.get(pk=grants[0].pk).last_error


def test_an_unknown_backend_result_counts_as_a_transient_failure(make_grants, settings):
    settings.REWARDS_DISPATCH_BACKEND = f"{__name__}.SilentBackend"
    (grant,) = make_grants(1, enqueue=False)
    assert delivery.grants_deliver(grant_ids=[grant.pk])["retrying"] == 1
    grant.refresh_from_db()
    assert grant.status == GrantStatus.PENDING and "no result" in grant.last_error


class SilentBackend(LoggingBackend):
    transactional = False

    def deliver(self, grants):
        return {}


# --- claims ---------------------------------------------------------------------------


def test_claims_are_exclusive_so_two_drains_never_claim_the_same_grant(make_grants, redis):
    grants = make_grants(4)
    ids = [g.pk for g in grants]
    assert delivery._claim(ids[:3], "first") == 3
    assert delivery._claim(ids, "second") == 1  # only the one the first drain did not take
    assert sorted(Grant.objects.filter(claim_token="first").values_list("pk", flat=True)) == ids[:3]
    assert list(Grant.objects.filter(claim_token="second").values_list("pk", flat=True)) == [ids[3]]
    assert delivery.grants_deliver(grant_ids=ids) == {"claimed": 0}  # all taken: nothing to deliver
    assert Grant.objects.filter(status=GrantStatus.DISPATCHING).count() == 4 and DeliveryRecord.objects.count() == 0


class SweptMidDeliveryBackend(LoggingBackend):
    """A network backend so slow that the sweeper takes its claim back meanwhile."""

    transactional = False

    def deliver(self, grants):
        delivery.grants_sweep(stuck_after_seconds=-1)  # any claim, however recent
        return {grant.pk: Result.delivered() for grant in grants}


def test_a_claim_taken_back_by_the_sweeper_is_not_recorded_by_the_slow_worker(make_grants, settings, redis):
    (grant,) = make_grants(1, enqueue=False)
    settings.REWARDS_DISPATCH_BACKEND = f"{__name__}.SweptMidDeliveryBackend"
    assert delivery.grants_deliver(grant_ids=[grant.pk])["delivered"] == 0
    grant.refresh_from_db()
    assert grant.status == GrantStatus.PENDING and grant.claim_token == ""
    assert queued_ids(redis) == [grant.pk]  # the sweeper queued it again
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.logging.LoggingBackend"
    run_worker()
    grant.refresh_from_db()
    assert grant.status == GrantStatus.DELIVERED and grant.attempts == 2
    assert DeliveryRecord.objects.filter(grant=grant).count() == 1


# --- the sweeper ----------------------------------------------------------------------


def claimed_long_ago(grant, minutes=10, attempts=1):
    Grant.objects.filter(pk=grant.pk).update(
        status=GrantStatus.DISPATCHING, claim_token="dead-worker", attempts=attempts,
        claimed_at=timezone.now() - dt.timedelta(minutes=minutes),
    )


def test_the_sweeper_returns_stuck_claims_to_pending_and_they_are_delivered(make_grants, redis, settings):
    settings.REWARDS_STUCK_AFTER_SECONDS = 300
    stuck, recent = make_grants(2, enqueue=False)
    claimed_long_ago(stuck, minutes=10)
    claimed_long_ago(recent, minutes=1)  # maybe still working: left alone
    counts = jobs.grants_sweep()
    assert counts == {"stuck_returned": 1, "stuck_failed": 0, "lost_requeued": 0}
    stuck.refresh_from_db()
    assert stuck.status == GrantStatus.PENDING and stuck.claim_token == "" and stuck.claimed_at is None
    assert queued_ids(redis) == [stuck.pk] and django_rq.get_queue("default").count == 1
    run_worker()
    assert statuses([stuck, recent]) == [GrantStatus.DELIVERED, GrantStatus.DISPATCHING]
    assert DeliveryRecord.objects.filter(grant=stuck).count() == 1


def test_the_sweeper_fails_a_grant_whose_worker_died_on_every_attempt(make_grants, settings):
    settings.REWARDS_MAX_ATTEMPTS = 3
    (grant,) = make_grants(1, enqueue=False)
    claimed_long_ago(grant, attempts=3)
    assert delivery.grants_sweep()["stuck_failed"] == 1
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILED and grant.failure_kind == FailureKind.TRANSIENT
    assert "stopped" in grant.last_error


def test_the_sweeper_requeues_due_pending_grants_whose_enqueue_was_lost(make_grants, redis):
    lost, fresh, waiting = make_grants(3, enqueue=False)
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    Grant.objects.filter(pk__in=[lost.pk, waiting.pk]).update(created_at=long_ago)
    Grant.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now() + dt.timedelta(minutes=5))
    assert delivery.grants_sweep() == {"stuck_returned": 0, "stuck_failed": 0, "lost_requeued": 1}
    assert queued_ids(redis) == [lost.pk]  # not the fresh one (its enqueue may be on its way), nor the one not due
    run_worker()
    assert statuses([lost, fresh, waiting]) == [GrantStatus.DELIVERED, GrantStatus.PENDING, GrantStatus.PENDING]


def test_the_sweeper_queues_a_drain_even_when_a_stale_flag_says_one_is_queued(make_grants, redis):
    (grant,) = make_grants(1, enqueue=False)
    redis.zadd(delivery.QUEUE_KEY, {str(grant.pk): 0})
    redis.set(delivery.DRAIN_FLAG, 1)  # Redis failed between setting the flag and queueing the job
    delivery.grants_enqueue(grant_ids=[grant.pk])
    assert django_rq.get_queue("default").count == 0
    delivery.grants_sweep()
    assert django_rq.get_queue("default").count == 1
    run_worker()
    assert statuses([grant]) == [GrantStatus.DELIVERED]


def test_the_sweeper_touches_at_most_its_limit_per_run(make_grants, redis):
    grants = make_grants(3, enqueue=False)
    Grant.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
    assert delivery.grants_sweep(limit=2)["lost_requeued"] == 2
    assert queued_ids(redis) == sorted(g.pk for g in grants)[:2]


def test_the_cron_config_runs_the_sweeper_every_minute(redis):
    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file("rewards.cron")
    (cron_job,) = scheduler.get_jobs()
    assert cron_job.func is jobs.grants_sweep and cron_job.cron == "* * * * *" and cron_job.queue_name == "default"


# --- Redis down --------------------------------------------------------------------------


def test_a_grant_is_made_even_when_redis_is_down_and_the_sweeper_delivers_it_later(
    prize, tree, make_customers, settings, caplog, redis, django_capture_on_commit_callbacks
):
    (customer,) = make_customers(1, tree.bj)
    up = settings.RQ_QUEUES
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="rewards.services.delivery"), django_capture_on_commit_callbacks(execute=True) as callbacks:
        grant = services.grant_create(prize=prize, customer=customer, idempotency_key="redis-down", source="test")
    assert len(callbacks) == 1
    assert "could not queue 1 grants; the sweeper will" in caplog.text
    grant.refresh_from_db()
    assert grant.status == GrantStatus.PENDING
    settings.RQ_QUEUES = up
    Grant.objects.filter(pk=grant.pk).update(created_at=timezone.now() - dt.timedelta(minutes=2))
    assert delivery.grants_sweep()["lost_requeued"] == 1
    run_worker()
    assert statuses([grant]) == [GrantStatus.DELIVERED]
