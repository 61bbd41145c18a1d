"""Segments: create, change, archive, and freeze members for a campaign."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.scope import BranchScope
from accounts.services import audit_record
from audiences import rules
from audiences.models import Segment, SegmentSnapshot


def _check_rule(rule, *, owner_branch, segment=None) -> dict:
    try:
        normalised, _ctx = rules.validate(rule, user=BranchScope(owner_branch), segment=segment)
    except rules.RuleError as exc:
        # The code names the offending node, so the builder can point at it.
        raise ValidationError({"rule": ValidationError(exc.message, code=exc.node_id or "invalid")}) from exc
    return normalised


@transaction.atomic
def segment_create(*, actor, name: str, owner_branch, description: str = "", rule=None) -> Segment:
    if not can(actor, Verb.EDIT, owner_branch):
        raise ValidationError({"owner_branch": _("Choose a branch in your scope.")})
    segment = Segment(
        name=name,
        description=description,
        owner_branch=owner_branch,
        created_by=actor,
        rule=_check_rule(rule if rule is not None else rules.empty_rule(), owner_branch=owner_branch),
    )
    segment.full_clean()
    segment.save()
    return segment


@transaction.atomic
def segment_update(*, actor, segment: Segment, name=None, description=None, rule=None) -> Segment:
    """Change a segment; a rule is validated within the owner branch's scope first."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if not can(actor, Verb.EDIT, segment):
        raise PermissionDenied
    if segment.is_archived:
        raise ValidationError(_("An archived segment cannot change."))
    if name is not None:
        segment.name = name
    if description is not None:
        segment.description = description
    if rule is not None:
        segment.rule = _check_rule(rule, owner_branch=segment.owner_branch, segment=segment)
    segment.full_clean()
    segment.save()
    return segment


@transaction.atomic
def segment_rule_edit(*, actor, segment: Segment, edit: Callable[[dict], dict]) -> Segment:
    """Apply ``edit`` to the segment's current rule and save it, under the row lock.

    Two people editing the same segment at once cannot lose each other's change:
    the second edit applies to the rule the first one saved. ``edit`` may raise
    RuleError; nothing is saved then.
    """
    current = Segment.objects.select_for_update().get(pk=segment.pk)
    return segment_update(actor=actor, segment=current, rule=edit(current.rule))


def segment_export_log(*, actor, segment: Segment, fmt: str, size: int, full_phone: bool) -> None:
    """Customer data leaving the system is worth a record of who took what."""
    audit_record(
        actor=actor,
        action="segment.export",
        obj=segment,
        changes={"format": fmt, "size": size, "full_phone": full_phone},
    )


@transaction.atomic
def segment_archive(*, actor, segment: Segment) -> Segment:
    if not can(actor, Verb.DELETE, segment):
        raise PermissionDenied
    segment.is_archived = True
    segment.save(update_fields=["is_archived", "updated_at"])
    return segment


@transaction.atomic
def segment_snapshot_take(*, segment: Segment, actor=None, reason: str = "") -> SegmentSnapshot:
    """Freeze the segment's members now (within its owner branch), compactly.

    Called when a campaign is approved, so its audience cannot drift while it
    runs. Audited: the snapshot decides who may receive rewards.
    """
    normalised, ctx = rules.validate(segment.rule, user=BranchScope(segment.owner_branch), segment=segment)
    members = rules.evaluate(normalised, ctx)
    snapshot = SegmentSnapshot.objects.create(
        segment=segment,
        taken_by=actor if actor is not None and getattr(actor, "pk", None) else None,
        rule=normalised,
        size=len(members),
        members=members.serialize(),
        reason=reason[:200],
    )
    audit_record(
        actor=actor if getattr(actor, "pk", None) else None,
        action="segment.snapshot",
        obj=segment,
        changes={"snapshot": snapshot.pk, "size": snapshot.size},
        reason=reason,
    )
    return snapshot
