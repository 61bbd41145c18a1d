"""Rewards pages: grants, their manual resolution, and the audit per customer and per pool.

Every action is a POST to its own URL that calls one service. A refused action
(the grant moved on meanwhile, a missing reason) re-renders the grant page with
the message on the form and changes nothing; a success redirects back to it.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import Verb, can, require
from audiences import selectors as audience_selectors
from config.forms import is_fragment_request
from rewards import selectors
from rewards.filters import GrantFilter
from rewards.forms.grants import FulfilmentForm, HistoryFilterForm, ReasonForm
from rewards.models import Grant, GrantStatus, PrizeKind
from rewards.services import ledger, resolution

PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50
CUSTOMER_GRANTS_PAGE_SIZE = 25
REVOCABLE = (GrantStatus.PENDING, GrantStatus.FAILED, GrantStatus.DELIVERED)


# --- the list -------------------------------------------------------------------


@require_GET
@login_required
def grant_list(request):
    scoped = selectors.grant_list(user=request.user)
    grant_filter = GrantFilter(request.GET, queryset=scoped, user=request.user)
    # The chips count by status under every other filter, so each says what clicking it shows.
    without_status = request.GET.copy()
    without_status.pop("status", None)
    without_status.pop("page", None)
    counted = GrantFilter(without_status, queryset=scoped, user=request.user).qs
    counts = selectors.grant_status_counts(counted)
    paginator = Paginator(grant_filter.qs.order_by("-created_at", "-pk"), PAGE_SIZE)
    context = {
        "filter": grant_filter,
        "page_obj": paginator.get_page(request.GET.get("page")),
        "status_chips": [(value, label, counts.get(value, 0)) for value, label in GrantStatus.choices],
        "total": sum(counts.values()),
        "current_status": grant_filter.form.cleaned_data.get("status") if grant_filter.is_valid() else "",
    }
    template = "rewards/partials/grant_table.html" if is_fragment_request(request) else "rewards/grant_list.html"
    return render(request, template, context)


# --- one grant and its actions ----------------------------------------------------


def _grant(request: HttpRequest, pk: int) -> Grant:
    """The grant if it is in the user's scope; 404 otherwise (existence never leaks)."""
    return selectors.grant_get_for_user(user=request.user, pk=pk)


def _actions(request: HttpRequest, grant: Grant) -> dict:
    """Which actions this user may take on this grant now."""
    failed = grant.status == GrantStatus.FAILED
    return {
        "retry": failed and can(request.user, Verb.DISPATCH, grant),
        "mark_delivered": failed and can(request.user, Verb.MANAGE_POOLS, grant),
        "revoke": grant.status in REVOCABLE and can(request.user, Verb.MANAGE_POOLS, grant),
        "fulfilment": bool(resolution.fulfilment_next(grant)) and can(request.user, Verb.DISPATCH, grant),
    }


def _forms(grant: Grant) -> dict:
    return {
        "retry": ReasonForm(prefix="retry", help_text=_("Why it is sent again, e.g. the account was unblocked.")),
        "mark_delivered": ReasonForm(
            prefix="delivered", help_text=_("How the delivery was confirmed, e.g. a core-system reference.")
        ),
        "revoke": ReasonForm(prefix="revoke", help_text=_("The unit returns to stock and the cost to the budget.")),
        "fulfilment": FulfilmentForm(prefix="fulfilment", allowed=resolution.fulfilment_next(grant)),
    }


def _detail(request: HttpRequest, grant: Grant, *, posted: str | None = None, form=None, status: int = 200):
    forms = _forms(grant)
    actions = _actions(request, grant)
    refused = []
    if posted is not None:
        if posted == "fulfilment":
            form.offer(resolution.fulfilment_next(grant))
        forms[posted] = form
        refused = list(form.non_field_errors())
        if not actions[posted]:
            # The grant moved on and its form is gone: say here what was wrong.
            refused += [error for name, errors in form.errors.items() if name != NON_FIELD_ERRORS for error in errors]
    context = {
        "grant": grant,
        "is_gift": grant.prize.kind == PrizeKind.GIFT,
        "coupon_code": selectors.grant_coupon_code_masked(grant=grant)
        if grant.prize.kind == PrizeKind.COUPON
        else None,
        "deliveries": grant.deliveries.all(),
        "stock_movements": selectors.grant_stock_movements(grant=grant),
        "budget_movements": selectors.grant_budget_movements(grant=grant),
        "audit_rows": [
            selectors.HistoryRow(entry) for entry in selectors.grant_audit_entries(user=request.user, grant=grant)
        ],
        "actions": actions,
        "forms": forms,
        "refused": refused,
    }
    return render(request, "rewards/grant_detail.html", context, status=status)


@require_GET
@login_required
def grant_detail(request, pk: int):
    grant = _grant(request, pk)
    return _detail(request, grant)


def _act(request: HttpRequest, pk: int, *, name: str, verb: str, form, run, done: str):
    """Scope, role, form, service — then back to the grant, or the page with the error on the form."""
    grant = _grant(request, pk)
    require(request.user, verb, grant)
    form = form(grant)
    if form.is_valid():
        try:
            run(grant, form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, done)
            return redirect("rewards:grant_detail", pk=grant.pk)
    grant.refresh_from_db()
    return _detail(request, grant, posted=name, form=form, status=422)


@require_POST
@login_required
def grant_retry(request, pk: int):
    return _act(
        request, pk, name="retry", verb=Verb.DISPATCH,
        form=lambda grant: ReasonForm(request.POST, prefix="retry"),
        run=lambda grant, data: resolution.grant_retry(actor=request.user, grant=grant, reason=data["reason"]),
        done=_("The grant is queued for delivery again."),
    )


@require_POST
@login_required
def grant_mark_delivered(request, pk: int):
    return _act(
        request, pk, name="mark_delivered", verb=Verb.MANAGE_POOLS,
        form=lambda grant: ReasonForm(request.POST, prefix="delivered"),
        run=lambda grant, data: resolution.grant_mark_delivered(
            actor=request.user, grant=grant, reason=data["reason"]
        ),
        done=_("The grant is marked delivered."),
    )


@require_POST
@login_required
def grant_revoke(request, pk: int):
    return _act(
        request, pk, name="revoke", verb=Verb.MANAGE_POOLS,
        form=lambda grant: ReasonForm(request.POST, prefix="revoke"),
        run=lambda grant, data: ledger.grant_revoke(actor=request.user, grant=grant, reason=data["reason"]),
        done=_("The grant is revoked; its unit and cost are back in the pool."),
    )


@require_POST
@login_required
def grant_fulfilment(request, pk: int):
    # Every reachable state is a valid choice here, so a change that lost a race
    # gets the service's message ("a gift that is shipped cannot be …"), not a bare
    # "not one of the choices".
    return _act(
        request, pk, name="fulfilment", verb=Verb.DISPATCH,
        form=lambda grant: FulfilmentForm(request.POST, prefix="fulfilment", allowed=tuple(resolution.FULFILMENT_FROM)),
        run=lambda grant, data: resolution.grant_fulfilment_set(
            actor=request.user, grant=grant, status=data["status"], reason=data["reason"]
        ),
        done=_("The gift's fulfilment status is updated."),
    )


# --- audit per customer and per pool ------------------------------------------------


@require_GET
@login_required
def customer_rewards(request, ref: str):
    customer = audience_selectors.customer_get_for_user(user=request.user, customer_ref=ref)
    grants = Paginator(
        selectors.customer_grants(user=request.user, customer=customer).order_by("-created_at", "-pk"),
        CUSTOMER_GRANTS_PAGE_SIZE,
    )
    history = Paginator(selectors.customer_history(user=request.user, customer=customer), HISTORY_PAGE_SIZE)
    context = {
        "customer": customer,
        "page_obj": grants.get_page(request.GET.get("page")),
        "history_page": history.get_page(request.GET.get("hpage")),
        "history_page_param": "hpage",
        "history_id": "customer-history",
    }
    if is_fragment_request(request) and request.htmx.target == "customer-history":
        return render(request, "rewards/partials/history_table.html", context)
    if is_fragment_request(request) and request.htmx.target == "customer-grants":
        return render(request, "rewards/partials/grant_customer_table.html", context)
    return render(request, "rewards/customer_rewards.html", context)


@require_GET
@login_required
def pool_history(request, code: str):
    pool = selectors.pool_get_for_user(user=request.user, code=code)
    form = HistoryFilterForm(request.GET or None)
    history = Paginator(selectors.pool_history(user=request.user, pool=pool, **form.filters()), HISTORY_PAGE_SIZE)
    context = {
        "pool": pool,
        "filter": SimpleNamespace(form=form, errors=form.errors if form.is_bound else {}),
        "history_page": history.get_page(request.GET.get("page")),
        "history_page_param": "page",
        "history_id": "history-table",
    }
    if is_fragment_request(request):
        return render(request, "rewards/partials/history_table.html", context)
    return render(request, "rewards/pool_history.html", context)


urlpatterns = [
    path("grants/", grant_list, name="grant_list"),
    path("grants/<int:pk>/", grant_detail, name="grant_detail"),
    path("grants/<int:pk>/retry/", grant_retry, name="grant_retry"),
    path("grants/<int:pk>/mark-delivered/", grant_mark_delivered, name="grant_mark_delivered"),
    path("grants/<int:pk>/revoke/", grant_revoke, name="grant_revoke"),
    path("grants/<int:pk>/fulfilment/", grant_fulfilment, name="grant_fulfilment"),
    path("customers/<str:ref>/", customer_rewards, name="customer_rewards"),
    path("pools/<str:code>/history/", pool_history, name="pool_history"),
]
