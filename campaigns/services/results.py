"""Keeping each campaign's key figures (``CampaignResult``) in step with its
analysis: stored whenever the analysis is computed, and refreshed every 15
minutes (the cron job ``campaigns.jobs.analysis_refresh``, ``manage.py
analysis_refresh``) for the campaigns whose records changed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import cache

from campaigns.models import Campaign, CampaignResult
from campaigns.selectors import analysis_cache
from campaigns.selectors import results as result_selectors
from campaigns.selectors.analysis import CampaignAnalysis

logger = logging.getLogger(__name__)


def campaign_result_save(*, campaign: Campaign, version: str, result: CampaignAnalysis) -> CampaignResult:
    """Store the KPIs of ``result`` (computed from the records at ``version``)
    as the campaign's result, replacing the previous one (one upsert: a page
    and the refresh job saving the same campaign at once both succeed).
    Derived data: not audited."""
    kpis, uplift = result.kpis, result.uplift
    values = {
        "version": version, "computed_at": result.computed_at,
        "audience": kpis.audience, "control": kpis.control, "reached": kpis.reached, "viewed": kpis.viewed,
        "participants": kpis.participants, "participation_rate": kpis.participation_rate,
        "winners": kpis.winners, "cost": kpis.cost, "budget_total": kpis.budget_total,
        "budget_used": kpis.budget_used, "cost_per_participant": kpis.cost_per_participant,
        "cost_per_conversion": kpis.cost_per_conversion, "new_customers": kpis.new_customers,
        "conversions": kpis.conversions, "converted_customers": kpis.converted_customers,
        "conversion_amount": kpis.conversion_amount,
        "uplift": uplift.difference if uplift else None,
        "uplift_significant": uplift.significant if uplift else None,
    }
    row = CampaignResult(campaign=campaign, **values)
    CampaignResult.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["campaign"], update_fields=list(values)
    )
    return row


@dataclass
class RefreshReport:
    checked: int = 0
    refreshed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"checked": self.checked, "refreshed": self.refreshed, "failed": self.failed}


def result_refresh(campaign: Campaign) -> bool:
    """Bring the campaign's stored figures up to date: recompute through the
    analysis cache only when the records version differs from the stored one.
    True when the figures were stored anew."""
    stored = CampaignResult.objects.filter(campaign=campaign).values_list("version", flat=True).first()
    version = analysis_cache.analysis_version(campaign)
    if stored == version:
        return False
    # A page may have computed this very version before figures were stored
    # (or after they were deleted): store what the cache holds rather than
    # compute it again. Otherwise analysis_cached computes and stores.
    cached = cache.get(analysis_cache.analysis_cache_key(campaign, version))
    if cached is not None:
        campaign_result_save(campaign=campaign, version=version, result=cached)
    else:
        analysis_cache.analysis_cached(campaign)
    return True


def results_refresh(*, campaigns: Iterable[Campaign] | None = None, now: dt.datetime | None = None) -> RefreshReport:
    """``result_refresh`` for each of ``campaigns`` (by default the
    ``refresh_candidates``). One campaign's failure is logged and counted; the
    others are still refreshed. Safe to run twice: a second run finds every
    version stored and computes nothing."""
    report = RefreshReport()
    for campaign in result_selectors.refresh_candidates(now=now) if campaigns is None else campaigns:
        report.checked += 1
        try:
            if result_refresh(campaign):
                report.refreshed += 1
        except Exception as exc:  # one broken campaign must not stop the sweep
            logger.exception("analysis refresh failed for campaign %s", campaign.code)
            report.failed += 1
            report.failures.append(f"{campaign.code}: {exc}")
    return report
