"""The audience and forecast of a campaign: who it reaches, how many take
part, what it is expected to cost, what it could cost at worst, and which
other campaigns compete for the same customers.

The audience is computed from a campaign configuration (``lifecycle.
campaign_config``): the working copy for the forecast, an approved revision
when it is frozen. It is bitmap algebra on the audiences index:

    (union of segments_in, or everyone) ∩ customers of the target branches
    (the owner branch's subtree when none are chosen)
    minus the union of segments_out, minus holders of a blacklist tag
    ∩ customers opened within ``new_customer_days`` before the start (new customers only)

Assumptions the forecast makes, shown beside its figures:

- participation: a share of the reachable customers take part — the kind's
  ``participation_rate`` when it declares one, else the
  ``CAMPAIGNS_PARTICIPATION_RATE`` setting, else 8 %;
- grants per participant: the kind's ``grants_per_participant`` (expected,
  worst case); the kinds apply the per-customer limits and their own caps
  (draws, referrals, steps), the base kind says one grant each;
- grants spread over the prize slots by lottery weight, evenly when no slot
  has a weight; no slot gives more than the stock reserved for it;
- the worst case: every reachable customer takes the most they may, and the
  most expensive prizes go first until their reserved stock is gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from pyroaring import BitMap, FrozenBitMap

from accounts.models import Branch
from accounts.scope import BranchScope
from audiences import bitmaps, rules
from audiences import selectors as audience_selectors
from audiences.models import Segment
from campaigns import kinds
from campaigns.kinds.base import Kind
from campaigns.models import Campaign, CampaignAudience, CampaignStatus

CENT = Decimal("0.01")
# Conflicts are looked for among this many overlapping campaigns, nearest start first.
CONFLICT_LIMIT = 20
RUNNING = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED)


def kind_for(name: str) -> Kind:
    """The registered kind, or the base ``Kind`` (no own checks, one grant per
    participant) for a name no module defines."""
    try:
        return kinds.get(name)
    except KeyError:
        return Kind()


def participation_rate(kind: Kind) -> Decimal:
    rate = kind.participation_rate
    if rate is None:
        rate = settings.CAMPAIGNS_PARTICIPATION_RATE
    return Decimal(str(rate))


# --- the audience ------------------------------------------------------------------


def local_date(value: str | dt.datetime) -> dt.date:
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return timezone.localtime(when, timezone.get_default_timezone()).date()


def _union(maps) -> BitMap:
    maps = list(maps)
    return BitMap.union(*maps) if maps else BitMap()


def audience_universe(config: dict[str, Any]) -> FrozenBitMap:
    """Every customer of the target branches (with their subtrees), or of the
    owner branch's subtree when none are chosen."""
    owner = Branch.objects.filter(pk=config["owner_branch"]["id"]).values_list("path", flat=True).first()
    if owner is None:
        return bitmaps.EMPTY
    branches = Branch.objects.filter(path__startswith=owner)
    targets = [ref["id"] for ref in config.get("target_branches") or []]
    if targets:
        paths = list(Branch.objects.filter(pk__in=targets).values_list("path", flat=True))
        within = Q(pk__in=[])
        for path in paths:
            within |= Q(path__startswith=path)
        branches = branches.filter(within)
    keys = [bitmaps.branch_key(pk) for pk in branches.values_list("pk", flat=True)]
    return FrozenBitMap(_union(bitmaps.get_many(keys).values()))


def segment_maps_now(config: dict[str, Any]) -> tuple[dict[int, FrozenBitMap], list[str]]:
    """Members of every segment the configuration uses, evaluated now; and the
    problems of segments that cannot be evaluated (archived, invalid rule)."""
    ids = {ref["id"] for ref in [*config.get("segments_in", []), *config.get("segments_out", [])]}
    maps: dict[int, FrozenBitMap] = {}
    problems: list[str] = []
    segments = list(Segment.objects.filter(pk__in=ids).select_related("owner_branch"))
    if len(segments) < len(ids):
        problems.append(_("A segment of this campaign no longer exists."))
    for segment in segments:
        if segment.is_archived:
            problems.append(_("Segment “%(name)s” is archived.") % {"name": segment.name})
            continue
        try:
            maps[segment.pk] = audience_selectors.segment_members(
                rule=segment.rule, owner_branch=segment.owner_branch, segment=segment
            )
        except rules.RuleError as exc:
            problems.append(
                _("Segment “%(name)s” cannot be counted: %(error)s") % {"name": segment.name, "error": exc.message}
            )
    return maps, problems


def audience_compute(config: dict[str, Any], *, segment_maps: dict[int, FrozenBitMap]) -> FrozenBitMap:
    """The audience of ``config`` from the given segment members (live or snapshots)."""
    universe = audience_universe(config)
    included = [segment_maps.get(ref["id"], bitmaps.EMPTY) for ref in config.get("segments_in", [])]
    members = _union(included) & universe if included else BitMap(universe)
    for ref in config.get("segments_out", []):
        members -= segment_maps.get(ref["id"], bitmaps.EMPTY)
    tags = [bitmaps.tag_key(ref["id"]) for ref in config.get("blacklist_tags", [])]
    if tags:
        members -= _union(bitmaps.get_many(tags).values())
    if config.get("new_customers_only"):
        start = local_date(config["starts_at"])
        low = start - dt.timedelta(days=int(config.get("new_customer_days") or 0))
        high = max(local_date(config["ends_at"]), timezone.localdate())
        ranges = bitmaps.opened_ranges(low, high)
        opened = bitmaps.get_many((), ranges) if ranges else {}
        members &= _union(bitmap for key, bitmap in opened.items() if bitmaps.in_ranges(key, ranges))
    return FrozenBitMap(members)


def audience_now(config: dict[str, Any]) -> tuple[FrozenBitMap | None, list[str]]:
    """The audience of ``config`` as it would be frozen now; None with the
    problems when a segment cannot be evaluated."""
    maps, problems = segment_maps_now(config)
    if problems:
        return None, problems
    return audience_compute(config, segment_maps=maps), []


def control_size(audience_size: int, percent: int) -> int:
    """The control group's size: ``percent`` % of the audience, rounded down."""
    return audience_size * int(percent) // 100


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread 64-bit hash of each value."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def control_split(members: FrozenBitMap, *, code: str, percent: int) -> FrozenBitMap:
    """The control group: the ``control_size`` members whose hash of (campaign
    code, customer id) is smallest — the same customers on every machine and
    every run, independent of how the members were counted, and uncorrelated
    between campaigns."""
    size = control_size(len(members), percent)
    if size == 0:
        return bitmaps.EMPTY
    ids = np.frombuffer(members.to_array(), dtype=np.uint32).astype(np.uint64)
    seed = np.uint64(int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big"))
    # Stable sort over ascending ids: equal hashes (practically never) fall back to the id.
    chosen = ids[np.argsort(_mix(ids ^ seed), kind="stable")[:size]]
    return FrozenBitMap(chosen.astype(np.uint32))


# --- the forecast ------------------------------------------------------------------


@dataclass
class SlotForecast:
    label: str
    prize: str
    pool: Any
    unit_cost: Decimal
    quantity: int
    share: Decimal
    expected_grants: int = 0
    expected_cost: Decimal = Decimal("0")
    worst_grants: int = 0
    worst_cost: Decimal = Decimal("0")


@dataclass
class Conflict:
    campaign: Campaign
    overlap: int | None  # customers in both audiences; None when one cannot be counted


@dataclass
class Forecast:
    audience: int | None
    control: int
    reach: int
    participation_rate: Decimal
    participants: int
    grants_per_participant: Decimal
    worst_grants_per_customer: int
    expected_grants: int
    expected_cost: Decimal
    worst_grants: int
    worst_cost: Decimal
    budget_total: Decimal
    budget_daily: Decimal | None
    days: int
    slots: list[SlotForecast] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the audience cannot be counted

    @property
    def participation_percent(self) -> Decimal:
        return (self.participation_rate * 100).quantize(Decimal("0.1"))

    @property
    def worst_cost_within_budget(self) -> Decimal:
        """What the campaign can spend at most: the runtime stops at the budget."""
        return min(self.worst_cost, self.budget_total)

    @property
    def budget_covers_worst_case(self) -> bool:
        return self.budget_total >= self.worst_cost

    @property
    def expected_daily_cost(self) -> Decimal:
        return (self.expected_cost / max(self.days, 1)).quantize(CENT)


def _window_days(campaign: Campaign) -> int:
    seconds = (campaign.ends_at - campaign.starts_at).total_seconds()
    return max(1, -(-int(seconds) // 86400))


def _slot_forecasts(campaign: Campaign) -> list[SlotForecast]:
    slots = [s for s in campaign.slots.select_related("prize__pool").order_by("position", "pk") if s.prize_id]
    weighted = sum(s.weight for s in slots)
    result = []
    for slot in slots:
        share = Decimal(slot.weight) / weighted if weighted else Decimal(1) / len(slots)
        result.append(
            SlotForecast(
                label=slot.label, prize=slot.prize.name, pool=slot.prize.pool, unit_cost=slot.prize.unit_cost,
                quantity=slot.quantity, share=share,
            )
        )
    return result


def forecast(campaign: Campaign, *, user=None, members: FrozenBitMap | None = None) -> Forecast:
    """The forecast of the campaign's working copy.

    ``user`` limits the conflicts to campaigns they may see (default: the
    owner branch's subtree). ``members``: the audience when the caller has it.
    """
    from campaigns.services.lifecycle import campaign_config

    config = campaign_config(campaign)
    problems: list[str] = []
    if members is None:
        members, problems = audience_now(config)
    kind = kind_for(campaign.kind)
    rate = participation_rate(kind)
    expected_each, worst_each = kind.grants_per_participant(campaign)
    expected_each = Decimal(str(expected_each))
    worst_each = int(worst_each)

    audience = len(members) if members is not None else None
    control = control_size(audience or 0, campaign.control_percent)
    reach = (audience or 0) - control
    participants = int((reach * rate).to_integral_value(rounding=ROUND_DOWN))
    slots = _slot_forecasts(campaign)

    grants_wanted = participants * expected_each
    for slot in slots:
        wanted = int((grants_wanted * slot.share).to_integral_value(rounding=ROUND_DOWN))
        slot.expected_grants = min(wanted, slot.quantity)
        slot.expected_cost = (slot.unit_cost * slot.expected_grants).quantize(CENT)
    # The worst case: everyone reachable takes the most, the dearest prizes first.
    left = reach * worst_each
    for slot in sorted(slots, key=lambda s: s.unit_cost, reverse=True):
        slot.worst_grants = min(left, slot.quantity)
        slot.worst_cost = (slot.unit_cost * slot.worst_grants).quantize(CENT)
        left -= slot.worst_grants

    result = Forecast(
        audience=audience, control=control, reach=reach, participation_rate=rate, participants=participants,
        grants_per_participant=expected_each, worst_grants_per_customer=worst_each,
        expected_grants=sum(s.expected_grants for s in slots),
        expected_cost=sum((s.expected_cost for s in slots), Decimal("0.00")),
        worst_grants=sum(s.worst_grants for s in slots),
        worst_cost=sum((s.worst_cost for s in slots), Decimal("0.00")),
        budget_total=campaign.budget_total, budget_daily=campaign.budget_daily, days=_window_days(campaign),
        slots=slots, problems=problems,
    )
    result.warnings = _warnings(result)
    if members is not None:
        result.conflicts = conflicts(campaign, members=members, user=user)
        for conflict in result.conflicts:
            other = conflict.campaign
            if conflict.overlap is None:
                result.warnings.append(
                    _("%(campaign)s runs at the same time; its audience could not be compared.")
                    % {"campaign": other}
                )
            else:
                result.warnings.append(
                    _("%(campaign)s runs at the same time for %(count)s of the same customers.")
                    % {"campaign": other, "count": conflict.overlap}
                )
    return result


def _warnings(result: Forecast) -> list[str]:
    warnings = []
    if result.audience is not None and result.reach == 0:
        warnings.append(_("Nobody can be reached: the audience is empty."))
    if not result.budget_covers_worst_case:
        warnings.append(
            _("The worst case (CNY %(worst)s) is more than the total budget (CNY %(budget)s).")
            % {"worst": result.worst_cost, "budget": result.budget_total}
        )
    if result.budget_daily is not None and result.expected_daily_cost > result.budget_daily:
        warnings.append(
            _("The expected cost per day (CNY %(daily)s) is more than the daily budget (CNY %(budget)s): "
              "customers would be turned away on busy days.")
            % {"daily": result.expected_daily_cost, "budget": result.budget_daily}
        )
    by_pool: dict[int, tuple[Any, Decimal]] = {}
    for slot in result.slots:
        pool = slot.pool
        by_pool[pool.pk] = (pool, by_pool.get(pool.pk, (pool, Decimal("0")))[1] + slot.worst_cost)
    for pool, worst in by_pool.values():
        if pool.budget_available < worst:
            warnings.append(
                _("Prize pool %(pool)s has CNY %(available)s of budget left, less than this campaign's worst case there "
                  "(CNY %(worst)s).")
                % {"pool": pool, "available": pool.budget_available, "worst": worst}
            )
    return warnings


def conflicts(campaign: Campaign, *, members: FrozenBitMap, user=None) -> list[Conflict]:
    """Approved, live or paused campaigns in scope whose window overlaps this
    one's and whose frozen audience shares customers with ``members``."""
    scope = user if user is not None else BranchScope(campaign.owner_branch)
    others = (
        Campaign.objects.visible_to(scope)
        .filter(status__in=RUNNING, starts_at__lt=campaign.ends_at, ends_at__gt=campaign.starts_at)
        .exclude(pk=campaign.pk)
        .select_related("owner_branch")
        .order_by("starts_at", "pk")[:CONFLICT_LIMIT]
    )
    others = list(others)
    frozen = {
        row.revision_id: row.members
        for row in CampaignAudience.objects.filter(revision_id__in=[o.live_revision_id for o in others if o.live_revision_id])
    }
    found = []
    for other in others:
        data = frozen.get(other.live_revision_id)
        if data is None:
            found.append(Conflict(campaign=other, overlap=None))
            continue
        overlap = FrozenBitMap.deserialize(bytes(data)).intersection_cardinality(members)
        if overlap:
            found.append(Conflict(campaign=other, overlap=overlap))
    return found
