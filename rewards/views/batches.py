"""Rewards pages: manual dispatch batches — choose, preview, confirm, approve,
watch the job and download its report."""

from __future__ import annotations

from itertools import islice

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Verb, can, require
from audiences.models import Customer
from rewards import selectors
from rewards.filters import BatchFilter
from rewards.forms.batches import BatchForm, ConfirmForm, DecisionForm, preview_token
from rewards.models import BatchSelection, BatchStatus, GrantStatus
from rewards.services import batches

PAGE_SIZE = 25
SAMPLE_SIZE = 20
# Grants not yet in a final state: the report keeps refreshing while any are.
DELIVERING = (GrantStatus.PENDING, GrantStatus.DISPATCHING)
GRANT_STATUSES = (GrantStatus.PENDING, GrantStatus.DISPATCHING, GrantStatus.DELIVERED, GrantStatus.FAILED)


# ------------------------------------------------------------------ list


@require_GET
@login_required
def batch_list(request):
    user = request.user
    batch_filter = BatchFilter(request.GET or None, queryset=selectors.batch_list(user=user), user=user)
    paginator = Paginator(batch_filter.qs, PAGE_SIZE)
    context = {
        "filter": batch_filter,
        "page_obj": paginator.get_page(request.GET.get("page")),
        "can_dispatch": can(user, Verb.DISPATCH),
    }
    if request.htmx:
        return render(request, "rewards/partials/batch_table.html", context)
    if can(user, Verb.APPROVE):
        context["awaiting"] = list(selectors.batch_awaiting_approval(user=user)[:PAGE_SIZE])
    return render(request, "rewards/batch_list.html", context)


# ------------------------------------------------------------------ choose and preview


def _int_list(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()][:1000]


def _customer_choice(user, *, q: str, picked_ids: list[int]) -> dict:
    """The ticked customers (in scope only) and the search matches not yet ticked."""
    picked = list(Customer.objects.visible_to(user).filter(pk__in=picked_ids).select_related("branch"))
    matches = selectors.batch_customer_search(user=user, q=q).exclude(pk__in=[c.pk for c in picked])
    results = list(matches[: selectors.BATCH_SEARCH_LIMIT + 1])
    return {
        "q": q,
        "picked": picked,
        "results": results[: selectors.BATCH_SEARCH_LIMIT],
        "more_results": len(results) > selectors.BATCH_SEARCH_LIMIT,
        "limit": selectors.BATCH_SEARCH_LIMIT,
    }


def _render_new(request, form, *, q: str, picked_ids: list[int]):
    context = {"form": form, **_customer_choice(request.user, q=q, picked_ids=picked_ids)}
    return render(request, "rewards/batch_new.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def batch_new(request):
    """The choice form; ``?prize=`` preselects a prize. Its Search button posts
    here (without htmx) to list matches while keeping what was entered."""
    require(request.user, Verb.DISPATCH)
    data = request.POST if request.method == "POST" else request.GET
    initial = {key: data[key] for key in ("prize", "reason", "way", "q", "segment") if data.get(key)}
    form = BatchForm(initial=initial, user=request.user)
    return _render_new(request, form, q=data.get("q", "").strip(), picked_ids=_int_list(data.getlist("customers")))


@require_GET
@login_required
def batch_customers(request):
    """The customer search's results (htmx); without htmx, the whole page."""
    require(request.user, Verb.DISPATCH)
    if not request.htmx:
        return redirect(f"{reverse('rewards:batch_new')}?{request.GET.urlencode()}")
    context = _customer_choice(
        request.user, q=request.GET.get("q", "").strip(), picked_ids=_int_list(request.GET.getlist("customers"))
    )
    return render(request, "rewards/partials/batch_customer_results.html", context)


def _preview_context(*, prize, members, label: str, way: str, reason: str, problems=(), problem_count=0) -> dict:
    sample_ids = list(islice(members, SAMPLE_SIZE))
    return {
        "prize": prize,
        "check": selectors.batch_check(prize=prize, count=len(members)),
        "sample": Customer.objects.filter(pk__in=sample_ids).select_related("branch").order_by("customer_ref"),
        "selection_label": label,
        "selection_display": BatchSelection(way).label,
        "reason": reason,
        "problems": problems,
        "problem_count": problem_count,
    }


@require_POST
@login_required
def batch_preview(request):
    """Check the choice and show what the batch would do; nothing is written."""
    require(request.user, Verb.DISPATCH)
    form = BatchForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _render_new(
            request, form, q=request.POST.get("q", "").strip(), picked_ids=_int_list(request.POST.getlist("customers"))
        )
    prize = form.cleaned_data["prize"]
    require(request.user, Verb.DISPATCH, prize)
    context = _preview_context(
        prize=prize, members=form.members, label=form.selection_label, way=form.cleaned_data["way"],
        reason=form.cleaned_data["reason"], problems=form.problems, problem_count=form.problem_count,
    )
    context["token"] = preview_token(user=request.user, prize=prize, form=form)
    return render(request, "rewards/batch_preview.html", context)


@require_POST
@login_required
def batch_confirm(request):
    require(request.user, Verb.DISPATCH)
    form = ConfirmForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("token", [_("Choose the customers again.")])))
        return redirect("rewards:batch_new")
    data = form.cleaned_data["token"]
    prize = selectors.prize_get_for_user(user=request.user, pk=data["prize"])
    require(request.user, Verb.DISPATCH, prize)
    try:
        batch = batches.batch_create(
            actor=request.user, prize=prize, customer_ids=data["members"], selection=data["way"],
            selection_label=data["label"], reason=data["reason"], request_id=data["request"],
        )
    except ValidationError as exc:
        context = _preview_context(
            prize=prize, members=data["members"], label=data["label"], way=data["way"], reason=data["reason"]
        )
        context.update(token=request.POST["token"], confirm_errors=exc.messages)
        return render(request, "rewards/batch_preview.html", context)
    if batch.status == BatchStatus.AWAITING_APPROVAL:
        messages.info(request, _("The batch costs more than the approval limit: it waits for approval by someone else."))
    else:
        messages.success(request, _("The dispatch has started."))
    return redirect("rewards:batch_detail", pk=batch.pk)


# ------------------------------------------------------------------ one batch


def _status_context(request, batch, **extra) -> dict:
    user = request.user
    stuck = selectors.batch_stuck(batch=batch)
    grant_counts = selectors.batch_grant_counts(batch=batch)
    in_flight = batch.status in selectors.BATCH_IN_FLIGHT
    delivering = any(grant_counts.get(status) for status in DELIVERING)
    counts = batch.summary.get("counts") or {}
    is_creator = batch.created_by_id == user.pk
    awaiting = batch.status == BatchStatus.AWAITING_APPROVAL
    return {
        "batch": batch,
        "progress": selectors.batch_progress_get(batch=batch),
        "stuck": stuck,
        "can_resume": (stuck or batch.status == BatchStatus.FAILED) and can(user, Verb.DISPATCH, batch),
        "is_creator": is_creator,
        "can_decide": awaiting and not is_creator and can(user, Verb.APPROVE, batch),
        "outcomes": [
            (key, label, counts.get(key, 0))
            for key, label in batches.OUTCOMES.items()
            if counts.get(key) or key == "granted"
        ],
        "grant_counts": [(s, GrantStatus(s).label, grant_counts.get(s, 0)) for s in GRANT_STATUSES],
        "revoked": grant_counts.get(GrantStatus.REVOKED, 0),
        "delivering": delivering,
        # A stuck batch does not move on by itself: stop asking until it is resumed.
        "polling": (in_flight and not stuck) or (batch.status == BatchStatus.DONE and delivering),
        "decision_form": DecisionForm(),
        **extra,
    }


@require_GET
@login_required
def batch_detail(request, pk: int):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    return render(request, "rewards/batch_detail.html", _status_context(request, batch))


@require_GET
@login_required
def batch_progress(request, pk: int):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    if not request.htmx:
        return redirect("rewards:batch_detail", pk=batch.pk)
    return render(request, "rewards/partials/batch_progress.html", _status_context(request, batch))


@require_GET
@login_required
def batch_report(request, pk: int):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    require(request.user, Verb.EXPORT, batch)
    if not batch.report:
        raise Http404
    return FileResponse(
        batch.report.open("rb"), as_attachment=True, filename=f"dispatch-{batch.pk}-report.csv",
        content_type="text/csv; charset=utf-8",
    )


def _decide(request, pk: int, action, success: str):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    require(request.user, Verb.APPROVE, batch)
    if batch.created_by_id == request.user.pk:
        raise PermissionDenied
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("reason", [])))
        return redirect("rewards:batch_detail", pk=batch.pk)
    try:
        action(actor=request.user, batch=batch, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect("rewards:batch_detail", pk=batch.pk)


@require_POST
@login_required
def batch_approve(request, pk: int):
    return _decide(request, pk, batches.batch_approve, _("The batch is approved; the dispatch has started."))


@require_POST
@login_required
def batch_reject(request, pk: int):
    return _decide(request, pk, batches.batch_reject, _("The batch is rejected; nothing was granted."))


@require_POST
@login_required
def batch_resume(request, pk: int):
    batch = selectors.batch_get_for_user(user=request.user, pk=pk)
    require(request.user, Verb.DISPATCH, batch)
    try:
        batches.batch_resume(actor=request.user, batch=batch)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The batch runs again; nobody is granted twice."))
    return redirect("rewards:batch_detail", pk=batch.pk)


urlpatterns = [
    path("dispatch/", batch_list, name="batch_list"),
    path("dispatch/new/", batch_new, name="batch_new"),
    path("dispatch/customers/", batch_customers, name="batch_customers"),
    path("dispatch/preview/", batch_preview, name="batch_preview"),
    path("dispatch/confirm/", batch_confirm, name="batch_confirm"),
    path("dispatch/<int:pk>/", batch_detail, name="batch_detail"),
    path("dispatch/<int:pk>/progress/", batch_progress, name="batch_progress"),
    path("dispatch/<int:pk>/report/", batch_report, name="batch_report"),
    path("dispatch/<int:pk>/approve/", batch_approve, name="batch_approve"),
    path("dispatch/<int:pk>/reject/", batch_reject, name="batch_reject"),
    path("dispatch/<int:pk>/resume/", batch_resume, name="batch_resume"),
]
