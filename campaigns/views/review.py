"""Campaign pages: the review queue, the lifecycle actions (submit, withdraw,
approve, reject, pause, resume, end), the forecast and the history.

Every action is one POST URL that works without JavaScript (it redirects to
the campaign with a message); with htmx it answers with the lifecycle panel,
swapped in place, showing what happened or what stops it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Verb, can, require
from campaigns.forms.review import DecisionForm, RejectForm, ReviewFilter
from campaigns.selectors import forecast, review
from campaigns.services import lifecycle

PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50
PANEL = "campaigns/partials/lifecycle_panel.html"


def _require_operator(request, campaign) -> None:
    if not (can(request.user, Verb.EDIT, campaign) or can(request.user, Verb.APPROVE, campaign)):
        raise PermissionDenied


def _respond(request, campaign, *, notice: str = "", problems: list[str] | None = None):
    """htmx: the lifecycle panel, swapped in place; otherwise back to the campaign with messages."""
    if request.htmx:
        campaign.refresh_from_db()
        context = {"lifecycle": review.lifecycle_context(request.user, campaign, problems=problems, notice=notice)}
        return render(request, PANEL, context)
    if problems:
        for problem in problems:
            messages.error(request, problem)
    elif notice:
        messages.success(request, notice)
    return redirect("campaigns:campaign_detail", campaign.code)


def _act(request, campaign, action, notice: str, **kwargs):
    try:
        action(actor=request.user, campaign=campaign, **kwargs)
    except ValidationError as exc:
        return _respond(request, campaign, problems=exc.messages)
    return _respond(request, campaign, notice=notice)


def _reason(request) -> str:
    form = DecisionForm(request.POST)
    return form.cleaned_data["reason"] if form.is_valid() else ""


# ------------------------------------------------------------------ the queue


@require_GET
@login_required
def review_queue(request):
    user = request.user
    require(request.user, Verb.APPROVE)
    review_filter = ReviewFilter(request.GET or None, queryset=review.review_queue(user=user), user=user)
    paginator = Paginator(review_filter.qs, PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    page_obj.object_list = review.kind_labels(page_obj.object_list)
    context = {"filter": review_filter, "page_obj": page_obj}
    if request.htmx:
        return render(request, "campaigns/partials/review_table.html", context)
    context["waiting"] = list(review.review_waiting(user=user)[:PAGE_SIZE])
    return render(request, "campaigns/review_queue.html", context)


# ------------------------------------------------------------------ actions


@require_POST
@login_required
def campaign_submit(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.SUBMIT, campaign)
    try:
        lifecycle.campaign_submit(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        heading = _("The campaign cannot be submitted yet:")
        return _respond(request, campaign, problems=[heading, *exc.messages] if not request.htmx else exc.messages)
    return _respond(request, campaign, notice=_("Submitted: the campaign waits for someone else's approval."))


@require_POST
@login_required
def campaign_withdraw(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    return _act(
        request, campaign, lifecycle.campaign_withdraw, _("Withdrawn from review: you can change it again."),
        reason=_reason(request),
    )


@require_POST
@login_required
def campaign_approve(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.APPROVE, campaign)
    return _act(
        request, campaign, lifecycle.campaign_approve,
        _("Approved: stock is reserved, the audience is frozen and the start is scheduled."),
        reason=_reason(request),
    )


@require_POST
@login_required
def campaign_reject(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.APPROVE, campaign)
    form = RejectForm(request.POST)
    # An empty reason reaches the service, which refuses one's own revision before it asks for a reason.
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(request, campaign, lifecycle.campaign_reject, _("Rejected: the maker sees your reason."), reason=reason)


@require_POST
@login_required
def campaign_pause(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    _require_operator(request, campaign)
    return _act(request, campaign, lifecycle.campaign_pause, _("Paused: customers are not served until it resumes."),
                reason=_reason(request))


@require_POST
@login_required
def campaign_resume(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    _require_operator(request, campaign)
    return _act(request, campaign, lifecycle.campaign_resume, _("Resumed: the campaign is live again."),
                reason=_reason(request))


@require_POST
@login_required
def campaign_end(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    _require_operator(request, campaign)
    return _act(request, campaign, lifecycle.campaign_end, _("Ended: what was not given out is back in stock."),
                reason=_reason(request))


# ------------------------------------------------------------------ reading


@require_GET
@login_required
def campaign_forecast(request, code: str):
    """The forecast panel (htmx, e.g. after a budget or slot change); otherwise the campaign."""
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    if not request.htmx:
        return redirect("campaigns:campaign_detail", campaign.code)
    return render(
        request, "campaigns/partials/forecast_panel.html", {"forecast": forecast.forecast(campaign, user=request.user)}
    )


@require_GET
@login_required
def campaign_history(request, code: str):
    campaign = review.campaign_get_for_user(user=request.user, code=code)
    audit = Paginator(review.campaign_audit(user=request.user, campaign=campaign), AUDIT_PAGE_SIZE)
    page_obj = audit.get_page(request.GET.get("page"))
    page_obj.object_list = review.audit_rows(page_obj.object_list)
    context = {
        "campaign": campaign,
        "revisions": review.campaign_revisions(campaign),
        "unsubmitted": review.working_copy_changes(campaign),
        "page_obj": page_obj,
    }
    return render(request, "campaigns/campaign_history.html", context)


urlpatterns = [
    path("review/", review_queue, name="review_queue"),
    path("<str:code>/submit/", campaign_submit, name="campaign_submit"),
    path("<str:code>/withdraw/", campaign_withdraw, name="campaign_withdraw"),
    path("<str:code>/approve/", campaign_approve, name="campaign_approve"),
    path("<str:code>/reject/", campaign_reject, name="campaign_reject"),
    path("<str:code>/pause/", campaign_pause, name="campaign_pause"),
    path("<str:code>/resume/", campaign_resume, name="campaign_resume"),
    path("<str:code>/end/", campaign_end, name="campaign_end"),
    path("<str:code>/forecast/", campaign_forecast, name="campaign_forecast"),
    path("<str:code>/history/", campaign_history, name="campaign_history"),
]
