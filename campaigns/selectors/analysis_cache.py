"""The campaign analysis, cached until the records it is computed from change.

The key is the campaign's id and a *records version* read in one query: the
newest Activity and Award ids of the campaign, how many of its awards are still
queued (a queued award that the pool refuses gets no grant), the newest update
of its awards' grants, the newest BusinessEvent id of the analysis window, and
the campaign's own ``updated_at`` and approved revision. A new record gives a
new key, so nothing has to be deleted: the stale entry is simply never read
again and expires. Records are only ever appended or updated forward, so the
version never repeats for different data.

What the version cannot see — tags and branches read from the bitmap index, and
retention, which depends on the time of the computation — is bounded by the
entry's lifetime (``CACHE_SECONDS``); the page shows when its figures were computed.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import Count, IntegerField, Max, Subquery, Value
from django.db.models.functions import Coalesce

from campaigns.models import Activity, Award, AwardStatus, BusinessEvent, Campaign
from campaigns.selectors import analysis
from campaigns.services import results as result_services
from campaigns.services.revisions import approved_window

KEY_PREFIX = "campaigns:analysis"
# Long enough for a busy page to stay warm, short enough that retention (which
# moves with the clock) and tags re-indexed since are never more than this old.
CACHE_SECONDS = 15 * 60


def _newest(queryset) -> Coalesce:
    """The largest id of ``queryset`` as a scalar subquery (0 when empty)."""
    return Coalesce(Subquery(queryset.order_by("-pk").values("pk")[:1]), Value(0), output_field=IntegerField())


def analysis_version(campaign: Campaign) -> str:
    """A short digest of everything new records would change, read in one query.

    The campaign's id is written into each part (not an outer reference), so
    each is planned for this campaign: the newest activity and award ids and
    the queued count come from the (campaign, id) and (campaign, status)
    indexes without reading the campaign's rows. The newest grant update is
    the costly part: it joins every award of the campaign to its grant (about
    80 ms at 100,000 awards)."""
    starts, ends = approved_window(campaign)
    horizon = analysis.events_horizon(ends)
    awards = Award.objects.filter(campaign=campaign.pk).order_by()
    events = BusinessEvent.objects.filter(occurred_at__gte=starts, occurred_at__lt=horizon)
    row = (
        Campaign.objects.filter(pk=campaign.pk)
        .order_by()
        .annotate(
            activity=_newest(Activity.objects.filter(campaign=campaign.pk)),
            award=_newest(awards),
            queued=Coalesce(
                Subquery(
                    awards.filter(status=AwardStatus.QUEUED).values("campaign").annotate(n=Count("pk")).values("n")
                ),
                Value(0),
            ),
            grant=Subquery(awards.values("campaign").annotate(top=Max("grant__updated_at")).values("top")),
            event=_newest(events),
        )
        .values_list("updated_at", "live_revision_id", "activity", "award", "queued", "grant", "event")
        .get()
    )
    return hashlib.sha1(repr(row).encode(), usedforsecurity=False).hexdigest()


def analysis_cache_key(campaign: Campaign, version: str | None = None) -> str:
    return f"{KEY_PREFIX}:{campaign.pk}:{version or analysis_version(campaign)}"


def analysis_cached(campaign: Campaign) -> analysis.CampaignAnalysis:
    """``campaign_analysis(campaign)`` from the cache while its records are unchanged
    (scope is the caller's to check). A computation also stores the campaign's
    key figures (``CampaignResult``) for the comparison list."""
    version = analysis_version(campaign)
    key = analysis_cache_key(campaign, version)
    result = cache.get(key)
    if result is None:
        result = analysis.campaign_analysis(campaign)
        cache.set(key, result, CACHE_SECONDS)
        result_services.campaign_result_save(campaign=campaign, version=version, result=result)
    return result
