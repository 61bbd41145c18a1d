"""Automatic delivery of grants: a Redis queue of grant ids drained in batches,
exclusive claims, retries with backoff, and a sweeper for whatever gets lost.

How a grant travels
-------------------
1. ``grant_create`` commits; its on_commit calls ``grants_enqueue``, which adds
   the id to the sorted set ``QUEUE_KEY`` (score: when it was first queued;
   ZADD NX, so queueing an id twice is a no-op) and makes sure a drain job is
   queued.
2. A drain job (``rewards.jobs.grants_dispatch``) pops up to
   ``REWARDS_DISPATCH_BATCH_SIZE`` ids, oldest first, queues the next drain
   if ids remain — so every idle worker takes a batch — and delivers its own:

   a. claim: one conditional UPDATE, pending → dispatching with a fresh
      ``claim_token``, only where the grant is pending and due. It commits at
      once. The row lock makes it exclusive: of two drains racing for a grant,
      the second UPDATE re-checks ``status`` after the first commits and
      skips the row.
   b. deliver through the backend (``rewards.backends``): a transactional
      backend (the logging one) inside the transaction of step c, so its
      records and the status change commit together or not at all; a network
      backend with no transaction open and no lock held.
   c. record: in one short transaction, lock the grants still claimed with
      this token (the sweeper may have taken back a claim that looked dead)
      and write the outcomes, one UPDATE per kind of outcome.

3. A transient failure goes back to pending, due at
   now + REWARDS_RETRY_BASE_SECONDS · 2^(attempts - 1) (at most an hour), and
   a job is scheduled for then (RQ's scheduler: ``rqworker --with-scheduler``).
   After REWARDS_MAX_ATTEMPTS it fails, as does a permanent failure at once;
   failed grants wait for a person.
4. The sweeper (every minute, ``rewards/cron.py``) returns claims older than
   REWARDS_STUCK_AFTER_SECONDS to pending and re-queues pending grants that
   are due but lost: the process died between commit and enqueue, Redis was
   down, or a drain died after popping its ids.

The queue and its drain flag are ``config.drains.Drain``: nothing waits for
the sweeper unless Redis or a process fails.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from config import drains
from config.drains import Drain
from rewards.backends import DispatchBackend, Outcome, Result, get_backend
from rewards.models import FailureKind, Grant, GrantStatus

logger = logging.getLogger(__name__)

DRAIN = Drain("rewards:dispatch", "rewards.jobs.grants_dispatch", "rewards: deliver queued grants")
QUEUE_KEY, DRAIN_FLAG = DRAIN.queue_key, DRAIN.flag
RETRY_CAP_SECONDS = 3600
# on_commit enqueues within milliseconds; a pending grant due for longer than
# this was lost on its way to Redis (or waits in a long queue: re-adding is a no-op).
PENDING_GRACE_SECONDS = 60
SWEEP_LIMIT = 10_000
ERROR_CHARS = 1000


# --- queueing -----------------------------------------------------------------


def grants_enqueue(*, grant_ids: Iterable[int]) -> None:
    """Queue committed grants for delivery (call it from ``transaction.on_commit``:
    a drain may run at once). Never raises: the sweeper catches what is lost."""
    ids = list(grant_ids)
    if not ids:
        return
    try:
        DRAIN.add(ids, at=time.time())
        DRAIN.ensure()
    except Exception:
        logger.exception("dispatch: could not queue %d grants; the sweeper will", len(ids))


def grants_dispatch(*, grant_ids: Sequence[int] | None = None) -> dict[str, int]:
    """The drain job: deliver the next batch of queued grants.

    With ``grant_ids`` (a retry that came due) it only puts those back in the
    queue; the drain it makes sure of delivers them with everything else.
    """
    if grant_ids:
        grants_enqueue(grant_ids=grant_ids)
        return {"requeued": len(grant_ids)}
    ids = DRAIN.pop(settings.REWARDS_DISPATCH_BATCH_SIZE)
    return grants_deliver(grant_ids=ids) if ids else {"claimed": 0}


# --- delivering -----------------------------------------------------------------


def grants_deliver(*, grant_ids: Sequence[int], backend: DispatchBackend | None = None) -> dict[str, int]:
    """Claim, deliver and record these grants; any not pending and due are skipped.

    Safe to run twice and concurrently: only the claim's winner delivers, and
    only a claim still held when the outcome is written counts.
    """
    backend = backend or get_backend()
    token = uuid.uuid4().hex
    claimed = _claim(grant_ids, token)
    if not claimed:
        return {"claimed": 0}
    grants = list(
        Grant.objects.filter(pk__in=grant_ids, status=GrantStatus.DISPATCHING, claim_token=token)
        .select_related("prize__pool", "customer", "coupon_code")
        .order_by("pk")
    )
    if backend.transactional:
        with transaction.atomic():
            owned = _lock_claimed(grants, token)
            counts, retries = _record(owned, _deliver(backend, owned))
    else:
        results = _deliver(backend, grants)
        with transaction.atomic():
            owned = _lock_claimed(grants, token)
            counts, retries = _record(owned, results)
    if retries:
        transaction.on_commit(lambda: _retries_schedule(retries))
    counts["claimed"] = claimed
    logger.info(
        "dispatch: claimed %(claimed)d, delivered %(delivered)d, retrying %(retrying)d, failed %(failed)d", counts
    )
    return counts


def _claim(grant_ids: Sequence[int], token: str) -> int:
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return (
        Grant.objects.filter(due, pk__in=grant_ids, status=GrantStatus.PENDING)
        # update() skips auto_now: updated_at is set by hand here and below.
        .update(status=GrantStatus.DISPATCHING, claim_token=token, claimed_at=now,
                attempts=F("attempts") + 1, updated_at=now)
    )


def _lock_claimed(grants: list[Grant], token: str) -> list[Grant]:
    """The grants still claimed with ``token``, their rows locked until commit.

    Locked in pk order, so two transactions never wait on each other in a
    cycle. Once locked, the sweeper's UPDATE waits for our commit and then
    finds the grants no longer in dispatching.
    """
    still = set(
        Grant.objects.select_for_update()
        .filter(pk__in=[g.pk for g in grants], status=GrantStatus.DISPATCHING, claim_token=token)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if len(still) < len(grants):
        logger.warning("dispatch: %d claims were taken back by the sweeper; their new claim delivers them",
                       len(grants) - len(still))
    return [g for g in grants if g.pk in still]


def _deliver(backend: DispatchBackend, grants: list[Grant]) -> dict[int, Result]:
    if not grants:
        return {}
    try:
        if backend.transactional:
            with transaction.atomic():  # a savepoint: a backend that raises leaves no half batch
                return backend.deliver(grants)
        return backend.deliver(grants)
    except Exception as exc:
        logger.exception("dispatch: backend %s failed on a batch of %d", backend.name, len(grants))
        return {g.pk: Result.transient(f"backend error: {exc!r}") for g in grants}


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(settings.REWARDS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def _errors(errors: dict[int, str]):
    """One SQL value for ``last_error`` per grant, so each outcome is one UPDATE."""
    texts = {pk: (text or "")[:ERROR_CHARS] for pk, text in errors.items()}
    if len(set(texts.values())) == 1:
        return Value(next(iter(texts.values())))
    return Case(*(When(pk=pk, then=Value(text)) for pk, text in texts.items()), default=F("last_error"))


def _record(grants: list[Grant], results: dict[int, Result]) -> tuple[dict[str, int], dict[datetime, list[int]]]:
    """Write each grant's outcome; returns the counts and the retries to schedule."""
    now = timezone.now()
    delivered: list[int] = []
    permanent: dict[int, str] = {}
    exhausted: dict[int, str] = {}
    retry: dict[int, dict[int, str]] = defaultdict(dict)  # attempts → {pk: error}
    for grant in grants:
        result = results.get(grant.pk) or Result.transient("the backend gave no result for this grant")
        if result.outcome == Outcome.DELIVERED:
            delivered.append(grant.pk)
        elif result.outcome == Outcome.PERMANENT:
            permanent[grant.pk] = result.error
        elif grant.attempts >= settings.REWARDS_MAX_ATTEMPTS:
            exhausted[grant.pk] = result.error
        else:
            retry[grant.attempts][grant.pk] = result.error
    rows = Grant.objects.filter(status=GrantStatus.DISPATCHING)
    if delivered:
        rows.filter(pk__in=delivered).update(
            status=GrantStatus.DELIVERED, delivered_at=now, next_attempt_at=None, last_error="",
            failure_kind="", updated_at=now,
        )
    for kind, failed in ((FailureKind.PERMANENT, permanent), (FailureKind.TRANSIENT, exhausted)):
        if failed:
            rows.filter(pk__in=list(failed)).update(
                status=GrantStatus.FAILED, failure_kind=kind, last_error=_errors(failed), next_attempt_at=None,
                updated_at=now,
            )
    retries: dict[datetime, list[int]] = {}
    for attempts, errors in retry.items():
        when = now + _retry_delay(attempts)
        rows.filter(pk__in=list(errors)).update(
            status=GrantStatus.PENDING, next_attempt_at=when, failure_kind=FailureKind.TRANSIENT,
            last_error=_errors(errors), claim_token="", claimed_at=None, updated_at=now,
        )
        retries[when] = list(errors)
    if permanent or exhausted:
        logger.warning("dispatch: %d grants failed and wait for a person", len(permanent) + len(exhausted))
    counts = {
        "delivered": len(delivered),
        "retrying": sum(len(errors) for errors in retry.values()),
        "failed": len(permanent) + len(exhausted),
    }
    return counts, retries


def _retries_schedule(retries: dict[datetime, list[int]]) -> None:
    try:
        queue = drains.rq_queue()
        for when, ids in retries.items():
            # A second late, so the claim's "due" check passes even on a worker
            # whose clock runs a little behind this one.
            queue.enqueue_at(when + timedelta(seconds=1), DRAIN.job, grant_ids=ids, result_ttl=0,
                             description="rewards: retry grants")
    except Exception:
        logger.exception("dispatch: could not schedule %d retries; the sweeper will",
                         sum(len(ids) for ids in retries.values()))


# --- the sweeper ----------------------------------------------------------------


def grants_sweep(
    *, stuck_after_seconds: int | None = None, grace_seconds: int = PENDING_GRACE_SECONDS, limit: int = SWEEP_LIMIT,
) -> dict[str, int]:
    """Return dead claims to pending and re-queue lost pending grants (at most ``limit`` of each).

    A claim older than REWARDS_STUCK_AFTER_SECONDS is taken to be dead (its
    worker was killed). If its worker is only slow, nothing is delivered
    twice by the logging backend: the slow worker's outcome is written only
    while it still holds the claim. An HTTP delivery may be sent twice; the
    receiver drops the repeat by its idempotency key.
    """
    stuck_after = settings.REWARDS_STUCK_AFTER_SECONDS if stuck_after_seconds is None else stuck_after_seconds
    now = timezone.now()
    grace_before = now - timedelta(seconds=grace_seconds)
    lost = list(
        Grant.objects.filter(status=GrantStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True, created_at__lt=grace_before) | Q(next_attempt_at__lt=grace_before))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    stuck = Grant.objects.filter(status=GrantStatus.DISPATCHING, claimed_at__lt=now - timedelta(seconds=stuck_after))
    stuck_ids = list(stuck.order_by("claimed_at").values_list("pk", flat=True)[:limit])
    # A grant whose worker died under it every time is likely what kills the
    # worker: a person looks at it instead of it taking down workers forever.
    given_up = stuck.filter(pk__in=stuck_ids, attempts__gte=settings.REWARDS_MAX_ATTEMPTS).update(
        status=GrantStatus.FAILED, failure_kind=FailureKind.TRANSIENT, next_attempt_at=None,
        last_error="The worker delivering this grant stopped during every attempt.",
        claim_token="", claimed_at=None, updated_at=now,
    )
    returned = stuck.filter(pk__in=stuck_ids).update(
        status=GrantStatus.PENDING, claim_token="", claimed_at=None, next_attempt_at=None, updated_at=now,
    )
    DRAIN.add(sorted(set(lost) | set(stuck_ids)), at=time.time())
    if DRAIN.size():
        # Whatever the flag says: a flag whose job was lost must not hold delivery up.
        DRAIN.ensure(force=True)
    counts = {"stuck_returned": returned, "stuck_failed": given_up, "lost_requeued": len(lost)}
    if any(counts.values()):
        logger.warning(
            "sweep: %(stuck_returned)d stuck grants back to pending, %(stuck_failed)d failed, "
            "%(lost_requeued)d lost pending grants re-queued", counts,
        )
    return counts
