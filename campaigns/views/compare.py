"""Campaign results and the side-by-side comparison (DESIGN.md §4 analysis, across campaigns).

``campaigns/compare/`` lists every campaign in the user's scope that has an
analysis with its stored key figures (``CampaignResult``): filtered by a
``ResultFilter``, sorted by a whitelisted ``sort`` key, paginated, htmx
swapping the table, exported as CSV or XLSX. Ticking two to four campaigns
opens ``campaigns/compare/view/?c=CODE&c=CODE``: each campaign through the
analysis cache, key figures with the best of each row marked, funnel shares,
participants by day of the campaign, uplift and retention, the key figures
exported as CSV or XLSX.

Every role in scope may view (Verb.VIEW) and export (Verb.EXPORT). A code
unknown or outside the scope answers 404 with the same message (existence
never leaks); too few, too many or repeated codes answer 400. Nothing is
computed before every code has passed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from accounts.permissions import Verb, require
from audiences import exports
from campaigns import kinds
from campaigns.filters import ResultFilter
from campaigns.models import Campaign
from campaigns.selectors import results
from campaigns.views import analysis as analysis_views
from config.forms import is_fragment_request

PAGE_SIZE = 25
FORMATS = ("csv", "xlsx")
KPI_TABLE = "kpis"
# Sorted biggest (or latest) first on the first click; the code A to Z.
ASCENDING_FIRST = {"code"}


# --- values --------------------------------------------------------------------------


def _number(value: float | int, decimals: int) -> str:
    return formats.number_format(round(value, decimals), decimals, force_grouping=True)


def shown(value: Any, kind: str) -> str:
    """A figure as the pages show it, in the reader's language and time zone."""
    if value is None:
        return "—"
    if kind == "int":
        return _number(value, 0)
    if kind == "money":
        return _number(value, 2)
    if kind == "share":
        return f"{_number(value * 100, 1)} %"
    if kind == "points":
        text = _number(value * 100, 1)
        return f"+{text}" if value > 0 else text
    if kind == "flag":
        return _("yes") if value else _("no")
    if kind == "time":
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    return str(value)


def exported(value: Any, kind: str) -> Any:
    """A figure as the exports keep it: raw numbers (money in yuan, shares and
    uplift as fractions) a spreadsheet can compute with."""
    if value is None:
        return None
    if kind == "money":
        return float(value)
    if kind == "flag":
        return _("yes") if value else _("no")
    return value


def _better(metric: results.Metric) -> str:
    if metric.better == results.HIGHER:
        return _("higher")
    if metric.better == results.LOWER:
        return _("lower")
    return ""


def _refused_format(kind: str) -> HttpResponse:
    return HttpResponseBadRequest(
        _("Unknown format “%(format)s”. Formats: %(known)s.") % {"format": kind, "known": ", ".join(FORMATS)},
        content_type="text/plain; charset=utf-8",
    )


# --- the results list ----------------------------------------------------------------


def _columns(sort: str) -> list[dict[str, Any]]:
    """The sortable headings: what clicking each one sorts by next, and the current order."""
    current, descending = sort.removeprefix("-"), sort.startswith("-")
    headings = [("code", _("Campaign"), False), ("starts_at", _("Window"), False)] + [
        (metric.name, metric.label, metric.kind != "time") for metric in results.LIST_METRICS
    ]
    columns = []
    for key, label, numeric in headings:
        if key == current:
            state = "descending" if descending else "ascending"
            following = key if descending else f"-{key}"
        else:
            state = None
            following = key if key in ASCENDING_FIRST else f"-{key}"
        columns.append({"key": key, "label": label, "numeric": numeric, "state": state, "next": following})
    return columns


def _list_rows(campaigns) -> list[dict[str, Any]]:
    labels = dict(kinds.choices())
    rows = []
    for campaign in campaigns:
        result = results.stored_result(campaign)
        cells = []
        if result is not None:
            for metric in results.LIST_METRICS:
                cells.append(
                    {
                        "name": metric.name,
                        "text": shown(getattr(result, metric.name), metric.kind),
                        # "gain" or "drop" for a significant uplift, "" otherwise.
                        "significant": (
                            ("gain" if (result.uplift or 0) > 0 else "drop")
                            if metric.name == "uplift" and result.uplift_significant
                            else ""
                        ),
                    }
                )
        rows.append(
            {"campaign": campaign, "kind_label": labels.get(campaign.kind, campaign.kind), "result": result, "cells": cells}
        )
    return rows


def _list_export(request: HttpRequest, campaigns) -> HttpResponse:
    require(request.user, Verb.EXPORT)
    kind = request.GET.get("export", "")
    if kind not in FORMATS:
        return _refused_format(kind)
    labels = dict(kinds.choices())
    header = [
        _("Code"), _("Name"), _("Kind"), _("Owner branch"), _("Status"), _("Starts at"), _("Ends at"),
        *[str(metric.label) for metric in results.LIST_METRICS], _("Uplift significant"),
    ]

    def rows():
        # Iterated while the file is written: the list is read in chunks, not held whole.
        for campaign in campaigns.iterator(chunk_size=500):
            result = results.stored_result(campaign)
            figures = [
                exported(getattr(result, metric.name), metric.kind) if result else None
                for metric in results.LIST_METRICS
            ]
            yield [
                campaign.code, campaign.name, str(labels.get(campaign.kind, campaign.kind)), campaign.owner_branch.code,
                str(campaign.get_status_display()), timezone.localtime(campaign.starts_at).replace(tzinfo=None),
                timezone.localtime(campaign.ends_at).replace(tzinfo=None),
                *[
                    timezone.localtime(value).replace(tzinfo=None) if metric.kind == "time" and value else value
                    for metric, value in zip(results.LIST_METRICS, figures, strict=True)
                ],
                exported(result.uplift_significant, "flag") if result else None,
            ]

    filename = f"campaign-results.{kind}"
    if kind == "csv":
        return exports.csv_response(header, rows(), filename=filename)
    return exports.xlsx_response(header, rows(), filename=filename, title=_("Campaign results"))


@require_GET
@login_required
def result_list(request: HttpRequest) -> HttpResponse:
    require(request.user, Verb.VIEW)
    result_filter = ResultFilter(request.GET, queryset=results.result_list(user=request.user), user=request.user)
    campaigns, sort = results.result_sort(result_filter.qs, request.GET.get("sort"))
    if "export" in request.GET:
        return _list_export(request, campaigns)
    page_obj = Paginator(campaigns, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filter": result_filter,
        "page_obj": page_obj,
        "rows": _list_rows(page_obj),
        "columns": _columns(sort),
        "sort": sort,
        "compare_min": results.COMPARE_MIN,
        "compare_max": results.COMPARE_MAX,
    }
    template = "campaigns/partials/results_table.html" if is_fragment_request(request) else "campaigns/results.html"
    return render(request, template, context)


# --- the comparison ------------------------------------------------------------------


def _kpi_export(request: HttpRequest, comparison: results.Comparison) -> HttpResponse:
    require(request.user, Verb.EXPORT)
    name, kind = request.GET.get("export", ""), request.GET.get("format", "csv")
    if name != KPI_TABLE:
        return HttpResponseBadRequest(
            _("Unknown table “%(name)s”. Tables: %(known)s.") % {"name": name, "known": KPI_TABLE},
            content_type="text/plain; charset=utf-8",
        )
    if kind not in FORMATS:
        return _refused_format(kind)
    codes = [campaign.code for campaign in comparison.campaigns]
    header = [_("Figure"), _("Better"), *codes]
    rows = [
        [str(row.metric.label), _better(row.metric), *[exported(value, row.metric.kind) for value in row.values]]
        for row in comparison.kpis
    ]
    filename = f"compare-{'-vs-'.join(codes)}.{kind}"
    if kind == "csv":
        return exports.csv_response(header, rows, filename=filename)
    return exports.xlsx_response(header, rows, filename=filename, title=_("Key figures"))


def _uplift_rows(comparison: results.Comparison) -> list[dict[str, Any]]:
    rows = []
    for campaign, uplift in zip(comparison.campaigns, comparison.uplifts, strict=True):
        row: dict[str, Any] = {"campaign": campaign, "uplift": uplift}
        if uplift is not None:
            row.update(
                treatment_rate=shown(uplift.treatment_rate, "share"), control_rate=shown(uplift.control_rate, "share"),
                difference=shown(uplift.difference, "points"), ci_low=shown(uplift.ci_low, "points"),
                ci_high=shown(uplift.ci_high, "points"), significant=uplift.significant,
                positive=uplift.difference > 0,
            )
        rows.append(row)
    return rows


def _chart_data(comparison: results.Comparison) -> dict[str, Any]:
    codes = [campaign.code for campaign in comparison.campaigns]

    def percent(value: float | None) -> float | None:
        return None if value is None else round(value * 100, 2)

    return {
        "campaigns": codes,
        "funnel": {
            "stages": [str(analysis_views.STAGES[row["stage"]]) for row in comparison.funnel],
            "series": [
                {"name": code, "data": [percent(row["shares"][position]) for row in comparison.funnel]}
                for position, code in enumerate(codes)
            ],
            "axis": _("%% of the audience") % {},
        },
        "daily": {
            "days": comparison.days,
            "series": [
                {"name": code, "data": values}
                for code, values in zip(codes, comparison.participants_by_day, strict=True)
            ],
            "dayAxis": _("Day of the campaign"),
            "countAxis": _("New participants"),
        },
        "uplift": {
            "names": codes,
            "intervals": [
                None if uplift is None else [percent(uplift.ci_low), percent(uplift.ci_high)]
                for uplift in comparison.uplifts
            ],
            "points": [None if uplift is None else percent(uplift.difference) for uplift in comparison.uplifts],
            "axis": _("Percentage points"),
            "interval": _("95 %% confidence interval") % {},
            "estimate": _("Uplift"),
        },
        "retention": {
            "days": [
                ngettext("after %(days)d day", "after %(days)d days", row["days"]) % {"days": row["days"]}
                for row in comparison.retention
            ],
            "series": [
                {"name": code, "data": [percent(row["shares"][position]) for row in comparison.retention]}
                for position, code in enumerate(codes)
            ],
            "axis": _("%% of participants active again") % {},
        },
    }


@require_GET
@login_required
def campaign_compare(request: HttpRequest) -> HttpResponse:
    require(request.user, Verb.VIEW)
    try:
        campaigns: list[Campaign] = results.compare_campaigns(user=request.user, codes=request.GET.getlist("c"))
    except results.ComparisonRefused as refused:
        return render(
            request, "campaigns/compare.html", {"error": refused.message}, status=404 if refused.not_found else 400
        )
    comparison = results.comparison(campaigns)
    if "export" in request.GET:
        return _kpi_export(request, comparison)
    kpis = [
        {
            "name": row.metric.name, "label": row.metric.label, "better": _better(row.metric),
            "cells": [
                {"text": shown(value, row.metric.kind), "best": position in row.best}
                for position, value in enumerate(row.values)
            ],
        }
        for row in comparison.kpis
    ]
    funnel = [
        {
            "stage": analysis_views.STAGES[row["stage"]],
            "cells": [
                {"share": shown(share, "share"), "customers": shown(customers, "int")}
                for share, customers in zip(row["shares"], row["customers"], strict=True)
            ],
        }
        for row in comparison.funnel
    ]
    retention = [
        {
            "days": row["days"],
            "cells": [
                {"share": shown(share, "share"), "eligible": shown(eligible, "int")}
                for share, eligible in zip(row["shares"], row["eligible"], strict=True)
            ],
        }
        for row in comparison.retention
    ]
    context = {
        "campaigns": campaigns,
        "columns": list(zip(campaigns, comparison.results, strict=True)),
        "kpis": kpis,
        "funnel": funnel,
        "retention": retention,
        "uplifts": _uplift_rows(comparison),
        "chart_data": _chart_data(comparison),
        "compare_query": urlencode([("c", campaign.code) for campaign in campaigns]),
        "kpi_table": KPI_TABLE,
        "formats": FORMATS,
    }
    return render(request, "campaigns/compare.html", context)


urlpatterns = [
    path("compare/", result_list, name="results"),
    path("compare/view/", campaign_compare, name="compare"),
]
