"""Manual dispatch batches: one prize to chosen customers, with maker-checker.

A batch freezes its members (a roaring bitmap of customer ids) when it is
created, so approval and the job act on exactly what the preview showed.
Above ``settings.REWARDS_BATCH_APPROVAL_ABOVE`` (CNY) it waits for a second
person's approval; otherwise it is queued at once.

The job (``batch_run``) claims a queued batch with one conditional UPDATE, so a
second run of the same job does nothing. It grants member by member through
``grant_create`` with the key ``batch:<pk>:<customer id>``: a batch resumed
after its worker died (``batch_resume``) grants nobody twice, and whoever was
granted before reports as "already granted". Stock is not held for a batch
between preview and run; what runs short is counted per member (sold out,
budget used up) and the rest are still granted.

Progress lives in Redis (the web process cannot see the job's open
transaction); the outcome per customer is a CSV report.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable
from itertools import islice

import django_rq
import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pyroaring import BitMap

from accounts.permissions import Verb, can
from accounts.services import audit_record
from audiences import selectors as audience_selectors
from audiences.exports import BOM, safe_row
from audiences.models import Customer
from config import jobs
from rewards import selectors
from rewards.models import BatchSelection, BatchStatus, DispatchBatch, Grant, Prize
from rewards.services.ledger import grant_create

logger = logging.getLogger(__name__)

# Members granted per transaction: one commit per chunk instead of per grant,
# while the prize row (locked by each grant's stock UPDATE) is held only briefly.
CHUNK_SIZE = 100
JOB_TIMEOUT = 6 * 3600
SOURCE = "manual dispatch"
REPORT_HEADER = ("customer_ref", "outcome", "grant_id", "message")

# ValidationError codes of grant_create, as outcomes of one member.
OUTCOMES = {
    "granted": gettext_lazy("granted"),
    "already_granted": gettext_lazy("already granted"),
    "sold_out": gettext_lazy("sold out"),
    "budget": gettext_lazy("budget used up"),
    "expired": gettext_lazy("pool not valid"),
    "conflict": gettext_lazy("key used for another grant"),
    "missing": gettext_lazy("customer no longer exists"),
    "refused": gettext_lazy("refused"),
}


def _require(actor, verb: str, obj) -> None:
    if not can(actor, verb, obj):
        raise PermissionDenied


def grant_key(batch: DispatchBatch, customer_id: int) -> str:
    return f"batch:{batch.pk}:{customer_id}"


def batch_create(
    *, actor, prize: Prize, customer_ids: Iterable[int], selection: str, selection_label: str, reason: str,
    request_id: str = "",
) -> DispatchBatch:
    """Freeze a manual dispatch of ``prize`` to ``customer_ids``.

    Every customer must be in the actor's scope, and the stock, the pool's
    budget and its validity must cover the whole batch now. Above the approval
    threshold the batch waits for someone else's approval; otherwise it is
    queued and its job starts after commit. ``request_id`` (the preview's)
    makes a confirmation sent twice create one batch.
    """
    _require(actor, Verb.DISPATCH, prize)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why these customers get the prize."))
    if selection not in BatchSelection.values:
        raise ValidationError(_("Choose how the customers are chosen."))
    members = BitMap(customer_ids)
    if not members:
        raise ValidationError(_("Choose at least one customer."))
    # The scope's bitmap holds exactly the existing customers of the actor's branches.
    if not members.issubset(audience_selectors.scope_universe(actor)):
        raise ValidationError(
            _("Some chosen customers do not exist or are not in your scope; nothing was dispatched."), code="scope"
        )
    members.run_optimize()
    with transaction.atomic():
        # The prize row lock orders concurrent confirmations of the same
        # preview, so the request_id look-up below cannot race.
        prize = Prize.objects.select_for_update().select_related("pool").get(pk=prize.pk)
        if request_id:
            earlier = DispatchBatch.objects.filter(created_by=actor, summary__request_id=request_id).first()
            if earlier is not None:
                return earlier
        check = selectors.batch_check(prize=prize, count=len(members))
        if check.errors:
            raise ValidationError(list(check.errors))
        needs_approval = check.needs_approval
        batch = DispatchBatch.objects.create(
            prize=prize,
            reason=reason[:200],
            selection=selection,
            selection_label=(selection_label or "")[:200],
            members=members.serialize(),
            customer_count=len(members),
            total_cost=check.total_cost,
            status=BatchStatus.AWAITING_APPROVAL if needs_approval else BatchStatus.QUEUED,
            created_by=actor,
            job_id="" if needs_approval else uuid.uuid4().hex,
            summary={"request_id": request_id, "language": translation.get_language() or settings.LANGUAGE_CODE},
        )
        audit_record(
            actor=actor,
            action="batch.create",
            obj=batch,
            changes={
                "prize": prize.pk, "customers": batch.customer_count, "total_cost": str(batch.total_cost),
                "selection": selection, "status": batch.status,
            },
            reason=reason,
        )
        if not needs_approval:
            _enqueue_on_commit(batch)
    return batch


def _decidable(actor, batch: DispatchBatch) -> None:
    _require(actor, Verb.APPROVE, batch)
    # Maker-checker (DESIGN.md §6.5): the maker never checks their own batch.
    if batch.created_by_id == actor.pk:
        raise PermissionDenied(_("Someone other than its creator must approve or reject a batch."))


@transaction.atomic
def batch_approve(*, actor, batch: DispatchBatch, reason: str = "") -> DispatchBatch:
    """Approve a batch waiting for approval (not one's own) and queue its job."""
    _decidable(actor, batch)
    reason = (reason or "").strip()
    # Approving what cannot run would grant only part of it: the approver rejects instead.
    check = selectors.batch_check(prize=batch.prize, count=batch.customer_count)
    if check.errors:
        raise ValidationError([*check.errors, _("Reject the batch, or wait until stock or budget is added.")])
    job_id = uuid.uuid4().hex
    decided = DispatchBatch.objects.filter(pk=batch.pk, status=BatchStatus.AWAITING_APPROVAL).update(
        status=BatchStatus.QUEUED, decided_by=actor, decided_at=timezone.now(), decision_reason=reason[:200],
        job_id=job_id,
    )
    if not decided:
        raise ValidationError(_("This batch has already been approved or rejected."))
    batch.refresh_from_db()
    audit_record(
        actor=actor, action="batch.approve", obj=batch,
        changes={"status": [BatchStatus.AWAITING_APPROVAL, BatchStatus.QUEUED], "total_cost": str(batch.total_cost)},
        reason=reason,
    )
    _enqueue_on_commit(batch)
    return batch


@transaction.atomic
def batch_reject(*, actor, batch: DispatchBatch, reason: str) -> DispatchBatch:
    """Reject a batch waiting for approval (not one's own); nothing is granted."""
    _decidable(actor, batch)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Say why the batch is rejected."))
    decided = DispatchBatch.objects.filter(pk=batch.pk, status=BatchStatus.AWAITING_APPROVAL).update(
        status=BatchStatus.REJECTED, decided_by=actor, decided_at=timezone.now(), decision_reason=reason[:200],
    )
    if not decided:
        raise ValidationError(_("This batch has already been approved or rejected."))
    batch.refresh_from_db()
    audit_record(
        actor=actor, action="batch.reject", obj=batch,
        changes={"status": [BatchStatus.AWAITING_APPROVAL, BatchStatus.REJECTED]}, reason=reason,
    )
    return batch


def batch_resume(*, actor, batch: DispatchBatch) -> DispatchBatch:
    """Queue again a batch whose job died (``selectors.batch_stuck``) or failed.

    Safe because every member's grant has its own idempotency key: members
    granted before are reported as already granted, never granted twice. The
    update is conditional on the status and job found, so a second click
    changes nothing more.
    """
    _require(actor, Verb.DISPATCH, batch)
    # Asking Redis about the job is a network call: made before the transaction.
    if batch.status != BatchStatus.FAILED and not selectors.batch_stuck(batch=batch):
        raise ValidationError(_("This batch is not stuck or failed; there is nothing to resume."))
    with transaction.atomic():
        resumed = DispatchBatch.objects.filter(pk=batch.pk, status=batch.status, job_id=batch.job_id).update(
            status=BatchStatus.QUEUED, job_id=uuid.uuid4().hex, failure="", finished_at=None
        )
        if resumed:
            audit_record(actor=actor, action="batch.resume", obj=batch, changes={"status": [batch.status, "queued"]})
            batch.refresh_from_db()
            _enqueue_on_commit(batch)
    batch.refresh_from_db()
    return batch


def _enqueue_on_commit(batch: DispatchBatch) -> None:
    batch_id, job_id = batch.pk, batch.job_id
    transaction.on_commit(lambda: _enqueue(batch_id=batch_id, job_id=job_id))


def _enqueue(*, batch_id: int, job_id: str) -> None:
    try:
        django_rq.get_queue("default").enqueue(
            "rewards.jobs.batch_run", batch_id, job_id=job_id, job_timeout=JOB_TIMEOUT
        )
    except redis.RedisError:
        # The batch stays queued with a job Redis does not know: the detail page
        # shows it as stuck and offers to resume it.
        logger.exception("batch %s: could not enqueue its job", batch_id)


# ------------------------------------------------------------------ the job


def batch_run(*, batch_id: int) -> None:
    """Grant every member of a queued batch; count and report each outcome."""
    claimed = DispatchBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(
        status=BatchStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.info("batch %s: not queued, nothing to do", batch_id)
        return
    batch = DispatchBatch.objects.select_related("prize__pool", "created_by").get(pk=batch_id)
    with translation.override(batch.summary.get("language") or settings.LANGUAGE_CODE):
        try:
            counts = _grant_all(batch)
        except Exception as exc:
            logger.exception("batch %s failed", batch_id)
            _fail(batch, _("Unexpected error: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"})
            return
    with transaction.atomic():
        batch.status = BatchStatus.DONE
        batch.finished_at = timezone.now()
        batch.failure = ""
        batch.summary = {**batch.summary, "counts": counts, "total": batch.customer_count}
        batch.save(update_fields=["status", "finished_at", "failure", "summary", "report"])
        audit_record(actor=None, action="batch.done", obj=batch, changes=counts)


def _grant_all(batch: DispatchBatch) -> dict[str, int]:
    members = selectors.batch_members(batch)
    total = len(members)
    progress = jobs.Progress(selectors.batch_progress_key(batch)).set
    progress(0, total)
    counts: Counter[str] = Counter()
    with tempfile.TemporaryFile() as tmp:
        text = io.TextIOWrapper(tmp, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        text.write(BOM)
        writer.writerow(REPORT_HEADER)
        done = 0
        ids = iter(members)
        while chunk := list(islice(ids, CHUNK_SIZE)):
            with transaction.atomic():
                rows = _grant_chunk(batch, chunk)
            for customer_ref, outcome, grant_id, message in rows:
                counts[outcome] += 1
                writer.writerow(safe_row([customer_ref, outcome, grant_id or "", message]))
            done += len(chunk)
            progress(done, total)
        text.flush()
        text.detach()
        tmp.seek(0)
        batch.report.save(f"batch-{batch.pk}-{uuid.uuid4().hex[:8]}.csv", File(tmp, name="report.csv"), save=False)
    return {key: counts.get(key, 0) for key in OUTCOMES}


def _grant_chunk(batch: DispatchBatch, chunk: list[int]) -> list[tuple[str, str, int | None, str]]:
    customers = Customer.objects.in_bulk(chunk)
    keys = {grant_key(batch, pk): pk for pk in chunk}
    before = dict(Grant.objects.filter(idempotency_key__in=keys).values_list("customer_id", "pk"))
    rows = []
    for pk in chunk:
        customer = customers.get(pk)
        if customer is None:
            rows.append((str(pk), "missing", None, str(OUTCOMES["missing"])))
            continue
        if pk in before:
            rows.append((customer.customer_ref, "already_granted", before[pk], ""))
            continue
        try:
            grant = grant_create(
                prize=batch.prize, customer=customer, idempotency_key=grant_key(batch, pk), source=SOURCE,
                source_ref=batch.source_ref, actor=batch.created_by,
            )
        except ValidationError as exc:
            outcome = exc.code if exc.code in OUTCOMES else "refused"
            rows.append((customer.customer_ref, outcome, None, " ".join(exc.messages)))
        else:
            rows.append((customer.customer_ref, "granted", grant.pk, ""))
    return rows


def _fail(batch: DispatchBatch, reason: str) -> None:
    with transaction.atomic():
        DispatchBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, finished_at=timezone.now(), failure=reason[:2000]
        )
        audit_record(actor=None, action="batch.failed", obj=batch, reason=reason[:2000])

