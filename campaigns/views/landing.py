"""The landing page: its phone-sized preview per channel, and the orders a maker
sets by drag and drop — reward slots (a lottery's wheel or grid), task-chain
tasks and the landing page's blocks — with up/down buttons for the keyboard.

Every ordering POST answers an htmx request with the re-drawn list; a refused
order answers 422 with the stored order and the reason, so a refused drop snaps
back. A plain form post (the buttons without JavaScript) is redirected back to
its page with a message. The campaign is looked up in the user's scope first
(404 outside it); changing an order needs the edit verb on it (403 otherwise).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Verb, can
from campaigns import kinds
from campaigns.kinds.task_chain import MAX_TASKS
from campaigns.models import Campaign, ChannelKind
from campaigns.selectors import campaigns as campaign_selectors
from campaigns.selectors import landing as selectors
from campaigns.services import campaigns as campaign_services
from campaigns.services import landing as services
from campaigns.services import messages as message_services
from config.forms import is_fragment_request

REFUSED = 422  # the answer to a refused order: htmx swaps it in like a success (see sortable-lists.js)


def _campaign(request: HttpRequest, code: str, verb: str = Verb.VIEW) -> Campaign:
    campaign = campaign_selectors.campaign_get_for_user(user=request.user, code=code)
    if not can(request.user, verb, campaign):
        raise PermissionDenied
    return campaign


def _saved_text(campaign: Campaign) -> str:
    if campaign.has_unapproved_changes:
        return _("Saved. The change takes effect once the campaign is approved again.")
    return _("Saved.")


def _answer(request, campaign: Campaign, error: str, *, template: str, context: dict[str, Any], back: str):
    """The re-drawn list for htmx; a redirect with the outcome as a message otherwise."""
    if is_fragment_request(request):
        context.setdefault("campaign", campaign)
        context.update(order_error=error, order_saved="" if error else _saved_text(campaign))
        return render(request, template, context, status=REFUSED if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _saved_text(campaign))
    return redirect(back)


def _refusal(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- preview ----------------------------------------------------------------------------


def _blocks_context(request, campaign: Campaign) -> dict[str, Any]:
    refusal = campaign_services.edit_refusal(campaign)
    can_edit = can(request.user, Verb.EDIT, campaign)
    return {
        "shown_blocks": [(name, selectors.BLOCK_LABELS[name]) for name in selectors.visible_blocks(campaign)],
        "hidden_blocks": [(name, selectors.BLOCK_LABELS[name]) for name in selectors.hidden_blocks(campaign)],
        "can_edit": can_edit,
        "refusal": refusal,
        "blocks_editable": can_edit and refusal is None,
    }


def _preview_context(request, campaign: Campaign, channel: str) -> dict[str, Any]:
    campaign = campaign_selectors.campaign_with_parts(campaign)
    return {
        "campaign": campaign,
        "channel_tabs": selectors.CHANNEL_TABS,
        "sample_name": message_services.SAMPLE_NAME,
        **selectors.landing_preview(campaign, channel),
        **_blocks_context(request, campaign),
    }


@require_GET
@login_required
def campaign_preview(request, code: str, channel: str):
    campaign = _campaign(request, code)
    if channel not in ChannelKind.values:
        raise Http404
    return render(request, "campaigns/campaign_preview.html", _preview_context(request, campaign, channel))


# --- landing page blocks -----------------------------------------------------------------


@require_POST
@login_required
def landing_blocks(request, code: str):
    """A drop posts the shown blocks in their new order (``block``); a button posts
    ``move=<block>:up|down``, ``hide=<block>`` or ``show=<block>``."""
    campaign = _campaign(request, code, Verb.EDIT)
    channel = request.POST.get("channel")
    channel = channel if channel in ChannelKind.values else ChannelKind.APP
    post, error = request.POST, ""
    try:
        if "move" in post:
            block, _sep, direction = post["move"].partition(":")
            campaign = services.landing_block_move(actor=request.user, campaign=campaign, block=block, direction=direction)
        elif "hide" in post or "show" in post:
            visible = "show" in post
            block = post["show" if visible else "hide"]
            campaign = services.landing_block_show(actor=request.user, campaign=campaign, block=block, visible=visible)
        else:
            campaign = services.landing_blocks_set(
                actor=request.user, campaign=campaign, blocks=post.getlist("block"), reorder_only=True
            )
    except ValidationError as exc:
        error = _refusal(exc)
    campaign.refresh_from_db()
    context = _preview_context(request, campaign, channel) if is_fragment_request(request) else {}
    back = reverse("campaigns:campaign_preview", args=[campaign.code, channel]) + "#landing-blocks"
    return _answer(
        request, campaign, error, template="campaigns/partials/landing_blocks_response.html", context=context,
        back=back,
    )


# --- reward slots -------------------------------------------------------------------------


@require_POST
@login_required
def slot_order(request, code: str):
    """A drop posts every slot id in the new order (``slot``); the up/down buttons
    post ``move=<slot id>`` and ``direction=up|down`` (without JavaScript they post
    to ``campaigns:slot_move`` instead, which does the same)."""
    campaign = _campaign(request, code, Verb.EDIT)
    post, error = request.POST, ""
    try:
        if "move" in post:
            try:
                slot = campaign_selectors.slot_get(campaign=campaign, pk=int(post["move"]))
            except ValueError:
                raise Http404 from None
            direction = post.get("direction")
            if direction not in ("up", "down"):
                raise ValidationError(_("Say whether the slot goes up or down."))
            position = slot.position + (-1 if direction == "up" else 1)
            campaign_services.slot_move(actor=request.user, slot=slot, position=position)
        else:
            try:
                ids = [int(value) for value in post.getlist("slot")]
            except ValueError:
                ids = []
            services.slot_order_set(actor=request.user, campaign=campaign, slot_ids=ids)
    except ValidationError as exc:
        error = _refusal(exc)
    campaign.refresh_from_db()
    kind = kinds.get(campaign.kind)
    context = {
        "slots": campaign_selectors.campaign_slots(campaign),
        "kind": kind,
        "editable": True,
        "refusal": campaign_services.edit_refusal(campaign),
        "no_prize_weight": kind.no_prize_weight(campaign),
    }
    back = reverse("campaigns:campaign_edit", args=[campaign.code, "rewards"])
    return _answer(
        request, campaign, error, template="campaigns/partials/campaign_slot_table.html", context=context, back=back
    )


# --- task-chain tasks ---------------------------------------------------------------------


def _task_indexes(values: list[str]) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        return []


def _moved(order: list[int], move: str) -> list[int]:
    """``order`` with the task at row ``i`` swapped with its neighbour, from ``"i:up"`` or ``"i:down"``."""
    row, _sep, direction = move.partition(":")
    try:
        i = int(row)
    except ValueError:
        i = -1
    j = i - 1 if direction == "up" else i + 1 if direction == "down" else -1
    if not (0 <= i < len(order) and 0 <= j < len(order)):
        return order
    order = list(order)
    order[i], order[j] = order[j], order[i]
    return order


def _task_form(campaign: Campaign, post=None, rows: list[int] | None = None):
    """The kind's settings form (unbound) for the stored settings. With ``post`` and
    ``rows`` (the posted rows in their new order), the rows keep what the page had
    in them, unsaved edits included, renumbered to their new places."""
    initial: dict[str, Any] = dict(campaign.kind_settings or {})
    if post is not None and rows is not None:
        if "order" in post:
            initial["order"] = post["order"]
        sources = [*rows, *range(len(rows), MAX_TASKS)]
        for new, old in enumerate(sources):
            for part in ("event", "count", "amount"):
                if f"task_{old}_{part}" in post:
                    initial[f"task_{new}_{part}"] = post[f"task_{old}_{part}"]
    form = kinds.get(campaign.kind).settings_form(None, initial=initial)
    form.campaign = campaign
    return form


@require_POST
@login_required
def task_order(request, code: str):
    """A drop posts the tasks' current indexes in the new order (``task_order``); the
    up/down buttons add ``task_move=<row>:up|down`` (with or without JavaScript:
    without it, they submit the settings form here and are redirected back)."""
    campaign = _campaign(request, code, Verb.EDIT)
    if not hasattr(kinds.get(campaign.kind).settings_form, "task_rows"):
        raise Http404  # only a kind whose settings are a list of tasks has a task order
    order = _task_indexes(request.POST.getlist("task_order"))
    if "task_move" in request.POST:
        order = _moved(order, request.POST["task_move"])
    error = ""
    try:
        campaign = services.task_order_set(actor=request.user, campaign=campaign, order=order)
    except ValidationError as exc:
        error = _refusal(exc)
        campaign.refresh_from_db()
    context = {}
    if is_fragment_request(request):
        form = _task_form(campaign) if error else _task_form(campaign, request.POST, order)
        context = {"form": form, "refusal": campaign_services.edit_refusal(campaign)}
    back = reverse("campaigns:campaign_edit", args=[campaign.code, "settings"])
    return _answer(
        request, campaign, error, template="campaigns/partials/sortable_tasks.html", context=context, back=back
    )


urlpatterns = [
    path("<campaign_code:code>/preview/<slug:channel>/", campaign_preview, name="campaign_preview"),
    path("<campaign_code:code>/landing/blocks/", landing_blocks, name="landing_blocks"),
    path("<campaign_code:code>/slots/order/", slot_order, name="slot_order"),
    path("<campaign_code:code>/tasks/order/", task_order, name="task_order"),
]
