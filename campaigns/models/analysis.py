"""What the analysis keeps (DESIGN.md §4): each campaign's headline figures, so
campaigns can be listed, filtered and compared by them, and the re-marketing
taggings of its participants with their lineage.

``CampaignResult`` is derived data, written whenever the analysis is computed
(``campaigns.selectors.analysis_cache``) and refreshed in the background for
campaigns whose records changed; it can always be recomputed.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.scope import ScopedQuerySet
from audiences.models import Tag
from campaigns.models.config import MONEY, Campaign

__all__ = ["CampaignResult", "ParticipantGroup", "ParticipantTagging", "TaggingStatus"]


class CampaignResult(models.Model):
    """The key figures of a campaign's latest analysis (definitions in
    ``campaigns.selectors.analysis.campaign_analysis``)."""

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), primary_key=True, on_delete=models.CASCADE, related_name="result"
    )
    # The records version the figures were computed from (analysis_cache.analysis_version).
    version = models.CharField(max_length=40)
    computed_at = models.DateTimeField(_("computed at"))
    audience = models.PositiveIntegerField(_("audience"), default=0)
    control = models.PositiveIntegerField(_("control group"), default=0)
    reached = models.PositiveIntegerField(_("reached"), default=0)
    viewed = models.PositiveIntegerField(_("viewed"), default=0)
    participants = models.PositiveIntegerField(_("participants"), default=0)
    participation_rate = models.FloatField(_("participation rate"), null=True, blank=True)
    winners = models.PositiveIntegerField(_("winners"), default=0)
    cost = models.DecimalField(_("cost (CNY)"), default=Decimal("0"), **MONEY)
    budget_total = models.DecimalField(_("total budget (CNY)"), default=Decimal("0"), **MONEY)
    budget_used = models.FloatField(_("budget used"), null=True, blank=True)
    cost_per_participant = models.DecimalField(_("cost per participant"), null=True, blank=True, **MONEY)
    cost_per_conversion = models.DecimalField(_("cost per conversion"), null=True, blank=True, **MONEY)
    new_customers = models.PositiveIntegerField(_("new customers"), default=0)
    conversions = models.PositiveIntegerField(_("conversions"), default=0)
    converted_customers = models.PositiveIntegerField(_("converted customers"), default=0)
    conversion_amount = models.DecimalField(_("conversion amount (CNY)"), default=Decimal("0"), **MONEY)
    # Treatment minus control conversion rate; null without a control group.
    uplift = models.FloatField(_("uplift"), null=True, blank=True)
    uplift_significant = models.BooleanField(_("uplift significant"), null=True, blank=True)

    scope_field = "campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign result")
        verbose_name_plural = _("campaign results")

    def __str__(self) -> str:
        return str(self.campaign_id)


class ParticipantGroup(models.TextChoices):
    PARTICIPANTS = "participants", _("all participants")
    WINNERS = "winners", _("winners")
    NON_WINNERS = "non_winners", _("participants who did not win")
    CONVERTED = "converted", _("converted participants")
    CONTROL = "control", _("control group")


class TaggingStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("tagging")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ParticipantTagging(models.Model):
    """One "tag this group" action on a campaign: the lineage of a campaign
    history tag (which campaign, which group, when, by whom) and the progress
    of the background job that assigns it."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="taggings"
    )
    group = models.CharField(_("group"), max_length=16, choices=ParticipantGroup.choices)
    tag = models.ForeignKey(Tag, verbose_name=_("tag"), on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=16, choices=TaggingStatus.choices, default=TaggingStatus.QUEUED)
    total = models.PositiveIntegerField(_("customers in the group"), default=0)
    done = models.PositiveIntegerField(_("customers processed"), default=0)
    added = models.PositiveIntegerField(_("customers newly tagged"), default=0)
    job_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    failure = models.TextField(_("failure"), blank=True)

    scope_field = "campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("participant tagging")
        verbose_name_plural = _("participant taggings")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One tagging of a group at a time: a second click while one runs is refused.
            models.UniqueConstraint(
                fields=["campaign", "group"], condition=models.Q(status__in=["queued", "running"]),
                name="participant_tagging_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.group}"
