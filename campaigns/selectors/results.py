"""Campaigns side by side (DESIGN.md §4 analysis, across campaigns).

Three reads:

- the *results list*: every campaign in the user's scope that has an analysis
  (approved, live, paused, ended) with its stored key figures
  (``CampaignResult``, one LEFT JOIN, so the query count does not grow with
  the rows), sorted by a whitelisted key with empty figures last;
- the *refresh candidates*: which campaigns' stored figures may be stale
  (brought up to date by ``campaigns.services.results.results_refresh``);
- the *comparison* of two to four campaigns, each through ``analysis_cached``:
  key figures with the best of each row, funnel shares, participants by day
  of the campaign, uplift and retention.

Which way is better is part of each figure's definition (``Metric.better``):
more participants is better, a lower cost per conversion is better, and a
bigger audience or budget is neither — it is the campaign's size, not its merit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignResult, CampaignStatus
from campaigns.selectors import analysis, analysis_cache

# The states in which a campaign has an approved revision, hence an analysis.
ANALYSED = (CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED, CampaignStatus.ENDED)
# Conversions count up to 30 days after the end and retention looks 30 days
# ahead, so an ended campaign's figures still move for a while after it ends.
ENDED_REFRESH_DAYS = 60
COMPARE_MIN, COMPARE_MAX = 2, 4

HIGHER, LOWER = "higher", "lower"


@dataclass(frozen=True)
class Metric:
    """One key figure, named as in ``CampaignResult`` and ``analysis.Kpis``.
    ``kind``: int, money (CNY), share (a fraction), points (a difference of
    two shares, shown in percentage points), flag (yes / no) or time;
    ``better``: HIGHER, LOWER or None (neither: size, not merit)."""

    name: str
    label: Promise
    kind: str = "int"
    better: str | None = HIGHER


# The results list: its columns, its sort keys and its export, in this order.
LIST_METRICS: tuple[Metric, ...] = (
    Metric("audience", _("Audience"), better=None),
    Metric("participants", _("Participants")),
    Metric("participation_rate", _("Participation rate"), "share"),
    Metric("winners", _("Winners"), better=None),
    Metric("cost", _("Cost (CNY)"), "money", better=None),
    Metric("budget_used", _("Budget used"), "share", better=None),
    Metric("conversions", _("Conversions")),
    Metric("conversion_amount", _("Conversion amount (CNY)"), "money"),
    Metric("cost_per_conversion", _("Cost per conversion (CNY)"), "money", LOWER),
    Metric("new_customers", _("New customers")),
    Metric("uplift", _("Uplift (percentage points)"), "points"),
    Metric("computed_at", _("Computed at"), "time", better=None),
)

# The comparison's key figures table (and its export).
COMPARE_METRICS: tuple[Metric, ...] = (
    Metric("audience", _("Audience"), better=None),
    Metric("control", _("Control group"), better=None),
    Metric("reached", _("Reached")),
    Metric("viewed", _("Viewed")),
    Metric("participants", _("Participants")),
    Metric("participation_rate", _("Participation rate"), "share"),
    Metric("winners", _("Winners"), better=None),
    Metric("cost", _("Cost (CNY)"), "money", better=None),
    Metric("budget_total", _("Budget (CNY)"), "money", better=None),
    Metric("budget_used", _("Budget used"), "share", better=None),
    Metric("cost_per_participant", _("Cost per participant (CNY)"), "money", LOWER),
    Metric("cost_per_conversion", _("Cost per conversion (CNY)"), "money", LOWER),
    Metric("new_customers", _("New customers")),
    Metric("conversions", _("Conversions")),
    Metric("converted_customers", _("Converted customers")),
    Metric("conversion_amount", _("Conversion amount (CNY)"), "money"),
    Metric("uplift", _("Uplift (percentage points)"), "points"),
    Metric("uplift_significant", _("Uplift significant"), "flag", better=None),
)

# Sort keys of the results list: ``key`` ascending, ``-key`` descending.
SORTS: dict[str, str] = {
    "code": "code",
    "starts_at": "starts_at",
    **{metric.name: f"result__{metric.name}" for metric in LIST_METRICS},
}
DEFAULT_SORT = "-starts_at"


# --- the results list ------------------------------------------------------------------


def result_list(*, user) -> QuerySet[Campaign]:
    """Campaigns in the user's scope that have an analysis, with their stored
    figures (``campaign.result``, or no row yet: see ``stored_result``)."""
    return (
        Campaign.objects.visible_to(user)
        .filter(status__in=ANALYSED)
        .select_related("owner_branch", "result")
    )


def stored_result(campaign: Campaign) -> CampaignResult | None:
    """The campaign's stored figures, None before the first computation (no query
    when the campaign came from ``result_list``)."""
    try:
        return campaign.result
    except CampaignResult.DoesNotExist:
        return None


def result_sort(queryset: QuerySet[Campaign], sort: str | None) -> tuple[QuerySet[Campaign], str]:
    """``queryset`` ordered by ``sort`` (a key of SORTS, ``-`` for descending),
    empty figures last either way, then by id so pages never overlap. An
    unknown key falls back to DEFAULT_SORT; the key applied is returned."""
    key = (sort or "").strip()
    name = key.removeprefix("-")
    if name not in SORTS:
        key, name = DEFAULT_SORT, DEFAULT_SORT.removeprefix("-")
    descending = key.startswith("-")
    column = F(SORTS[name])
    order = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return queryset.order_by(order, "-pk" if descending else "pk"), key


# --- keeping the stored figures fresh --------------------------------------------------


def refresh_candidates(*, now: dt.datetime | None = None) -> QuerySet[Campaign]:
    """Campaigns whose figures may still move: approved, live or paused; ended
    within ENDED_REFRESH_DAYS (of their planned end, which an early end only
    moves later); and any analysed campaign without stored figures."""
    now = now or timezone.now()
    recent = now - dt.timedelta(days=ENDED_REFRESH_DAYS)
    return (
        Campaign.objects.filter(
            Q(status__in=[CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED])
            | Q(status=CampaignStatus.ENDED, ends_at__gte=recent)
            | Q(status__in=ANALYSED, result__isnull=True)
        )
        .select_related("live_revision")
        .order_by("pk")
    )


# --- the comparison --------------------------------------------------------------------


class ComparisonRefused(Exception):
    """The campaigns asked for cannot be compared; ``not_found`` when a code is
    unknown or outside the user's scope (the two look the same: 404)."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.message = message
        self.not_found = not_found


def compare_campaigns(*, user, codes: Sequence[str]) -> list[Campaign]:
    """The campaigns to compare, in the order asked, after every check and
    before anything is computed: two to four distinct codes, each a campaign
    in the user's scope that has an analysis."""
    codes = [code.strip() for code in codes if code.strip()]
    if not COMPARE_MIN <= len(codes) <= COMPARE_MAX:
        raise ComparisonRefused(
            _("Pick from %(low)d to %(high)d campaigns to compare; %(count)d given.")
            % {"low": COMPARE_MIN, "high": COMPARE_MAX, "count": len(codes)}
        )
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ComparisonRefused(
            _("Each campaign can be compared once; given more than once: %(codes)s.") % {"codes": ", ".join(repeated)}
        )
    found = {
        campaign.code: campaign
        for campaign in Campaign.objects.visible_to(user)
        .filter(code__in=codes)
        .select_related("owner_branch", "live_revision")
    }
    missing = [code for code in codes if code not in found]
    if missing:
        raise ComparisonRefused(
            _("No campaign in your scope has the code %(codes)s.") % {"codes": ", ".join(missing)}, not_found=True
        )
    unanalysed = [code for code in codes if found[code].status not in ANALYSED]
    if unanalysed:
        raise ComparisonRefused(
            _("Only approved, live, paused or ended campaigns have an analysis; not yet: %(codes)s.")
            % {"codes": ", ".join(unanalysed)}
        )
    return [found[code] for code in codes]


@dataclass
class KpiRow:
    metric: Metric
    values: list[Any]
    best: set[int]  # positions of the best value (empty: no direction, or nothing to tell apart)


@dataclass
class Comparison:
    campaigns: list[Campaign]
    results: list[analysis.CampaignAnalysis]
    kpis: list[KpiRow]
    funnel: list[dict[str, Any]]  # stage, customers [per campaign], shares [per campaign]
    days: list[int]  # day of the campaign: 1, 2, …
    participants_by_day: list[list[int | None]]  # per campaign, None past its end or after today
    retention: list[dict[str, Any]]  # days, shares [per campaign], eligible [per campaign]
    uplifts: list[analysis.Uplift | None]


def _value(result: analysis.CampaignAnalysis, name: str) -> Any:
    if name == "uplift":
        return result.uplift.difference if result.uplift else None
    if name == "uplift_significant":
        return result.uplift.significant if result.uplift else None
    return getattr(result.kpis, name)


def best_positions(values: Sequence[Any], better: str | None) -> set[int]:
    """Where the best of ``values`` is (ties share it). Nothing is best without
    a direction, with fewer than two figures, or when all figures are equal."""
    known = [(position, value) for position, value in enumerate(values) if value is not None]
    if better is None or len(known) < 2 or len({value for _, value in known}) == 1:
        return set()
    top = max(value for _, value in known) if better == HIGHER else min(value for _, value in known)
    return {position for position, value in known if value == top}


def _participants_by_day(result: analysis.CampaignAnalysis) -> list[int | None]:
    """New participants on day 1, 2, … of the campaign's (local) window; None
    for days that have not come yet (after the computation, and after the last
    day anyone joined), so a live campaign's line stops today instead of
    dropping to zero."""
    zone = timezone.get_default_timezone()
    first = timezone.localdate(result.starts_at, zone)
    last = timezone.localdate(result.ends_at - dt.timedelta(microseconds=1), zone)
    counts = {day: int(count) for day, count in zip(result.daily["day"], result.daily["participants"], strict=True)}
    seen = max((day for day, count in counts.items() if count), default=first)
    until = max(timezone.localdate(result.computed_at, zone), seen)
    values: list[int | None] = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        values.append(None if day > until else counts.get(day, 0))
    return values


def comparison(campaigns: Sequence[Campaign]) -> Comparison:
    """Everything the side-by-side page shows, each campaign's analysis read
    through the cache (and its figures stored when computed)."""
    results = [analysis_cache.analysis_cached(campaign) for campaign in campaigns]
    kpis = []
    for metric in COMPARE_METRICS:
        values = [_value(result, metric.name) for result in results]
        kpis.append(KpiRow(metric, values, best_positions(values, metric.better)))
    funnel = []
    for position, stage in enumerate(analysis.FUNNEL_STAGES):
        rows = [result.funnel.iloc[position] for result in results]
        funnel.append(
            {
                "stage": stage,
                "customers": [int(row["customers"]) for row in rows],
                "shares": [_float(row["share_of_audience"]) for row in rows],
            }
        )
    by_day = [_participants_by_day(result) for result in results]
    length = max(len(values) for values in by_day)
    retention = []
    for position, days in enumerate(analysis.RETENTION_DAYS):
        rows = [result.retention.iloc[position] for result in results]
        retention.append(
            {
                "days": days,
                "shares": [_float(row["share"]) for row in rows],
                "eligible": [int(row["eligible"]) for row in rows],
            }
        )
    return Comparison(
        campaigns=list(campaigns), results=results, kpis=kpis, funnel=funnel, days=list(range(1, length + 1)),
        participants_by_day=[values + [None] * (length - len(values)) for values in by_day],
        retention=retention, uplifts=[result.uplift for result in results],
    )


def _float(value: Any) -> float | None:
    """A share read from a table: None for a missing one (None or NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
