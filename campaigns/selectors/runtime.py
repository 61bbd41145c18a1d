"""Reads about a running campaign for its staff page: what customers did so
far (from the records), what is left (Redis's live counters, falling back to
the database's reservations), and the lottery's draw-seed commitment."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import redis
from django.db.models import Count, Q, Sum

from campaigns.models import (
    Activity,
    ActivityKind,
    Award,
    AwardStatus,
    Campaign,
    CampaignRevision,
    CampaignStatus,
    Draw,
)
from campaigns.runtime import counters
from campaigns.services.revisions import slot_source_ref
from rewards.models import Reservation


@dataclass
class SlotLeft:
    label: str
    reserved: int
    left: int | None
    awarded: int


@dataclass
class RuntimeSummary:
    activity: list[tuple[str, int]] = field(default_factory=list)
    awards: int = 0
    # Rewards still waiting for their grant, and those the prize pool refused (for a person to look at).
    queued: int = 0
    failed: int = 0
    cost: Decimal = Decimal("0")
    draws: int = 0
    slots: list[SlotLeft] = field(default_factory=list)
    live_counters: bool = False
    seed_hash: str = ""
    seed: str = ""


def runtime_summary(campaign: Campaign) -> RuntimeSummary | None:
    """None for a campaign that was never approved."""
    if campaign.live_revision_id is None:
        return None
    revision = CampaignRevision.objects.only("config", "draw_seed", "draw_seed_hash").get(pk=campaign.live_revision_id)
    summary = RuntimeSummary(seed_hash=revision.draw_seed_hash if campaign.kind == "lottery" else "")
    if campaign.kind == "lottery" and campaign.status == CampaignStatus.ENDED:
        summary.seed = revision.draw_seed  # revealed once nothing can be drawn any more
    counts = dict(
        Activity.objects.filter(campaign=campaign).values_list("kind").annotate(n=Count("id")).values_list("kind", "n")
    )
    summary.activity = [(label, counts[value]) for value, label in ActivityKind.choices if counts.get(value)]
    totals = Award.objects.filter(campaign=campaign).aggregate(
        n=Count("id"), cost=Sum("cost"), queued=Count("id", filter=Q(status=AwardStatus.QUEUED)),
        failed=Count("id", filter=Q(status=AwardStatus.FAILED)),
    )
    summary.awards, summary.cost = totals["n"], totals["cost"] or Decimal("0")
    summary.queued, summary.failed = totals["queued"], totals["failed"]
    summary.draws = Draw.objects.filter(campaign=campaign).count() if campaign.kind == "lottery" else 0
    awarded = dict(
        Award.objects.filter(campaign=campaign).values_list("slot_key").annotate(n=Count("id")).values_list("slot_key", "n")
    )
    try:
        left = counters.connection().hgetall(counters.stock_key(campaign.pk))
        summary.live_counters = bool(left)
    except redis.RedisError:
        left = {}
    refs = {slot_source_ref(campaign.code, s["id"]): s for s in revision.config["slots"]}
    reservations = {r.source_ref: r for r in Reservation.objects.filter(source_ref__in=list(refs))}
    for ref, slot in refs.items():
        if not slot.get("prize"):
            continue
        reservation = reservations.get(ref)
        live = left.get(str(slot["id"]))
        summary.slots.append(
            SlotLeft(
                label=slot["label"], reserved=slot["quantity"],
                left=int(live) if live is not None else (reservation.remaining if reservation else None),
                awarded=awarded.get(slot["id"], 0),
            )
        )
    return summary
