"""A campaign's lifecycle: submit, withdraw, approve, reject, go live, pause,
resume and end. What a revision freezes is ``revisions.campaign_config``.

    draft ──submit──▶ pending_review ──approve──▶ approved ──(starts_at)──▶ live ⇄ paused
      ▲                  │  │                        │                        │
      └──reject/withdraw─┘  └────────────────────────┴──────end (or ends_at)──┴──▶ ended

An approved, live or paused campaign whose working copy changed
(``has_unapproved_changes``, set by the edit services) is submitted again: the
new revision waits for approval while the campaign keeps running its
``live_revision``; approval switches to it, rejection leaves the live one.

Who may do what: submitting needs ``Verb.SUBMIT``; withdrawing, the submitter
of the pending revision or ``Verb.EDIT``; approving and rejecting,
``Verb.APPROVE`` and never by the revision's submitter (maker-checker,
DESIGN.md §6.5). Pause, resume and end need no second person: they stop or
restart what was approved and change nothing customers are offered, so
``Verb.EDIT`` (the makers) or ``Verb.APPROVE`` (the checkers) is enough.
Jobs act with ``actor=None``.

Concurrency: every service starts by locking the campaign row
(``select_for_update``; SQLite runs writers one at a time anyway) and moves
status and revision state with conditional UPDATEs, so a double click or two
reviewers at once act once and the second is told what happened. Lock order:
campaign, revision, then the prize and reservation rows (``rewards.services``)
in prize order.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import django_rq
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from audiences import rules
from audiences import selectors as audience_selectors
from audiences.models import Segment
from audiences.services.segments import segment_snapshot_take
from campaigns.models import (
    Campaign,
    CampaignAudience,
    CampaignRevision,
    CampaignStatus,
    RevisionState,
    RewardSlot,
)
from campaigns.runtime import alias
from campaigns.selectors import forecast as forecast_selectors
from campaigns.services.revisions import (
    approved_window,
    campaign_config,
    config_diff,
    config_essence,
    slot_source_ref,
)
from rewards.models import MovementKind, Prize, Reservation, StockMovement
from rewards.services import ledger

logger = logging.getLogger(__name__)

RUNNING = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED)
GO_LIVE_JOB = "campaigns.jobs.campaign_go_live"
END_JOB = "campaigns.jobs.campaign_end"


# --- helpers ---------------------------------------------------------------------------


def _require(actor, verb: str, campaign: Campaign) -> None:
    if not can(actor, verb, campaign):
        raise PermissionDenied


def _require_operator(actor, campaign: Campaign) -> None:
    """Pause, resume and end: a maker or a checker (jobs pass no actor)."""
    if actor is not None and not (can(actor, Verb.EDIT, campaign) or can(actor, Verb.APPROVE, campaign)):
        raise PermissionDenied


def _lock(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _pending(campaign: Campaign) -> CampaignRevision | None:
    return campaign.revisions.filter(state=RevisionState.PENDING).select_related("submitted_by").first()


def _move(campaign: Campaign, to: str, *, from_: tuple[str, ...], **extra: Any) -> None:
    """Move the status, only from where it is expected to be (a second click finds nothing to move)."""
    moved = Campaign.objects.filter(pk=campaign.pk, status__in=from_).update(status=to, **extra)
    if moved != 1:
        raise ValidationError(_("The campaign changed meanwhile; reload the page."), code="conflict")
    campaign_id = campaign.pk
    transaction.on_commit(lambda: _publish(campaign_id))


def _publish(campaign_id: int) -> None:
    """Tell the runtime (Redis) about the committed change. If Redis is down
    now, the minute sweep (``runtime_sync``) catches up."""
    from campaigns.runtime import state

    try:
        state.runtime_publish(campaign_id=campaign_id)
    except Exception:
        logger.exception("campaign %s: runtime not updated", campaign_id)


def _decide(revision: CampaignRevision, state: str, *, actor, reason: str) -> None:
    decided = CampaignRevision.objects.filter(pk=revision.pk, state=RevisionState.PENDING).update(
        state=state, decided_by=actor, decided_at=timezone.now(), decision_reason=reason
    )
    if decided != 1:
        raise ValidationError(_("This revision was decided meanwhile; reload the page."), code="conflict")


def _status_refusal(campaign: Campaign) -> ValidationError:
    return ValidationError(
        _("Not possible while the campaign is %(status)s.") % {"status": campaign.get_status_display()},
        code="status",
    )


def _audit(actor, action: str, campaign: Campaign, before: str, *, reason: str = "", **changes: Any) -> None:
    campaign.refresh_from_db(fields=["status"])
    audit_record(
        actor=actor, action=f"campaign.{action}", obj=campaign,
        changes={"status": [before, campaign.status], **changes}, reason=reason,
    )


# --- submit and withdraw -----------------------------------------------------------------


def campaign_submit(*, actor, campaign: Campaign) -> CampaignRevision:
    """Run every check and, when all pass, freeze the working copy into a
    revision waiting for approval. ValidationError lists every problem."""
    from campaigns.selectors import review

    _require(actor, Verb.SUBMIT, campaign)
    with transaction.atomic():
        campaign = _lock(campaign)
        before = campaign.status
        if campaign.is_archived:
            raise ValidationError(_("An archived campaign cannot be submitted."))
        if _pending(campaign) is not None:
            raise ValidationError(_("This campaign is already waiting for review."), code="status")
        if before in RUNNING and not campaign.has_unapproved_changes:
            raise ValidationError(_("Nothing has changed since the last approval."), code="status")
        if before != CampaignStatus.DRAFT and before not in RUNNING:
            raise _status_refusal(campaign)
        problems = review.submit_problems(campaign)
        if problems:
            raise ValidationError(problems, code="invalid")
        config = campaign_config(campaign)
        live = campaign.live_revision
        changes = config_diff(live.config, config) if live else []
        if before == CampaignStatus.DRAFT:
            _move(campaign, CampaignStatus.PENDING_REVIEW, from_=(CampaignStatus.DRAFT,))
        number = (campaign.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
        revision = CampaignRevision.objects.create(
            campaign=campaign, number=number, config=config, changes=changes, submitted_by=actor
        )
        _audit(actor, "submit", campaign, before, revision=number, changed_fields=len(changes))
    return revision


def campaign_withdraw(*, actor, campaign: Campaign, reason: str = "") -> CampaignRevision:
    """Take back a revision waiting for review (its submitter, or an editor):
    a draft returns to draft; a running campaign keeps its live revision."""
    with transaction.atomic():
        campaign = _lock(campaign)
        revision = _pending(campaign)
        if revision is None:
            raise ValidationError(_("Nothing is waiting for review."), code="status")
        if revision.submitted_by_id != getattr(actor, "pk", None):
            _require(actor, Verb.EDIT, campaign)
        before = campaign.status
        reason = (reason or "").strip() or _("Withdrawn by the maker.")
        _decide(revision, RevisionState.REJECTED, actor=actor, reason=reason)
        if before == CampaignStatus.PENDING_REVIEW:
            _move(campaign, CampaignStatus.DRAFT, from_=(CampaignStatus.PENDING_REVIEW,))
        _audit(actor, "withdraw", campaign, before, reason=reason, revision=revision.number)
    revision.refresh_from_db()
    return revision


# --- approve and reject -------------------------------------------------------------------


def _decidable(actor, campaign: Campaign) -> CampaignRevision:
    _require(actor, Verb.APPROVE, campaign)
    revision = _pending(campaign)
    if revision is None:
        raise ValidationError(_("Nothing is waiting for approval."), code="status")
    # Maker-checker (DESIGN.md §6.5): whoever submitted a revision never decides it.
    if revision.submitted_by_id == actor.pk:
        raise PermissionDenied(_("You submitted this revision: someone else must approve or reject it."))
    return revision


def _allocated(reservations) -> dict[int, int]:
    """Per reservation, what the campaign has set aside so far: reserved minus
    released (granted units count, they came out of it)."""
    rows = (
        StockMovement.objects.filter(reservation__in=reservations, kind__in=[MovementKind.RESERVED, MovementKind.RELEASED])
        .values("reservation")
        .annotate(total=Sum("reserved_delta"))
    )
    return {row["reservation"]: row["total"] or 0 for row in rows}


def _reserve(actor, campaign: Campaign, config: dict[str, Any]) -> dict[int, Reservation]:
    """Make each slot's reservation hold its quantity: reserve only the
    increase, return the decrease, empty the reservations of slots that are
    gone or changed prize. Every shortage is collected; any shortage raises
    (and the caller's transaction undoes the rest)."""
    prefix = slot_source_ref(campaign.code, 0)[:-1]
    wanted: dict[tuple[int, str], dict[str, Any]] = {}
    for slot in config["slots"]:
        if slot.get("prize") and slot["quantity"] > 0:
            wanted[(slot["prize"]["id"], slot_source_ref(campaign.code, slot["id"]))] = slot
    existing = {
        (r.prize_id, r.source_ref): r
        for r in Reservation.objects.filter(source_ref__startswith=prefix, released_at__isnull=True)
    }
    allocated = _allocated(list(existing.values()))
    prizes = Prize.objects.select_related("pool__owner_branch").in_bulk({key[0] for key in wanted})
    shortages: list[str] = []
    by_slot: dict[int, Reservation] = {}
    # Prize order: the same lock order as every other stock change.
    for key in sorted(set(wanted) | set(existing)):
        prize_id, source_ref = key
        reservation = existing.get(key)
        have = allocated.get(reservation.pk, 0) if reservation else 0
        slot = wanted.get(key)
        want = slot["quantity"] if slot else 0
        if want < have and reservation.remaining:
            ledger.reservation_reduce(
                actor=actor, reservation=reservation, quantity=min(have - want, reservation.remaining),
                reason=source_ref,
            )
        elif want > have:
            prize = prizes.get(prize_id)
            if prize is None:
                shortages.append(_("Slot “%(slot)s”: its prize no longer exists.") % {"slot": slot["label"]})
                continue
            try:
                reservation = ledger.reservation_create(
                    actor=actor, prize=prize, quantity=want - have, source_ref=source_ref
                )
            except ValidationError:
                available = Prize.objects.filter(pk=prize_id).values_list("stock_available", flat=True).first()
                shortages.append(
                    _("Slot “%(slot)s”: %(needed)s more of %(prize)s are needed, %(available)s are available.")
                    % {"slot": slot["label"], "needed": want - have, "prize": prize.name, "available": available}
                )
                continue
        if slot and reservation is not None:
            by_slot[slot["id"]] = reservation
    if shortages:
        raise ValidationError([_("Not enough stock to approve:"), *shortages], code="sold_out")
    return by_slot


def _freeze_audience(actor, campaign: Campaign, revision: CampaignRevision) -> CampaignAudience:
    """Snapshot every segment the revision uses, compute its audience from the
    snapshots and split off the control group."""
    config = revision.config
    reason = f"campaign {campaign.code} r{revision.number}"
    ids = list(dict.fromkeys(ref["id"] for ref in [*config["segments_in"], *config["segments_out"]]))
    segments = Segment.objects.select_related("owner_branch").in_bulk(ids)
    snapshots, maps = [], {}
    for segment_id in ids:
        segment = segments.get(segment_id)
        if segment is None:
            raise ValidationError(_("A segment of this campaign no longer exists; reject it."))
        try:
            snapshot = segment_snapshot_take(segment=segment, actor=actor, reason=reason)
        except rules.RuleError as exc:
            raise ValidationError(
                _("Segment “%(name)s” cannot be counted: %(error)s") % {"name": segment.name, "error": exc.message}
            ) from exc
        snapshots.append(snapshot)
        maps[segment_id] = audience_selectors.snapshot_members(snapshot)
    members = forecast_selectors.audience_compute(config, segment_maps=maps)
    control = forecast_selectors.control_split(members, code=campaign.code, percent=config["control_percent"])
    audience = CampaignAudience.objects.create(
        revision=revision, members=members.serialize(), control=control.serialize(),
        size=len(members), control_size=len(control),
    )
    audience.snapshots.set(snapshots)
    return audience


def campaign_approve(*, actor, campaign: Campaign, reason: str = "") -> CampaignRevision:
    """Approve the pending revision (never one's own): reserve its stock,
    freeze its audience, make it the live revision and schedule go-live and
    end. A shortage of stock fails it all, with nothing changed."""
    with transaction.atomic():
        campaign = _lock(campaign)
        revision = _decidable(actor, campaign)
        config = revision.config
        if dt.datetime.fromisoformat(config["ends_at"]) <= timezone.now():
            raise ValidationError(_("The campaign's window is over; reject it and plan a new window."))
        before = campaign.status
        reservations = _reserve(actor, campaign, config)
        audience = _freeze_audience(actor, campaign, revision)
        _decide(revision, RevisionState.APPROVED, actor=actor, reason=(reason or "").strip())
        # The lottery's draw seed is committed now, before the revision can run:
        # its hash is published, the seed revealed when the campaign ends.
        seed = alias.seed_new()
        CampaignRevision.objects.filter(pk=revision.pk).update(draw_seed=seed, draw_seed_hash=alias.seed_hash(seed))
        for slot_id, reservation in reservations.items():
            RewardSlot.objects.filter(pk=slot_id, campaign=campaign).update(reservation=reservation)
        unapproved = config_essence(campaign_config(campaign)) != config_essence(config)
        to = CampaignStatus.APPROVED if before == CampaignStatus.PENDING_REVIEW else before
        _move(campaign, to, from_=(before,), live_revision=revision, has_unapproved_changes=unapproved)
        _audit(
            actor, "approve", campaign, before, reason=reason, revision=revision.number,
            audience=audience.size, control=audience.control_size,
            reserved={s["label"]: s["quantity"] for s in config["slots"] if s.get("prize")},
        )
        campaign_id = campaign.pk
        transaction.on_commit(lambda: campaign_schedule(campaign_id=campaign_id))
    revision.refresh_from_db()
    return revision


def campaign_reject(*, actor, campaign: Campaign, reason: str) -> CampaignRevision:
    """Reject the pending revision (never one's own) with a reason: a draft
    returns to draft; a running campaign keeps running its live revision."""
    reason = (reason or "").strip()
    with transaction.atomic():
        campaign = _lock(campaign)
        revision = _decidable(actor, campaign)
        if not reason:
            raise ValidationError(_("Say why the campaign is rejected."), code="required")
        before = campaign.status
        _decide(revision, RevisionState.REJECTED, actor=actor, reason=reason)
        if before == CampaignStatus.PENDING_REVIEW:
            _move(campaign, CampaignStatus.DRAFT, from_=(CampaignStatus.PENDING_REVIEW,))
        _audit(actor, "reject", campaign, before, reason=reason, revision=revision.number)
    revision.refresh_from_db()
    return revision


# --- running -------------------------------------------------------------------------


def campaign_go_live(*, actor, campaign: Campaign, reason: str = "") -> Campaign:
    """An approved campaign starts (the scheduled job, at ``starts_at``)."""
    _require_operator(actor, campaign)
    with transaction.atomic():
        campaign = _lock(campaign)
        if campaign.status != CampaignStatus.APPROVED:
            raise _status_refusal(campaign)
        starts, ends = approved_window(campaign)
        now = timezone.now()
        if now < starts:
            raise ValidationError(_("The campaign starts later."), code="early")
        if now >= ends:
            raise ValidationError(_("The campaign's window is over."), code="late")
        _move(campaign, CampaignStatus.LIVE, from_=(CampaignStatus.APPROVED,))
        _audit(actor, "go_live", campaign, CampaignStatus.APPROVED, reason=reason)
    return campaign


def campaign_pause(*, actor, campaign: Campaign, reason: str = "") -> Campaign:
    """Stop serving customers for a while; nothing is released."""
    _require_operator(actor, campaign)
    with transaction.atomic():
        campaign = _lock(campaign)
        if campaign.status != CampaignStatus.LIVE:
            raise _status_refusal(campaign)
        _move(campaign, CampaignStatus.PAUSED, from_=(CampaignStatus.LIVE,))
        _audit(actor, "pause", campaign, CampaignStatus.LIVE, reason=reason)
    return campaign


def campaign_resume(*, actor, campaign: Campaign, reason: str = "") -> Campaign:
    _require_operator(actor, campaign)
    with transaction.atomic():
        campaign = _lock(campaign)
        if campaign.status != CampaignStatus.PAUSED:
            raise _status_refusal(campaign)
        if timezone.now() >= approved_window(campaign)[1]:
            raise ValidationError(_("The campaign's window is over; it can only end."), code="late")
        _move(campaign, CampaignStatus.LIVE, from_=(CampaignStatus.PAUSED,))
        _audit(actor, "resume", campaign, CampaignStatus.PAUSED, reason=reason)
    return campaign


def campaign_end(*, actor, campaign: Campaign, reason: str = "") -> Campaign:
    """End an approved, live or paused campaign for good: awards still queued
    are granted, then every slot's reservation returns what is left to stock;
    a pending revision is rejected."""
    _require_operator(actor, campaign)
    with transaction.atomic():
        campaign = _lock(campaign)
        before = campaign.status
        if before not in RUNNING:
            raise _status_refusal(campaign)
        _move(campaign, CampaignStatus.ENDED, from_=RUNNING)
        revision = _pending(campaign)
        if revision is not None:
            _decide(revision, RevisionState.REJECTED, actor=actor, reason=_("The campaign ended."))
        # Awards still waiting for their grant take it from the reservations before they close.
        from campaigns.runtime import awards

        awards.awards_grant(award_ids=awards.queued_of(campaign_id=campaign.pk))
        prefix = slot_source_ref(campaign.code, 0)[:-1]
        released = 0
        for reservation in Reservation.objects.filter(source_ref__startswith=prefix, released_at__isnull=True).order_by(
            "prize_id", "pk"
        ):
            released += ledger.reservation_release(actor=actor, reservation=reservation, reason=reason or reservation.source_ref)
        _audit(actor, "end", campaign, before, reason=reason, released=released)
    return campaign


# --- scheduling ------------------------------------------------------------------------


def job_id(campaign_id: int, what: str) -> str:
    return f"campaign-{campaign_id}-{what}"


def _queue():
    # Called after the commit (or by a job): enqueue now, never on another commit.
    return django_rq.get_queue("default", commit_mode="auto")


def campaign_schedule(*, campaign_id: int) -> None:
    """Schedule the go-live (while approved) and the end at the approved window.

    Jobs have fixed ids per campaign, so scheduling again (a re-approval with
    a new window) moves them; a job that runs at the wrong time only
    reschedules itself. Never raises: a lost schedule is logged, and the jobs
    can be scheduled again by approving or by ``campaign_schedule``.
    """
    campaign = Campaign.objects.select_related("live_revision").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in RUNNING:
        return
    starts, ends = approved_window(campaign)
    try:
        queue = _queue()
        if campaign.status == CampaignStatus.APPROVED:
            queue.enqueue_at(starts, GO_LIVE_JOB, campaign_id, job_id=job_id(campaign_id, "go-live"),
                             description=f"campaigns: {campaign.code} goes live")
        queue.enqueue_at(ends, END_JOB, campaign_id, job_id=job_id(campaign_id, "end"),
                         description=f"campaigns: {campaign.code} ends")
    except Exception:
        logger.exception("campaign %s: could not schedule its start and end", campaign.code)


def _reschedule(what: str, job: str, campaign_id: int, when: dt.datetime) -> None:
    # Its own id, never the running job's: rq would overwrite the job that is running now.
    again = job_id(campaign_id, f"{what}-again-{timezone.now().timestamp():.0f}")
    try:
        _queue().enqueue_at(when, job, campaign_id, job_id=again)
    except Exception:
        logger.exception("campaign %s: could not reschedule %s", campaign_id, what)


def campaign_start_due(*, campaign_id: int) -> str:
    """The go-live job: start the campaign if it is approved and its time has
    come. Early: schedule again for the start; over: end it; anything else
    (already live, paused, ended, gone): nothing. Returns what it did."""
    campaign = Campaign.objects.select_related("live_revision").filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.APPROVED:
        return "nothing"
    starts, ends = approved_window(campaign)
    now = timezone.now()
    try:
        if now < starts:
            _reschedule("go-live", GO_LIVE_JOB, campaign_id, starts)
            return "early"
        if now >= ends:
            campaign_end(actor=None, campaign=campaign, reason=_("The window passed before the campaign went live."))
            return "ended"
        campaign_go_live(actor=None, campaign=campaign, reason=_("Scheduled start."))
    except ValidationError:
        return "nothing"  # another run (or a person) moved it first
    return "live"


def campaign_end_due(*, campaign_id: int) -> str:
    """The end job: end the campaign once its approved window is over; early
    (the window moved): schedule again for the end."""
    campaign = Campaign.objects.select_related("live_revision").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in RUNNING:
        return "nothing"
    ends = approved_window(campaign)[1]
    if timezone.now() < ends:
        _reschedule("end", END_JOB, campaign_id, ends)
        return "early"
    try:
        campaign_end(actor=None, campaign=campaign, reason=_("Scheduled end."))
    except ValidationError:
        return "nothing"
    return "ended"


def campaigns_due_sweep() -> dict[str, int]:
    """Start and end whatever is due, whether or not its scheduled job ran.

    Run every minute (``campaigns/cron.py``): the scheduled jobs are the fast
    path, this is the net for a schedule lost with Redis (down at approval,
    flushed). Only due campaigns are touched, so nothing is rescheduled here.
    """
    now = timezone.now()
    done = {"live": 0, "ended": 0}
    for campaign in Campaign.objects.filter(status__in=RUNNING).select_related("live_revision").order_by("pk"):
        starts, ends = approved_window(campaign)
        if campaign.status == CampaignStatus.APPROVED and starts <= now:
            outcome = campaign_start_due(campaign_id=campaign.pk)
        elif ends <= now:
            outcome = campaign_end_due(campaign_id=campaign.pk)
        else:
            continue
        if outcome in done:
            done[outcome] += 1
    return done

