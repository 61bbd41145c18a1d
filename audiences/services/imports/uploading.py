"""Uploading a file and checking it: the preview an importer confirms.

The upload itself checks only what is instant: extension, size, the first
bytes (type and text encoding) and a CSV's header row. A file that fails
those is refused with nothing stored. Then the whole file is read and every
row checked (``_check_file``): at once for a small file, so its preview is
there when the upload returns; for a larger one, by a job (``import_check``)
while the batch is CHECKING and the detail page shows the progress. A file
that turns out unreadable as a whole only then ends the batch INVALID, with
the reason.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Branch
from accounts.permissions import Verb, can
from accounts.scope import BranchScope
from audiences.models import ImportBatch, ImportKind, ImportStatus
from audiences.services.imports import checking, reading, running
from audiences.services.imports.reports import save_report

logger = logging.getLogger(__name__)

# About 15,000 rows: checked within the upload in well under a second.
CHECK_INLINE_MAX_BYTES = 1 << 20


def import_upload(*, user, uploaded_file, kind: str) -> ImportBatch:
    """Keep an uploaded file as a batch to preview; nothing else is written.

    A file that cannot be read at all (wrong type, binary, bad columns, empty,
    too large) raises ValidationError and leaves no trace. A readable file
    becomes a batch: VALIDATED when every row passes, INVALID (with its row
    errors and a CSV of all of them) otherwise, or CHECKING while a job
    decides that for a large file.
    """
    if not can(user, Verb.EDIT):
        raise PermissionDenied
    if kind not in ImportKind.values:
        raise ValidationError(_("Choose what the file contains."))
    branch = user.branch or Branch.objects.get(parent__isnull=True)
    name = PurePath(uploaded_file.name or "").name
    ext = reading.check_upload(uploaded_file, kind)
    batch = ImportBatch(
        kind=kind,
        status=ImportStatus.CHECKING,
        branch=branch,
        uploaded_by=user,
        original_name=name[:255],
        summary={"language": translation.get_language()},
    )
    stored_name = f"{uuid.uuid4().hex}{ext}"
    if uploaded_file.size <= CHECK_INLINE_MAX_BYTES:
        _check_file(batch, uploaded_file, ext)
        batch.file.save(stored_name, uploaded_file, save=False)
        batch.save()
        return batch
    batch.job_id = uuid.uuid4().hex
    batch.file.save(stored_name, uploaded_file, save=False)
    with transaction.atomic():
        batch.save()
        batch_id, job_id = batch.pk, batch.job_id
        transaction.on_commit(
            lambda: running.enqueue(batch_id=batch_id, job_id=job_id, status=ImportStatus.CHECKING)
        )
    return batch


def import_check(*, batch_id: int) -> None:
    """Check a CHECKING batch's file in the background. Safe to run twice.

    Reading and checking write nothing; the result lands with one conditional
    UPDATE (still CHECKING, still this job): a second run of the job, or a run
    overtaken by a retry, finds the batch moved on and drops its result.
    """
    batch = ImportBatch.objects.select_related("branch").filter(pk=batch_id, status=ImportStatus.CHECKING).first()
    if batch is None or not batch.job_id:
        logger.info("import %s: not being checked, nothing to do", batch_id)
        return
    job_id = batch.job_id
    progress = running.Progress(batch)
    with translation.override(batch.summary.get("language") or settings.LANGUAGE_CODE):
        try:
            progress("read", 0, batch.file.size)
            with batch.file.open("rb") as fh:
                _check_file(batch, fh, PurePath(batch.file.name).suffix.lower(), progress)
        except ValidationError as exc:
            batch.status = ImportStatus.INVALID
            batch.failure = "\n".join(exc.messages)[:2000]
        except Exception as exc:
            logger.exception("import %s: check failed", batch_id)
            batch.status = ImportStatus.FAILED
            batch.failure = running.unexpected(exc)[:2000]
    finished = ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.CHECKING, job_id=job_id).update(
        status=batch.status,
        sha256=batch.sha256,
        total_rows=batch.total_rows,
        error_count=batch.error_count,
        summary=batch.summary,
        errors=batch.errors,
        report=batch.report.name or "",
        failure=batch.failure,
        finished_at=timezone.now() if batch.status == ImportStatus.FAILED else None,
    )
    if not finished and batch.report:
        batch.report.delete(save=False)


def _check_file(batch: ImportBatch, fh, ext: str, progress: reading.ProgressFn | None = None) -> None:
    """Read and check the whole file into ``batch``'s preview: status VALIDATED
    or INVALID, counts, the first row errors and a report of all of them.

    Raises ValidationError for a file unreadable as a whole. Stores nothing but
    the error report's file; the caller saves the batch.
    """
    frame, rows = reading.load(fh, ext, batch.kind, progress)
    if progress is not None:
        progress("check", 0, len(frame))
    plan = checking.check(batch.kind, frame, rows, BranchScope(batch.branch), progress)
    batch.sha256 = reading.digest(reading.binary(fh))
    summary = {**plan.counts(), "language": batch.summary.get("language") or translation.get_language()}
    same = (
        ImportBatch.objects.visible_to(BranchScope(batch.branch))
        .filter(kind=batch.kind, sha256=batch.sha256, status=ImportStatus.DONE)
        .order_by("-finished_at")
        .first()
    )
    if same is not None:
        summary["same_as"] = same.pk
    batch.status = ImportStatus.INVALID if plan.problems.count else ImportStatus.VALIDATED
    batch.total_rows = len(frame)
    batch.error_count = plan.problems.count
    batch.summary = summary
    batch.errors = plan.problems.first(checking.SHOWN_ERRORS)
    if plan.problems.count:
        save_report(batch, plan.problems.report_rows())
