"""Reads for review and the lifecycle: what stops a submission, the review
queue, what the lifecycle panel shows, and a campaign's history."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import AuditEntry
from accounts.permissions import Verb, can
from campaigns.models import (
    Campaign,
    CampaignRevision,
    CampaignStatus,
    ChannelKind,
    RevisionState,
)
from campaigns.selectors import forecast as forecast_selectors
from campaigns.services import lifecycle, revisions
from campaigns.services import messages as channel_messages
from rewards.models import Reservation

SMS_MAX_SEGMENTS = 5
NEEDS_MATERIAL = (ChannelKind.APP, ChannelKind.WECHAT)


def campaign_get_for_user(*, user, code: str) -> Campaign:
    """The campaign if it is in the user's scope; 404 otherwise."""
    return get_object_or_404(Campaign.objects.visible_to(user).select_related("owner_branch"), code=code)


# --- what stops a submission ---------------------------------------------------------


def _window_problems(campaign: Campaign) -> list[str]:
    problems = []
    now = timezone.now()
    if campaign.ends_at <= campaign.starts_at:
        problems.append(_("The campaign must end after it starts."))
    if campaign.status == CampaignStatus.DRAFT and campaign.starts_at <= now:
        problems.append(_("The start must be in the future."))
    elif campaign.ends_at <= now:
        problems.append(_("The end must be in the future."))
    return problems


def _scope_problems(campaign: Campaign) -> list[str]:
    owner = campaign.owner_branch
    problems = []
    for branch in campaign.target_branches.all():
        if not branch.is_within(owner):
            problems.append(_("Target branch %(branch)s is outside the owner branch.") % {"branch": branch})
    for segment in [*campaign.segments_in.select_related("owner_branch"), *campaign.segments_out.select_related("owner_branch")]:
        if not segment.owner_branch.is_within(owner):
            problems.append(_("Segment “%(name)s” belongs to another branch.") % {"name": segment.name})
    return problems


def _slot_problems(campaign: Campaign) -> list[str]:
    """Prizes from pools the owner branch may use, valid for the whole window,
    with enough stock for what is not reserved yet (summed per prize)."""
    problems = []
    owner = campaign.owner_branch
    starts = forecast_selectors.local_date(campaign.starts_at)
    ends = forecast_selectors.local_date(campaign.ends_at)
    slots = [s for s in campaign.slots.select_related("prize__pool__owner_branch").order_by("position", "pk") if s.prize_id]
    held = {
        r.source_ref: r.remaining
        for r in Reservation.objects.filter(
            source_ref__in=[revisions.slot_source_ref(campaign.code, s.pk) for s in slots], released_at__isnull=True
        )
    }
    needed: dict[int, int] = defaultdict(int)
    for slot in slots:
        prize, pool = slot.prize, slot.prize.pool
        if not pool.owner_branch.is_within(owner):
            problems.append(
                _("Slot “%(slot)s”: prize pool %(pool)s is outside the campaign's branch.") % {"slot": slot.label, "pool": pool}
            )
        if (pool.valid_from and pool.valid_from > starts) or (pool.valid_until and pool.valid_until < ends):
            problems.append(
                _("Slot “%(slot)s”: prize pool %(pool)s is not valid for the whole campaign (from %(start)s to %(end)s).")
                % {"slot": slot.label, "pool": pool, "start": pool.valid_from or "…", "end": pool.valid_until or "…"}
            )
        # What an approved campaign already holds counts towards it (a re-approval reserves the increase).
        needed[prize.pk] += max(0, slot.quantity - held.get(revisions.slot_source_ref(campaign.code, slot.pk), 0))
    prizes = {s.prize.pk: s.prize for s in slots}
    for prize_id, quantity in needed.items():
        prize = prizes[prize_id]
        if quantity > prize.stock_available:
            problems.append(
                _("Not enough stock of %(prize)s: %(needed)s are needed, %(available)s are available.")
                % {"prize": prize, "needed": quantity, "available": prize.stock_available}
            )
    return problems


def _channel_problems(campaign: Campaign) -> list[str]:
    problems = []
    owner = campaign.owner_branch
    for channel in campaign.channels.filter(enabled=True).select_related("material__owner_branch").order_by("channel"):
        name = channel.get_channel_display()
        if not channel.template.strip():
            problems.append(_("%(channel)s: write the message.") % {"channel": name})
        else:
            problems.extend(f"{name}: {p}" for p in channel_messages.template_problems(channel.template))
        material = channel.material
        if channel.channel in NEEDS_MATERIAL and material is None:
            problems.append(_("%(channel)s needs a material.") % {"channel": name})
        elif material is not None and (material.is_archived or not material.owner_branch.is_within(owner)):
            problems.append(
                _("%(channel)s: the material “%(material)s” cannot be used.") % {"channel": name, "material": material}
            )
        if channel.channel == ChannelKind.SMS and channel.template.strip():
            counter = channel_messages.counter(template=channel.template, channel=channel.channel, campaign=campaign.name)
            if counter.segments > SMS_MAX_SEGMENTS:
                problems.append(
                    _("SMS: the message takes %(parts)s parts; at most %(max)s are allowed.")
                    % {"parts": counter.segments, "max": SMS_MAX_SEGMENTS}
                )
    return problems


def _budget_problems(campaign: Campaign, forecast: forecast_selectors.Forecast) -> list[str]:
    problems = []
    if campaign.budget_daily is not None and campaign.budget_daily > campaign.budget_total:
        problems.append(_("The daily budget cannot be more than the total budget."))
    if forecast.audience is not None and not forecast.budget_covers_worst_case:
        problems.append(
            _("The total budget (CNY %(budget)s) does not cover the worst case (CNY %(worst)s): add budget or reserve "
              "fewer prizes.")
            % {"budget": campaign.budget_total, "worst": forecast.worst_cost}
        )
    return problems


def submit_problems(campaign: Campaign, *, forecast: forecast_selectors.Forecast | None = None) -> list[str]:
    """Everything that stops the campaign from being submitted, all at once."""
    if forecast is None:
        forecast = forecast_selectors.forecast(campaign)
    problems = [
        *_window_problems(campaign),
        *_scope_problems(campaign),
        *forecast.problems,
    ]
    if forecast.audience == 0:
        problems.append(_("The audience is empty: nobody would be reached."))
    elif forecast.audience and forecast.reach == 0:
        problems.append(_("Everyone is in the control group: nobody would be reached."))
    problems += _slot_problems(campaign)
    problems += _budget_problems(campaign, forecast)
    problems += _channel_problems(campaign)
    problems += forecast_selectors.kind_for(campaign.kind).validate(campaign)
    return list(dict.fromkeys(problems))


# --- the review queue -------------------------------------------------------------------


def pending_revisions(*, user) -> QuerySet[CampaignRevision]:
    """Revisions waiting for a decision, of campaigns in the user's scope, oldest first."""
    return (
        CampaignRevision.objects.visible_to(user)
        .filter(state=RevisionState.PENDING, campaign__is_archived=False)
        .select_related("campaign__owner_branch", "submitted_by")
        .order_by("submitted_at", "pk")
    )


def review_queue(*, user) -> QuerySet[CampaignRevision]:
    """What the user may decide: pending, in scope, not submitted by them."""
    return pending_revisions(user=user).exclude(submitted_by=user)


def review_waiting(*, user) -> QuerySet[CampaignRevision]:
    """What the user submitted: it waits for someone else."""
    return pending_revisions(user=user).filter(submitted_by=user)


# --- the lifecycle panel ------------------------------------------------------------------


def lifecycle_context(user, campaign: Campaign, *, problems: list[str] | None = None, notice: str = "") -> dict[str, Any]:
    """What ``campaigns/partials/lifecycle_panel.html`` shows, as ``lifecycle``.

    Keys: campaign, pending (the revision waiting for review or None),
    live_revision, is_submitter, waiting_for_other, can_submit, can_withdraw,
    can_decide, can_pause, can_resume, can_end, forecast (None once ended or
    archived), problems (from a refused submit), notice (what just happened),
    urls (the POST targets and the history page).
    """
    from campaigns.forms.review import DecisionForm, RejectForm

    pending = (
        campaign.revisions.filter(state=RevisionState.PENDING).select_related("submitted_by").first()
    )
    status = campaign.status
    is_submitter = pending is not None and pending.submitted_by_id == user.pk
    operate = can(user, Verb.EDIT, campaign) or can(user, Verb.APPROVE, campaign)
    running = status in lifecycle.RUNNING
    open_ = not campaign.is_archived and status != CampaignStatus.ENDED
    code = campaign.code
    return {
        "campaign": campaign,
        "pending": pending,
        "live_revision": campaign.live_revision,
        "is_submitter": is_submitter,
        "waiting_for_other": is_submitter,
        "can_submit": (
            open_ and pending is None and can(user, Verb.SUBMIT, campaign)
            and (status == CampaignStatus.DRAFT or (running and campaign.has_unapproved_changes))
        ),
        "can_withdraw": pending is not None and (is_submitter or can(user, Verb.EDIT, campaign)),
        "can_decide": pending is not None and not is_submitter and can(user, Verb.APPROVE, campaign),
        "can_pause": status == CampaignStatus.LIVE and operate,
        "can_resume": status == CampaignStatus.PAUSED and operate,
        "can_end": running and operate,
        "forecast": forecast_selectors.forecast(campaign, user=user) if open_ else None,
        "problems": problems or [],
        "notice": notice,
        "decision_form": DecisionForm(),
        "reject_form": RejectForm(),
        "urls": {
            name: reverse(f"campaigns:campaign_{name}", args=[code])
            for name in ("submit", "withdraw", "approve", "reject", "pause", "resume", "end", "history", "forecast")
        },
    }


# --- history --------------------------------------------------------------------------------


def campaign_revisions(campaign: Campaign) -> list[CampaignRevision]:
    """Newest first, each with ``rows``: its changes against the revision live
    when it was submitted, labelled in the reader's language."""
    history = list(campaign.revisions.select_related("submitted_by", "decided_by").order_by("-number"))
    for revision in history:
        revision.rows = [{**row, "label": revisions.field_label(row)} for row in revision.changes]
    return history


ACTION_LABELS = {
    "campaign.submit": gettext_lazy("submitted for approval"),
    "campaign.withdraw": gettext_lazy("withdrawn from review"),
    "campaign.approve": gettext_lazy("approved"),
    "campaign.reject": gettext_lazy("rejected"),
    "campaign.go_live": gettext_lazy("went live"),
    "campaign.pause": gettext_lazy("paused"),
    "campaign.resume": gettext_lazy("resumed"),
    "campaign.end": gettext_lazy("ended"),
}


def _shown(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and not any(isinstance(v, dict | list) for v in value):
        return f"{'' if value[0] is None else value[0]} → {'' if value[1] is None else value[1]}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def audit_rows(entries) -> list[AuditEntry]:
    """Audit entries with ``label`` (the action in words) and ``change_items`` ((key, text) pairs)."""
    rows = list(entries)
    for entry in rows:
        entry.label = ACTION_LABELS.get(entry.action, entry.action)
        entry.change_items = [(key, _shown(value)) for key, value in (entry.changes or {}).items()]
    return rows


def kind_labels(revisions) -> list[CampaignRevision]:
    """Pending revisions with ``kind_label``: their campaign's kind in words."""
    rows = list(revisions)
    for revision in rows:
        revision.kind_label = forecast_selectors.kind_for(revision.campaign.kind).label or revision.campaign.kind
    return rows


def campaign_audit(*, user, campaign: Campaign) -> QuerySet[AuditEntry]:
    """The audit entries about this campaign (edits and lifecycle), newest first."""
    return (
        AuditEntry.objects.visible_to(user)
        .filter(object_type=Campaign._meta.label_lower, object_id=str(campaign.pk))
        .select_related("actor")
        .order_by("-at", "-pk")
    )


def working_copy_changes(campaign: Campaign) -> list[dict[str, Any]]:
    """What the working copy changes and nobody has submitted yet: against the
    revision waiting for review, else against the live revision."""
    if campaign.live_revision_id is None or not campaign.has_unapproved_changes:
        return []
    pending = campaign.revisions.filter(state=RevisionState.PENDING).first()
    base = (pending or campaign.live_revision).config
    return revisions.config_diff(base, revisions.campaign_config(campaign))
