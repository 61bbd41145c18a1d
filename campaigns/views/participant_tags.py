"""Tag a campaign's customers for re-marketing: the section of the analysis
page and its actions (``campaigns.services.participant_tags``).

The section lists each group with its size, as the analysis counts it, and a
button to tag it; under it the campaign's taggings with their lineage, a live
progress bar while one runs (each running row polls its own address) and a
link to the tag. Everyone who may see the campaign sees the section; only
those who may edit it (``Verb.EDIT``) get the buttons, and a forged POST from
anyone else answers 403. A campaign out of scope answers 404.

The analysis page includes ``campaigns/partials/participant_tags.html`` with
``section=section_context(user, campaign, result.kpis)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Verb, can, require
from campaigns.forms.analysis import GroupForm
from campaigns.models import Campaign, CampaignResult, ParticipantGroup, ParticipantTagging
from campaigns.selectors import campaigns as selectors
from campaigns.services import participant_tags
from campaigns.views import campaigns as campaign_views  # noqa: F401 - registers the campaign_code converter

SECTION = "campaigns/partials/participant_tags.html"
ROW = "campaigns/partials/participant_tagging.html"
# The latest taggings shown; older ones stay in the database (and the audit log).
LIST_SIZE = 20


@dataclass
class TaggingRow:
    tagging: ParticipantTagging
    stuck: bool

    @property
    def percent(self) -> int:
        total = self.tagging.total
        return int(100 * min(self.tagging.done, total) / total) if total else 0

    @property
    def polling(self) -> bool:
        # A stuck tagging does not move on by itself: stop asking.
        return self.tagging.status in participant_tags.IN_FLIGHT and not self.stuck


def _row(tagging: ParticipantTagging) -> TaggingRow:
    return TaggingRow(tagging=tagging, stuck=participant_tags.tagging_stuck(tagging))


def _group_sizes(kpis: Any) -> dict[str, int | None]:
    """Each group's size from the analysis' key figures (Kpis or CampaignResult)."""
    if kpis is None:
        return dict.fromkeys(ParticipantGroup.values)
    return {
        ParticipantGroup.PARTICIPANTS: kpis.participants,
        ParticipantGroup.WINNERS: kpis.winners,
        # Winners without a recorded participation (rare) are not in this group: never below zero.
        ParticipantGroup.NON_WINNERS: max(kpis.participants - kpis.winners, 0),
        ParticipantGroup.CONVERTED: kpis.converted_customers,
        ParticipantGroup.CONTROL: kpis.control,
    }


def section_context(user, campaign: Campaign, kpis: Any = None, **extra) -> dict[str, Any]:
    """What the section shows. ``kpis`` are the figures of the analysis on the
    page; without them the stored ones (``CampaignResult``) are used, if any."""
    if kpis is None:
        kpis = CampaignResult.objects.filter(campaign=campaign).first()
    sizes = _group_sizes(kpis)
    taggings = ParticipantTagging.objects.filter(campaign=campaign).select_related("tag", "requested_by")
    return {
        "campaign": campaign,
        "groups": [(value, label, sizes[value]) for value, label in ParticipantGroup.choices],
        "taggings": [_row(tagging) for tagging in taggings[:LIST_SIZE]],
        "can_tag": can(user, Verb.EDIT, campaign),
        "taggable": campaign.status in participant_tags.TAGGABLE,
        "error": "",
        "notice": "",
        **extra,
    }


def _section_url(campaign: Campaign) -> str:
    return reverse("campaigns:campaign_analysis", args=[campaign.code]) + "#participant-tags"


@require_POST
@login_required
def participants_tag(request: HttpRequest, code: str) -> HttpResponse:
    """Tag one group (``group`` in the form) and start its job."""
    campaign = selectors.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.EDIT, campaign)
    form = GroupForm(request.POST)
    error = notice = ""
    if form.is_valid():
        try:
            tagging = participant_tags.participants_tag(
                campaign=campaign, group=form.cleaned_data["group"], actor=request.user
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            notice = _("Tagging “%(group)s” has started; the tag %(tag)s gets its customers in the background.") % {
                "group": tagging.get_group_display(), "tag": tagging.tag.code,
            }
    else:
        error = " ".join(form.errors["group"])
    if request.htmx:
        return render(request, SECTION, {"section": section_context(request.user, campaign, error=error, notice=notice)})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect(_section_url(campaign))


@require_GET
@login_required
def participant_tagging(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """One tagging's row (htmx polls it while the job runs); without htmx, the page."""
    campaign = selectors.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.VIEW, campaign)
    tagging = get_object_or_404(
        ParticipantTagging.objects.filter(campaign=campaign).select_related("tag", "requested_by"), pk=pk
    )
    if not request.htmx:
        return redirect(_section_url(campaign))
    return render(request, ROW, {"campaign": campaign, "row": _row(tagging)})


urlpatterns = [
    path("<campaign_code:code>/analysis/tags/", participants_tag, name="participants_tag"),
    path("<campaign_code:code>/analysis/tags/<int:pk>/", participant_tagging, name="participant_tagging"),
]
