"""Rewards pages: prize pools and prizes, their stock and budget, and coupon codes.

Every page looks its pool or prize up in the user's scope first (404 outside
it); every change also needs MANAGE_POOLS on that object (403 otherwise) and
goes through one service in ``rewards.services``, whose ValidationError is
shown on the form. The pool page carries two ledgers, each with its own
filters (prefixed ``stock-`` and ``budget-``) and page parameter; htmx swaps
just the ledger whose filter or page changed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import Verb, can, require
from config.forms import is_fragment_request, submit
from rewards import selectors, services
from rewards.filters import BudgetMovementFilter, PoolFilter, StockMovementFilter
from rewards.forms import pools as pool_forms
from rewards.models import Fulfilment, MovementKind, Prize, PrizeKind, PrizePool
from rewards.services import codes

PAGE_SIZE = 25
LEDGER_PAGE_SIZE = 20
RECENT_MOVEMENTS = 10
STOCK_LEDGER, BUDGET_LEDGER = "stock-ledger", "budget-ledger"


def _managed_pool(request: HttpRequest, code: str) -> PrizePool:
    pool = selectors.pool_get_for_user(user=request.user, code=code)
    require(request.user, Verb.MANAGE_POOLS, pool)
    return pool


def _managed_prize(request: HttpRequest, pk: int) -> Prize:
    prize = selectors.prize_get_for_user(user=request.user, pk=pk)
    require(request.user, Verb.MANAGE_POOLS, prize)
    return prize


# --- pools -----------------------------------------------------------------------


@require_GET
@login_required
def pool_list(request):
    pool_filter = PoolFilter(
        request.GET, queryset=selectors.pool_list_with_totals(user=request.user), user=request.user
    )
    paginator = Paginator(pool_filter.qs.order_by("code"), PAGE_SIZE)
    context = {
        "filter": pool_filter,
        "page_obj": paginator.get_page(request.GET.get("page")),
        "today": timezone.localdate(),
    }
    template = "rewards/partials/pool_table.html" if is_fragment_request(request) else "rewards/pool_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
def pool_new(request):
    require(request.user, Verb.MANAGE_POOLS)
    form = pool_forms.PoolForm(request.POST or None, user=request.user)
    done, pool = submit(request, form, lambda data: services.pool_create(actor=request.user, **data))
    if done:
        messages.success(request, _("Prize pool “%(name)s” created. Now add its prizes and budget.") % {"name": pool.name})
        return redirect("rewards:pool_detail", code=pool.code)
    return render(request, "rewards/pool_form.html", {"form": form, "pool": None})


def _page_links(request: HttpRequest, page_obj, param: str) -> dict[str, str]:
    def link(number: int) -> str:
        query = request.GET.copy()
        query[param] = str(number)
        return f"?{query.urlencode()}"

    return {
        "previous_url": link(page_obj.previous_page_number()) if page_obj.has_previous() else "",
        "next_url": link(page_obj.next_page_number()) if page_obj.has_next() else "",
    }


def _ledger(request: HttpRequest, ledger_filter, *, param: str, target: str) -> dict[str, Any]:
    page_obj = Paginator(ledger_filter.qs, LEDGER_PAGE_SIZE).get_page(request.GET.get(param))
    return {"filter": ledger_filter, "page_obj": page_obj, "target": target, **_page_links(request, page_obj, param)}


def _stock_ledger(request: HttpRequest, pool: PrizePool) -> dict[str, Any]:
    ledger_filter = StockMovementFilter(
        request.GET, queryset=selectors.stock_ledger(pool=pool), pool=pool, prefix="stock"
    )
    return _ledger(request, ledger_filter, param="stock_page", target=STOCK_LEDGER)


def _budget_ledger(request: HttpRequest, pool: PrizePool) -> dict[str, Any]:
    ledger_filter = BudgetMovementFilter(request.GET, queryset=selectors.budget_ledger(pool=pool), prefix="budget")
    return _ledger(request, ledger_filter, param="budget_page", target=BUDGET_LEDGER)


@require_GET
@login_required
def pool_detail(request, code: str):
    pool = selectors.pool_get_for_user(user=request.user, code=code)
    if is_fragment_request(request) and request.htmx.target == STOCK_LEDGER:
        context = {"pool": pool, "ledger": _stock_ledger(request, pool)}
        return render(request, "rewards/partials/ledger_stock.html", context)
    if is_fragment_request(request) and request.htmx.target == BUDGET_LEDGER:
        context = {"pool": pool, "ledger": _budget_ledger(request, pool)}
        return render(request, "rewards/partials/ledger_budget.html", context)
    summary = selectors.budget_summary(pool=pool)
    context = {
        "pool": pool,
        "prizes": selectors.pool_prizes(pool=pool),
        "budget_rows": [(label, summary[kind]) for kind, label in MovementKind.choices if kind in summary],
        "can_manage": can(request.user, Verb.MANAGE_POOLS, pool),
        "has_targets": selectors.transfer_targets(user=request.user, pool=pool).exists(),
        "today": timezone.localdate(),
        "stock_ledger": _stock_ledger(request, pool),
        "budget_ledger": _budget_ledger(request, pool),
    }
    return render(request, "rewards/pool_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def pool_edit(request, code: str):
    pool = _managed_pool(request, code)
    initial = {"name": pool.name, "valid_from": pool.valid_from, "valid_until": pool.valid_until}
    form = pool_forms.PoolEditForm(request.POST or None, initial=initial)
    done, _pool = submit(request, form, lambda data: services.pool_update(actor=request.user, pool=pool, **data))
    if done:
        messages.success(request, _("Prize pool “%(name)s” saved.") % {"name": pool.name})
        return redirect("rewards:pool_detail", code=pool.code)
    return render(request, "rewards/pool_form.html", {"form": form, "pool": pool})


# --- budget ----------------------------------------------------------------------


def _budget_page(request, pool: PrizePool, form, heading: str) -> HttpResponse:
    return render(request, "rewards/pool_budget_form.html", {"form": form, "pool": pool, "heading": heading})


@require_http_methods(["GET", "POST"])
@login_required
def budget_add(request, code: str):
    pool = _managed_pool(request, code)
    form = pool_forms.BudgetAddForm(request.POST or None)
    done, _movement = submit(
        request, form, lambda data: services.budget_add(actor=request.user, pool=pool, **data)
    )
    if done:
        messages.success(
            request, _("Added ¥%(amount)s to the budget of “%(name)s”.") % {"amount": form.cleaned_data["amount"], "name": pool.name}
        )
        return redirect("rewards:pool_detail", code=pool.code)
    return _budget_page(request, pool, form, _("Add budget"))


@require_http_methods(["GET", "POST"])
@login_required
def budget_transfer(request, code: str):
    pool = _managed_pool(request, code)
    form = pool_forms.BudgetTransferForm(request.POST or None, user=request.user, pool=pool)
    done, _none = submit(
        request,
        form,
        lambda data: services.budget_transfer(
            actor=request.user, source=pool, target=data["target_pool"], amount=data["amount"], reason=data["reason"]
        ),
    )
    if done:
        messages.success(
            request,
            _("Moved ¥%(amount)s of budget to “%(target)s”.")
            % {"amount": form.cleaned_data["amount"], "target": form.cleaned_data["target_pool"].name},
        )
        return redirect("rewards:pool_detail", code=pool.code)
    return _budget_page(request, pool, form, _("Transfer budget"))


# --- prizes ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def prize_new(request, code: str):
    pool = _managed_pool(request, code)
    form = pool_forms.PrizeForm(request.POST or None)
    done, prize = submit(request, form, lambda data: services.prize_create(actor=request.user, pool=pool, **data))
    if done:
        if prize.kind == PrizeKind.COUPON:
            messages.success(request, _("Prize “%(name)s” created. Upload its coupon codes to give it stock.") % {"name": prize.name})
            return redirect("rewards:coupon_upload", pk=prize.pk)
        messages.success(request, _("Prize “%(name)s” created. Now add its stock.") % {"name": prize.name})
        return redirect("rewards:prize_detail", pk=prize.pk)
    return render(request, "rewards/prize_form.html", {"form": form, "pool": pool, "prize": None})


@require_GET
@login_required
def prize_detail(request, pk: int):
    prize = selectors.prize_get_with_counts(user=request.user, pk=pk)
    fulfilment = None
    if prize.kind == PrizeKind.GIFT:
        counts = selectors.fulfilment_counts(prize=prize)
        fulfilment = [(value, label, counts[value]) for value, label in Fulfilment.choices]
    context = {
        "prize": prize,
        "pool": prize.pool,
        "can_manage": can(request.user, Verb.MANAGE_POOLS, prize),
        "can_dispatch": can(request.user, Verb.DISPATCH, prize),
        "has_targets": selectors.transfer_targets(user=request.user, pool=prize.pool).exists(),
        "codes": selectors.coupon_code_counts(prize=prize) if prize.kind == PrizeKind.COUPON else None,
        # Where transferred stock came from, if that pool is in the user's scope too.
        "source_visible": prize.source_prize_id is not None and can(request.user, Verb.VIEW, prize.source_prize),
        "fulfilment": fulfilment,
        "movements": prize.movements.select_related("actor")[:RECENT_MOVEMENTS],
    }
    return render(request, "rewards/prize_detail.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def prize_edit(request, pk: int):
    prize = _managed_prize(request, pk)
    form = pool_forms.PrizeEditForm(request.POST or None, initial={"name": prize.name, "unit_cost": prize.unit_cost})
    done, _prize = submit(request, form, lambda data: services.prize_update(actor=request.user, prize=prize, **data))
    if done:
        messages.success(request, _("Prize “%(name)s” saved.") % {"name": prize.name})
        return redirect("rewards:prize_detail", pk=prize.pk)
    return render(request, "rewards/prize_form.html", {"form": form, "pool": prize.pool, "prize": prize})


# --- stock -----------------------------------------------------------------------


def _stock_page(request, prize: Prize, form, heading: str) -> HttpResponse:
    return render(request, "rewards/prize_stock_form.html", {"form": form, "prize": prize, "heading": heading})


@require_http_methods(["GET", "POST"])
@login_required
def stock_add(request, pk: int):
    prize = _managed_prize(request, pk)
    if request.method == "GET" and prize.kind == PrizeKind.COUPON:
        messages.info(request, _("A coupon prize's stock is its codes: upload codes to add stock."))
        return redirect("rewards:coupon_upload", pk=prize.pk)
    form = pool_forms.StockAddForm(request.POST or None)
    done, _movement = submit(request, form, lambda data: services.stock_add(actor=request.user, prize=prize, **data))
    if done:
        messages.success(
            request, _("Added %(quantity)s to the stock of “%(name)s”.") % {"quantity": form.cleaned_data["quantity"], "name": prize.name}
        )
        return redirect("rewards:prize_detail", pk=prize.pk)
    return _stock_page(request, prize, form, _("Add stock"))


@require_http_methods(["GET", "POST"])
@login_required
def stock_adjust(request, pk: int):
    prize = _managed_prize(request, pk)
    form = pool_forms.StockAdjustForm(request.POST or None)
    done, _movement = submit(
        request,
        form,
        lambda data: services.stock_adjust(
            actor=request.user, prize=prize, delta=data["change"], reason=data["reason"], kind=data["kind"]
        ),
    )
    if done:
        messages.success(
            request, _("Stock of “%(name)s” changed by %(change)+d.") % {"name": prize.name, "change": form.cleaned_data["change"]}
        )
        return redirect("rewards:prize_detail", pk=prize.pk)
    return _stock_page(request, prize, form, _("Adjust stock"))


@require_http_methods(["GET", "POST"])
@login_required
def stock_transfer(request, pk: int):
    prize = _managed_prize(request, pk)
    form = pool_forms.StockTransferForm(request.POST or None, user=request.user, pool=prize.pool)
    done, _target = submit(
        request,
        form,
        lambda data: services.stock_transfer(
            actor=request.user, prize=prize, target_pool=data["target_pool"], quantity=data["quantity"], reason=data["reason"]
        ),
    )
    if done:
        messages.success(
            request,
            _("Moved %(quantity)s of “%(name)s” to “%(target)s”.")
            % {"quantity": form.cleaned_data["quantity"], "name": prize.name, "target": form.cleaned_data["target_pool"].name},
        )
        return redirect("rewards:prize_detail", pk=prize.pk)
    return _stock_page(request, prize, form, _("Transfer stock"))


# --- coupon codes ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def coupon_upload(request, pk: int):
    prize = _managed_prize(request, pk)
    if prize.kind != PrizeKind.COUPON:
        raise Http404
    form = pool_forms.CouponUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = codes.coupon_codes_add(actor=request.user, prize=prize, uploaded_file=form.cleaned_data["file"])
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            if result.ok:
                messages.success(
                    request,
                    _("%(count)s coupon codes added; the stock is now %(stock)s.")
                    % {"count": result.added, "stock": prize.stock_available},
                )
                return redirect("rewards:prize_detail", pk=prize.pk)
    context = {
        "form": form,
        "prize": prize,
        "result": result,
        "codes": selectors.coupon_code_counts(prize=prize),
        "max_bytes": settings.IMPORT_MAX_BYTES,
    }
    return render(request, "rewards/prize_coupon_upload.html", context)


@require_GET
@login_required
def coupon_sample(request):
    response = HttpResponse(codes.coupon_sample_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="coupon-codes-sample.csv"'
    return response


urlpatterns = [
    path("pools/", pool_list, name="pool_list"),
    path("pools/new/", pool_new, name="pool_new"),
    path("pools/<str:code>/", pool_detail, name="pool_detail"),
    path("pools/<str:code>/edit/", pool_edit, name="pool_edit"),
    path("pools/<str:code>/prizes/new/", prize_new, name="prize_new"),
    path("pools/<str:code>/budget/add/", budget_add, name="budget_add"),
    path("pools/<str:code>/budget/transfer/", budget_transfer, name="budget_transfer"),
    path("prizes/codes/sample.csv", coupon_sample, name="coupon_sample"),
    path("prizes/<int:pk>/", prize_detail, name="prize_detail"),
    path("prizes/<int:pk>/edit/", prize_edit, name="prize_edit"),
    path("prizes/<int:pk>/stock/add/", stock_add, name="stock_add"),
    path("prizes/<int:pk>/stock/adjust/", stock_adjust, name="stock_adjust"),
    path("prizes/<int:pk>/stock/transfer/", stock_transfer, name="stock_transfer"),
    path("prizes/<int:pk>/codes/", coupon_upload, name="coupon_upload"),
]
