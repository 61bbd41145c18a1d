"""Confirming an import, the import job, and retrying a batch whose job died.

The job (``import_run``) checks the file again, inside the one transaction that
writes it, because customers, tags and scopes may have changed since the
preview. Either every row is written or none is; so a job killed half-way
wrote nothing, and running the batch again (``import_retry``) is safe.

Progress lives in Redis, not in the database: the job's transaction is
invisible to the web process until it commits.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import PurePath

import django_rq
import numpy as np
import pandas as pd
import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Branch
from accounts.permissions import Verb, can
from accounts.scope import BranchScope
from accounts.services import audit_record
from audiences import bitmaps, selectors
from audiences.models import BitmapIndex, ImportBatch, ImportKind, ImportStatus, Tag
from audiences.services.imports import checking, reading
from audiences.services.imports.reports import save_report
from config import jobs

logger = logging.getLogger(__name__)

# rq's default (600 s) is too short for a million rows on SQLite.
JOB_TIMEOUT = 6 * 3600
CHECK_JOB_TIMEOUT = 2 * 3600


def import_confirm(*, user, batch: ImportBatch) -> ImportBatch:
    """Queue a VALIDATED batch for import; a batch is confirmed once only."""
    if not can(user, Verb.EDIT, batch):
        raise PermissionDenied
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().select_related("branch").get(pk=batch.pk)
        if batch.status == ImportStatus.INVALID:
            raise ValidationError(_("This file has errors; fix them and upload it again."))
        if batch.status == ImportStatus.CHECKING:
            raise ValidationError(_("The file is still being checked; confirm it once the preview is ready."))
        if batch.status != ImportStatus.VALIDATED:
            raise ValidationError(_("This import has already been confirmed."))
        batch.status = ImportStatus.QUEUED
        batch.job_id = uuid.uuid4().hex
        batch.save(update_fields=["status", "job_id"])
        audit_record(
            actor=user,
            action="import.confirm",
            obj=batch,
            changes={"kind": batch.kind, "file": batch.original_name, "rows": batch.total_rows},
        )
        batch_id, job_id = batch.pk, batch.job_id
        transaction.on_commit(lambda: enqueue(batch_id=batch_id, job_id=job_id, status=ImportStatus.QUEUED))
    return batch


def import_retry(*, user, batch: ImportBatch) -> ImportBatch:
    """Start again a batch whose job died (``selectors.import_batch_stuck``).

    A batch stuck checking is checked again; one stuck queued or importing is
    queued again under a new job id. The dead job wrote nothing (a check writes
    only its result, an import is one transaction), so this is safe. The
    update is conditional on the status and job id found stuck: a second click,
    or another user retrying at the same moment, changes nothing more and gets
    the batch as the first retry left it.
    """
    if not can(user, Verb.EDIT, batch):
        raise PermissionDenied
    # Asking Redis about the job is a network call: made before the transaction.
    if not selectors.import_batch_stuck(batch=batch):
        current = ImportBatch.objects.get(pk=batch.pk)
        if batch.status in selectors.IMPORT_IN_FLIGHT and current.job_id != batch.job_id:
            return current  # retried meanwhile, by a second click or someone else
        raise ValidationError(_("This import is not stuck; there is nothing to retry."))
    stuck_status, stuck_job = batch.status, batch.job_id
    status = ImportStatus.CHECKING if stuck_status == ImportStatus.CHECKING else ImportStatus.QUEUED
    job_id = uuid.uuid4().hex
    with transaction.atomic():
        retried = ImportBatch.objects.filter(pk=batch.pk, status=stuck_status, job_id=stuck_job).update(
            status=status, job_id=job_id, started_at=None
        )
        if retried:
            audit_record(
                actor=user,
                action="import.retry",
                obj=batch,
                changes={"status": [stuck_status, status], "dead_job": stuck_job},
            )
            batch_id = batch.pk
            transaction.on_commit(lambda: enqueue(batch_id=batch_id, job_id=job_id, status=status))
    batch.refresh_from_db()
    return batch


def import_run(*, batch_id: int) -> None:
    """Import a confirmed batch, all or nothing. Safe to run twice.

    Claiming the batch is one conditional UPDATE (QUEUED → RUNNING): a second
    run of the same job, or a batch that was never confirmed, finds another
    status and does nothing. The rows, the bitmaps, the report and the DONE
    status commit together; on any error the transaction rolls back and the
    batch is marked FAILED with the reason.
    """
    claimed = ImportBatch.objects.filter(pk=batch_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.info("import %s: not queued, nothing to do", batch_id)
        return
    batch = ImportBatch.objects.select_related("branch", "uploaded_by").get(pk=batch_id)
    progress = Progress(batch)
    with translation.override(batch.summary.get("language") or settings.LANGUAGE_CODE):
        try:
            progress("read", 0, batch.total_rows)
            with batch.file.open("rb") as fh:
                frame, rows = reading.load(fh, PurePath(batch.file.name).suffix.lower(), batch.kind, progress)
            with transaction.atomic():
                _execute(batch, frame, rows, progress)
        except Exception as exc:
            logger.exception("import %s failed", batch_id)
            if isinstance(exc, checking.ImportRejected | ValidationError):
                reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            else:
                reason = unexpected(exc)
            _fail(batch, reason)


def _execute(batch: ImportBatch, frame: pd.DataFrame, rows: np.ndarray, progress: Progress) -> None:
    scope = BranchScope(batch.branch)
    # Every customer writer (customers_upsert) locks all branch bitmaps, so while
    # we hold them no customer is created or moved behind our checks; for a tag
    # file, its tags' bitmaps are locked too. The keys are taken as one sorted
    # set, the order every bitmap writer uses, and the upsert's own later locks
    # (day:, month:, tag:) all sort after "branch:", so no deadlock is possible.
    keys = set(BitmapIndex.objects.filter(key__startswith="branch:").values_list("key", flat=True))
    keys |= {bitmaps.branch_key(pk) for pk in Branch.objects.visible_to(scope).values_list("pk", flat=True)}
    if batch.kind == ImportKind.TAGS:
        codes = frame["tag_code"].unique().tolist()
        keys |= {bitmaps.tag_key(pk) for pk in Tag.objects.filter(code__in=codes).values_list("pk", flat=True)}
    with bitmaps.locked(keys):
        plan = checking.check(batch.kind, frame, rows, scope, progress)
        if plan.problems.count:
            first = plan.problems.first(1)[0]
            raise checking.ImportRejected(
                _("The file no longer passes its checks (%(count)s errors; first: row %(row)s, %(column)s: %(message)s). Nothing was written.")
                % {"count": plan.problems.count, **first}
            )
        source_ref = f"import:{batch.pk}"
        result = plan.write(batch, source_ref, progress)
        progress("report", 0, 1)
        save_report(batch, plan.report_rows())
    batch.status = ImportStatus.DONE
    batch.finished_at = timezone.now()
    batch.failure = ""
    batch.summary = {**batch.summary, "result": result}
    batch.save(update_fields=["status", "finished_at", "failure", "summary", "report"])
    audit_record(actor=None, action="import.done", obj=batch, changes=result)


def _fail(batch: ImportBatch, reason: str) -> None:
    with transaction.atomic():
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(), failure=reason[:2000]
        )
        audit_record(actor=None, action="import.failed", obj=batch, reason=reason[:2000])


def unexpected(exc: Exception) -> str:
    return _("Unexpected error: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}


# ------------------------------------------------------------------ jobs


def enqueue(*, batch_id: int, job_id: str, status: str) -> None:
    """Queue the job a batch in ``status`` waits for: the check or the import."""
    if status == ImportStatus.CHECKING:
        job, timeout = "audiences.jobs.import_check", CHECK_JOB_TIMEOUT
        failure = _("The file could not be queued for checking; nothing was written. Upload the file again.")
    else:
        job, timeout = "audiences.jobs.import_run", JOB_TIMEOUT
        failure = _("The import could not be queued; nothing was written. Upload the file again.")
    try:
        django_rq.get_queue("default").enqueue(job, batch_id, job_id=job_id, job_timeout=timeout)
    except redis.RedisError:
        logger.exception("import %s: could not enqueue %s", batch_id, job)
        ImportBatch.objects.filter(pk=batch_id, status=status, job_id=job_id).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(), failure=failure
        )


class Progress(jobs.Progress):
    """The batch's progress as ``ProgressFn`` calls it: ``(phase, done, total)``."""

    def __init__(self, batch: ImportBatch) -> None:
        super().__init__(selectors.import_progress_key(batch))

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.set(done, total, phase=phase)
