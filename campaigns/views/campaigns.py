"""Campaign pages: the list, the "Generate" gallery, the detail page, the edit
tabs, reward slots, clone, archive, restore and delete.

Every page looks the campaign up in the user's scope first (404 outside it);
every change also needs the verb on that campaign (403 otherwise) and goes
through one service of ``campaigns.services.campaigns``, whose ValidationError
is shown on the form. A tab that cannot be changed now (pending review, ended,
archived) still shows its form, disabled, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, register_converter
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can, require
from campaigns import kinds
from campaigns.filters import CampaignFilter
from campaigns.forms import campaigns as forms
from campaigns.models import Campaign, CampaignStatus
from campaigns.selectors import campaigns as selectors
from campaigns.selectors import review as review_selectors
from campaigns.selectors import runtime as runtime_selectors
from campaigns.services import campaigns as services
from campaigns.views import templates as template_views
from config.forms import is_fragment_request, submit


class CampaignCodeConverter:
    """A campaign code in a URL: ``LOT-20261130-QWER`` (any code with a hyphen).

    The campaign pages share ``/campaigns/`` with fixed addresses (``review/``,
    ``materials/``, ``generate/``) and come first in ``campaigns.urls``; codes
    always contain a hyphen and those words never do, so neither shadows the other.
    """

    regex = r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CampaignCodeConverter, "campaign_code")

PAGE_SIZE = 25
EDIT_PAGE = "campaigns/campaign_edit.html"
TABS = [
    ("basics", gettext_lazy("Basics")),
    ("audience", gettext_lazy("Audience")),
    ("rewards", gettext_lazy("Rewards")),
    ("channels", gettext_lazy("Channels")),
    ("rules", gettext_lazy("Rules")),
    ("budget", gettext_lazy("Budget")),
    ("settings", gettext_lazy("Settings")),
]


def _campaign(request: HttpRequest, code: str, verb: str = Verb.VIEW) -> Campaign:
    campaign = selectors.campaign_get_for_user(user=request.user, code=code)
    require(request.user, verb, campaign)
    return campaign


# --- list, gallery, detail ----------------------------------------------------------


@require_GET
@login_required
def campaign_list(request):
    campaign_filter = CampaignFilter(
        request.GET, queryset=selectors.campaign_list(user=request.user), user=request.user
    )
    paginator = Paginator(campaign_filter.qs.order_by("-starts_at", "-pk"), PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    labels = dict(kinds.choices())
    for campaign in page_obj:
        campaign.kind_label = labels.get(campaign.kind, campaign.kind)
    context = {"filter": campaign_filter, "page_obj": page_obj}
    template = "campaigns/partials/campaign_table.html" if is_fragment_request(request) else "campaigns/campaign_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def campaign_generate(request):
    require(request.user, Verb.EDIT)
    form = forms.GenerateForm(request.POST or None, user=request.user)
    done, campaign = submit(
        request,
        form,
        lambda data: services.campaign_generate(
            actor=request.user, kind=data["kind"] or None, owner_branch=data["owner_branch"], template=data["template"]
        ),
    )
    if done:
        messages.success(request, _("Draft “%(name)s” generated. Review it, adjust it, then submit it.") % {"name": campaign.name})
        return redirect("campaigns:campaign_detail", code=campaign.code)
    # The gallery of built-in defaults and templates to generate from (campaigns/views/templates.py).
    return template_views.gallery(request, form)


@require_GET
@login_required
def campaign_detail(request, code: str):
    campaign = selectors.campaign_with_parts(_campaign(request, code))
    kind = kinds.get(campaign.kind)
    context = {
        "campaign": campaign,
        "kind": kind,
        "settings_rows": kind.settings_summary(campaign.kind_settings or {}),
        "tabs": TABS,
        "can_edit": can(request.user, Verb.EDIT, campaign),
        "can_delete": can(request.user, Verb.DELETE, campaign)
        and campaign.status == CampaignStatus.DRAFT
        and campaign.live_revision_id is None,
        "can_archive": campaign.status in (CampaignStatus.DRAFT, CampaignStatus.ENDED),
        "refusal": services.edit_refusal(campaign),
        "no_prize_weight": kind.no_prize_weight(campaign),
        "lifecycle": review_selectors.lifecycle_context(request.user, campaign),
        "runtime": runtime_selectors.runtime_summary(campaign),
    }
    return render(request, "campaigns/campaign_detail.html", context)


# --- edit tabs ----------------------------------------------------------------------


def _edit_page(request, campaign: Campaign, tab: str, **context: Any) -> HttpResponse:
    forms_shown = [v for k, v in context.items() if k.endswith("form") and v is not None]
    status = 400 if any(f.is_bound and f.errors for f in forms_shown) else 200
    context.update(
        campaign=campaign, tab=tab, tabs=TABS, kind=kinds.get(campaign.kind), refusal=services.edit_refusal(campaign)
    )
    return render(request, EDIT_PAGE, context, status=status)


def _saved(request, campaign: Campaign, tab: str) -> HttpResponse:
    if campaign.has_unapproved_changes:
        messages.warning(request, _("Saved. The change takes effect once the campaign is approved again."))
    else:
        messages.success(request, _("Saved."))
    return redirect("campaigns:campaign_edit", code=campaign.code, tab=tab)


def _tab_basics(request, campaign: Campaign) -> HttpResponse:
    form = forms.BasicsForm(request.POST or None, user=request.user, campaign=campaign)
    done, saved = submit(
        request, form, lambda data: services.campaign_update_basics(actor=request.user, campaign=campaign, **data)
    )
    return _saved(request, saved, "basics") if done else _edit_page(request, campaign, "basics", form=form)


def _tab_audience(request, campaign: Campaign) -> HttpResponse:
    form = forms.AudienceForm(request.POST or None, user=request.user, campaign=campaign)
    done, saved = submit(
        request, form, lambda data: services.campaign_update_audience(actor=request.user, campaign=campaign, **data)
    )
    return _saved(request, saved, "audience") if done else _edit_page(request, campaign, "audience", form=form)


def _tab_rewards(request, campaign: Campaign) -> HttpResponse:
    """The slots table; a POST adds a slot."""
    form = forms.SlotForm(request.POST or None, user=request.user, campaign=campaign)
    done, _slot = submit(
        request, form, lambda data: services.slot_add(actor=request.user, campaign=campaign, **data)
    )
    if done:
        campaign.refresh_from_db()
        return _saved(request, campaign, "rewards")
    kind = kinds.get(campaign.kind)
    return _edit_page(
        request, campaign, "rewards", form=form, slots=selectors.campaign_slots(campaign),
        no_prize_weight=kind.no_prize_weight(campaign),
    )


def _tab_channels(request, campaign: Campaign) -> HttpResponse:
    """One form per channel; a POST names the channel it saves."""
    posted = request.POST.get("channel") if request.method == "POST" else None
    channel_forms = []
    for channel in selectors.campaign_channels(campaign):
        data = request.POST if channel.channel == posted else None
        channel_forms.append(forms.ChannelForm(data, user=request.user, channel=channel))
    bound = next((f for f in channel_forms if f.is_bound), None)
    if request.method == "POST" and bound is None:
        raise Http404
    done, _channel = submit(
        request, bound, lambda data: services.channel_update(actor=request.user, channel=bound.channel, **data)
    ) if bound else (False, None)
    if done:
        campaign.refresh_from_db()
        return _saved(request, campaign, "channels")
    return _edit_page(request, campaign, "channels", channel_forms=channel_forms, bound_form=bound)


def _tab_rules(request, campaign: Campaign) -> HttpResponse:
    form = forms.RulesForm(request.POST or None, user=request.user, campaign=campaign)
    done, saved = submit(
        request, form, lambda data: services.campaign_update_rules(actor=request.user, campaign=campaign, **data)
    )
    return _saved(request, saved, "rules") if done else _edit_page(request, campaign, "rules", form=form)


def _tab_budget(request, campaign: Campaign) -> HttpResponse:
    form = forms.BudgetForm(request.POST or None, campaign=campaign)
    done, saved = submit(
        request, form, lambda data: services.campaign_update_budget(actor=request.user, campaign=campaign, **data)
    )
    return _saved(request, saved, "budget") if done else _edit_page(request, campaign, "budget", form=form)


def _tab_settings(request, campaign: Campaign) -> HttpResponse:
    form = forms.settings_form(campaign, request.POST or None)
    done, saved = submit(
        request,
        form,
        lambda data: services.campaign_update_kind_settings(actor=request.user, campaign=campaign, kind_settings=data),
    )
    return _saved(request, saved, "settings") if done else _edit_page(request, campaign, "settings", form=form)


_TAB_VIEWS = {
    "basics": _tab_basics,
    "audience": _tab_audience,
    "rewards": _tab_rewards,
    "channels": _tab_channels,
    "rules": _tab_rules,
    "budget": _tab_budget,
    "settings": _tab_settings,
}


@require_http_methods(["GET", "POST"])
@login_required
def campaign_edit(request, code: str, tab: str):
    campaign = _campaign(request, code, Verb.EDIT)
    view = _TAB_VIEWS.get(tab)
    if view is None:
        raise Http404
    return view(request, campaign)


# --- reward slots ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def slot_edit(request, code: str, pk: int):
    campaign = _campaign(request, code, Verb.EDIT)
    slot = selectors.slot_get(campaign=campaign, pk=pk)
    form = forms.SlotForm(request.POST or None, user=request.user, campaign=campaign, slot=slot)
    done, _slot = submit(request, form, lambda data: services.slot_update(actor=request.user, slot=slot, **data))
    if done:
        campaign.refresh_from_db()
        return _saved(request, campaign, "rewards")
    context = {"campaign": campaign, "slot": slot, "form": form, "refusal": services.edit_refusal(campaign)}
    return render(request, "campaigns/campaign_slot_form.html", context, status=400 if form.errors else 200)


def _slot_action(request, code: str, pk: int, action: Callable[[Any], Any]) -> HttpResponse:
    campaign = _campaign(request, code, Verb.EDIT)
    slot = selectors.slot_get(campaign=campaign, pk=pk)
    try:
        action(slot)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("campaigns:campaign_edit", code=campaign.code, tab="rewards")
    campaign.refresh_from_db()
    return _saved(request, campaign, "rewards")


@require_POST
@login_required
def slot_remove(request, code: str, pk: int):
    return _slot_action(request, code, pk, lambda slot: services.slot_remove(actor=request.user, slot=slot))


@require_POST
@login_required
def slot_move(request, code: str, pk: int):
    """Move a slot to ``position`` (0-based), or one step ``direction=up|down``:
    the keyboard and no-JavaScript way to reorder."""

    def move(slot):
        direction = request.POST.get("direction")
        if direction in ("up", "down"):
            position = slot.position + (-1 if direction == "up" else 1)
        else:
            try:
                position = int(request.POST.get("position", ""))
            except ValueError:
                raise ValidationError(_("Say where the slot goes.")) from None
        return services.slot_move(actor=request.user, slot=slot, position=position)

    return _slot_action(request, code, pk, move)


# --- clone, archive, restore, delete -----------------------------------------------------


def _campaign_action(request, code: str, verb: str, action: Callable[[Campaign], Any], done: str):
    campaign = _campaign(request, code, verb)
    try:
        result = action(campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("campaigns:campaign_detail", code=campaign.code)
    messages.success(request, done % {"name": campaign.name})
    return result


@require_POST
@login_required
def campaign_clone(request, code: str):
    def clone(campaign):
        copy = services.campaign_clone(actor=request.user, campaign=campaign)
        return redirect("campaigns:campaign_detail", code=copy.code)

    return _campaign_action(request, code, Verb.EDIT, clone, _("“%(name)s” cloned into a new draft."))


@require_POST
@login_required
def campaign_archive(request, code: str):
    def archive(campaign):
        services.campaign_archive(actor=request.user, campaign=campaign)
        return redirect("campaigns:campaign_detail", code=campaign.code)

    return _campaign_action(request, code, Verb.EDIT, archive, _("“%(name)s” archived."))


@require_POST
@login_required
def campaign_restore(request, code: str):
    def restore(campaign):
        services.campaign_restore(actor=request.user, campaign=campaign)
        return redirect("campaigns:campaign_detail", code=campaign.code)

    return _campaign_action(request, code, Verb.EDIT, restore, _("“%(name)s” restored from the archive."))


@require_POST
@login_required
def campaign_delete(request, code: str):
    def delete(campaign):
        services.campaign_delete(actor=request.user, campaign=campaign)
        return redirect("campaigns:campaign_list")

    return _campaign_action(request, code, Verb.DELETE, delete, _("Draft “%(name)s” deleted."))


urlpatterns = [
    path("", campaign_list, name="campaign_list"),
    path("generate/", campaign_generate, name="campaign_generate"),
    path("<campaign_code:code>/", campaign_detail, name="campaign_detail"),
    path("<campaign_code:code>/edit/<slug:tab>/", campaign_edit, name="campaign_edit"),
    path("<campaign_code:code>/slots/<int:pk>/", slot_edit, name="slot_edit"),
    path("<campaign_code:code>/slots/<int:pk>/remove/", slot_remove, name="slot_remove"),
    path("<campaign_code:code>/slots/<int:pk>/move/", slot_move, name="slot_move"),
    path("<campaign_code:code>/clone/", campaign_clone, name="campaign_clone"),
    path("<campaign_code:code>/archive/", campaign_archive, name="campaign_archive"),
    path("<campaign_code:code>/restore/", campaign_restore, name="campaign_restore"),
    path("<campaign_code:code>/delete/", campaign_delete, name="campaign_delete"),
]
