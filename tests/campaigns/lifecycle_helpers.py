"""Campaigns built row by row for the lifecycle, forecast and review tests —
independent of the edit services, so these tests pin the lifecycle alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import django_rq
from django.utils import timezone

from campaigns import kinds
from campaigns.models import Campaign, CampaignChannel, RewardSlot
from rewards import services as reward_services

SMS_TEMPLATE = "Hi {name}, join {campaign}: {link}"


def make_pool(*, actor, owner, code="BJ-POOL", budget=Decimal("100.00")):
    pool = reward_services.pool_create(actor=actor, code=code, name=f"Pool {code}", owner_branch=owner)
    reward_services.budget_add(actor=actor, pool=pool, amount=budget, reason="budget")
    return pool


def make_prize(*, actor, pool, code="CASH5", name="5 yuan red packet", unit_cost="5.00", stock=10, kind="cash"):
    prize = reward_services.prize_create(
        actor=actor, pool=pool, code=code, name=name, kind=kind, unit_cost=Decimal(unit_cost)
    )
    reward_services.stock_add(actor=actor, prize=prize, quantity=stock, reason="initial stock")
    prize.refresh_from_db()
    return prize


def kind_settings(kind: str) -> dict:
    try:
        return kinds.get(kind).default_settings()
    except KeyError:
        return {}


def make_campaign(
    *, owner, created_by, code="EVT-20300101-TEST", kind="event", starts_in=dt.timedelta(days=7),
    days=7, budget_total=Decimal("50.00"), budget_daily=Decimal("10.00"), slots=(), channels=None,
    limit_per_day=1, limit_total=1, control_percent=0, **fields,
) -> Campaign:
    """A draft; ``slots``: dicts of RewardSlot fields (role "reward" by default);
    ``channels``: dicts of CampaignChannel fields (one SMS channel by default)."""
    starts = timezone.now() + starts_in
    campaign = Campaign.objects.create(
        code=code, name=fields.pop("name", "Spring deposits"), kind=kind, owner_branch=owner,
        starts_at=starts, ends_at=starts + dt.timedelta(days=days), budget_total=budget_total,
        budget_daily=budget_daily, limit_per_day=limit_per_day, limit_total=limit_total,
        control_percent=control_percent, kind_settings=fields.pop("kind_settings", kind_settings(kind)),
        created_by=created_by, **fields,
    )
    for position, slot in enumerate(slots):
        RewardSlot.objects.create(campaign=campaign, position=position, **{"role": "reward", "label": f"Slot {position}", **slot})
    for channel in channels if channels is not None else [{"channel": "sms", "template": SMS_TEMPLATE}]:
        CampaignChannel.objects.create(campaign=campaign, **channel)
    return campaign


def edit(campaign: Campaign, **fields) -> Campaign:
    """Change the working copy the way the edit services do for an approved,
    live or paused campaign: the fields, and ``has_unapproved_changes``."""
    Campaign.objects.filter(pk=campaign.pk).update(has_unapproved_changes=True, **fields)
    campaign.refresh_from_db()
    return campaign


def scheduled(campaign_id: int) -> dict[str, dt.datetime]:
    """This campaign's jobs in RQ's scheduled registry: job id → when."""
    registry = django_rq.get_queue("default").scheduled_job_registry
    return {
        job_id: registry.get_scheduled_time(job_id)
        for job_id in registry.get_job_ids()
        if job_id.startswith(f"campaign-{campaign_id}-")
    }


def forget_scheduled_jobs() -> None:
    """Drop the campaign jobs tests scheduled (ids repeat across test databases)."""
    queue = django_rq.get_queue("default")
    for job_id in queue.scheduled_job_registry.get_job_ids():
        if job_id.startswith("campaign-"):
            queue.scheduled_job_registry.remove(job_id, delete_job=True)
