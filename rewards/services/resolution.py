"""Manual resolution of grants: retry or settle a failed delivery, and move a
physical gift along its way to the customer.

Concurrency: each change is one conditional UPDATE guarded by the state it
leaves (``WHERE status = 'failed'``, ``WHERE fulfilment = 'to_ship'``). The
UPDATE takes the row lock, so of two concurrent clicks exactly one changes the
row and the other finds 0 rows and gets a clear error. What the audit record
keeps of the old state is read after that UPDATE, under the same lock, so it is
exactly the state this call replaced.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from rewards.models import Fulfilment, Grant, GrantStatus, PrizeKind

# Each fulfilment state is reached from exactly one other, so a guarded UPDATE
# also tells the audit record what it replaced.
FULFILMENT_FROM: dict[str, str] = {
    Fulfilment.SHIPPED: Fulfilment.TO_SHIP,
    Fulfilment.RECEIVED: Fulfilment.SHIPPED,
    Fulfilment.RETURNED: Fulfilment.SHIPPED,
}


def _require(actor, verb: str, grant: Grant) -> None:
    if not can(actor, verb, grant):
        raise PermissionDenied


def _failure(grant_pk: int) -> dict:
    """The failure this call resolves, for the audit record (the row is locked by now)."""
    row = Grant.objects.filter(pk=grant_pk).values("attempts", "last_error", "failure_kind", "next_attempt_at").get()
    return {
        "attempts": row["attempts"],
        "last_error": row["last_error"][:1000],
        "failure_kind": row["failure_kind"],
        "next_attempt_at": row["next_attempt_at"].isoformat() if row["next_attempt_at"] else None,
    }


def _refuse_unless_failed(grant: Grant, claimed: int) -> None:
    if claimed != 1:
        current = Grant.objects.filter(pk=grant.pk).values_list("status", flat=True).first()
        label = GrantStatus(current).label if current else ""
        raise ValidationError(
            _("Only a failed grant can be resolved; this one is %(status)s.") % {"status": label},
            code="status",
        )


@transaction.atomic
def grant_retry(*, actor, grant: Grant, reason: str) -> Grant:
    """Send a failed grant again: back to pending with a fresh count of attempts.

    The failure it had is kept in the audit record; delivery is queued once the
    change is committed (and the sweeper finds the grant if that is lost).
    """
    _require(actor, Verb.DISPATCH, grant)
    if not reason.strip():
        raise ValidationError(_("Say why the grant is sent again."), code="reason")
    claimed = Grant.objects.filter(pk=grant.pk, status=GrantStatus.FAILED).update(
        status=GrantStatus.PENDING, updated_at=timezone.now()
    )
    _refuse_unless_failed(grant, claimed)
    failure = _failure(grant.pk)
    Grant.objects.filter(pk=grant.pk).update(
        attempts=0, next_attempt_at=None, last_error="", failure_kind="", claimed_at=None, claim_token=""
    )
    audit_record(
        actor=actor, action="grant.retry", obj=grant,
        changes={"status": [GrantStatus.FAILED, GrantStatus.PENDING], "failure": failure}, reason=reason,
    )
    grant_id = grant.pk
    transaction.on_commit(lambda: _enqueue(grant_id))
    grant.refresh_from_db()
    return grant


def _enqueue(grant_id: int) -> None:
    from rewards.services import delivery

    delivery.grants_enqueue(grant_ids=[grant_id])


@transaction.atomic
def grant_mark_delivered(*, actor, grant: Grant, reason: str) -> Grant:
    """Settle a failed grant as delivered out of band (e.g. the core system
    confirms the customer has it). Nothing is sent; the reason is required."""
    _require(actor, Verb.MANAGE_POOLS, grant)
    if not reason.strip():
        raise ValidationError(_("Say how the delivery was confirmed."), code="reason")
    now = timezone.now()
    claimed = Grant.objects.filter(pk=grant.pk, status=GrantStatus.FAILED).update(
        status=GrantStatus.DELIVERED, delivered_at=now, updated_at=now
    )
    _refuse_unless_failed(grant, claimed)
    failure = _failure(grant.pk)
    Grant.objects.filter(pk=grant.pk).update(
        next_attempt_at=None, last_error="", failure_kind="", claimed_at=None, claim_token=""
    )
    audit_record(
        actor=actor, action="grant.mark_delivered", obj=grant,
        changes={"status": [GrantStatus.FAILED, GrantStatus.DELIVERED], "failure": failure}, reason=reason,
    )
    grant.refresh_from_db()
    return grant


def fulfilment_next(grant: Grant) -> tuple[str, ...]:
    """The fulfilment states this grant may move to now (none for non-gifts or revoked grants)."""
    if grant.prize.kind != PrizeKind.GIFT or grant.status == GrantStatus.REVOKED:
        return ()
    return tuple(target for target, source in FULFILMENT_FROM.items() if source == grant.fulfilment)


@transaction.atomic
def grant_fulfilment_set(*, actor, grant: Grant, status: str, reason: str = "") -> Grant:
    """Move a physical gift on: to be shipped → shipped → received, or shipped → returned."""
    _require(actor, Verb.DISPATCH, grant)
    if grant.prize.kind != PrizeKind.GIFT:
        raise ValidationError(_("Only a physical gift has a fulfilment status."), code="not_gift")
    if status not in Fulfilment.values:
        raise ValidationError(_("Unknown fulfilment status."), code="fulfilment")
    source = FULFILMENT_FROM.get(status)
    changed = 0
    if source is not None:
        changed = (
            Grant.objects.filter(pk=grant.pk, fulfilment=source)
            .exclude(status=GrantStatus.REVOKED)
            .update(fulfilment=status, updated_at=timezone.now())
        )
    if changed != 1:
        current = Grant.objects.filter(pk=grant.pk).values("status", "fulfilment").first() or {}
        if current.get("status") == GrantStatus.REVOKED:
            raise ValidationError(_("This grant is revoked; its gift is no longer tracked."), code="revoked")
        raise ValidationError(
            _("A gift that is “%(current)s” cannot be marked “%(target)s”.")
            % {
                "current": Fulfilment(current["fulfilment"]).label if current.get("fulfilment") else "—",
                "target": Fulfilment(status).label,
            },
            code="fulfilment",
        )
    audit_record(
        actor=actor, action="grant.fulfilment", obj=grant,
        changes={"fulfilment": [source, status]}, reason=reason,
    )
    grant.refresh_from_db()
    return grant
