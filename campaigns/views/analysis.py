"""The campaign analysis page and its exports (DESIGN.md §4 analysis).

The campaign is looked up in the user's scope first (404 outside it); every
role in scope may view (Verb.VIEW) and export (Verb.EXPORT). The figures come
from ``campaigns.selectors.analysis`` through its cache, so reloading the page
costs one small query until new records arrive.

Each table has one description here (``TABLES``): its columns, their headings
and how each value is shown. The page, the CSV and the XLSX export all read
it, so an export always has the columns the page shows. The page formats
numbers for the reader's language; the exports keep raw values (ratios as
fractions, money in yuan) so a spreadsheet can compute with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.models import Branch
from accounts.permissions import Verb, require
from audiences import exports
from campaigns.kinds._common import EventType
from campaigns.models import ApiChannelKind, AwardStatus, Campaign
from campaigns.selectors import analysis, analysis_cache
from campaigns.selectors import campaigns as selectors
from campaigns.views import campaigns as campaign_views  # noqa: F401 - registers the campaign_code converter
from campaigns.views import participant_tags
from rewards.models import GrantStatus

FORMATS = ("csv", "xlsx")

STAGES = {
    "audience": gettext_lazy("Audience"),
    "reached": gettext_lazy("Reached"),
    "viewed": gettext_lazy("Viewed"),
    "joined": gettext_lazy("Joined"),
    "won": gettext_lazy("Won"),
    "redeemed": gettext_lazy("Redeemed"),
}
GRANT_STATES = {
    **dict(GrantStatus.choices),
    AwardStatus.QUEUED.value: AwardStatus.QUEUED.label,
    analysis.REFUSED: AwardStatus.FAILED.label,
}
CHANNELS = dict(ApiChannelKind.choices)
EVENT_TYPES = dict(EventType.choices)


@dataclass(frozen=True)
class Column:
    """One column: ``kind`` is text, int, money (yuan), share (a fraction shown
    as a percentage), index (participant share / audience share * 100) or date;
    ``labels`` turns a stored code into words (a funnel stage, a grant status)."""

    name: str
    heading: Promise
    kind: str = "int"
    labels: dict[str, Any] | None = None


@dataclass(frozen=True)
class Table:
    attribute: str
    title: Promise
    columns: tuple[Column, ...]


TABLES: dict[str, Table] = {
    "funnel": Table("funnel", gettext_lazy("Funnel"), (
        Column("stage", gettext_lazy("Stage"), "text", STAGES),
        Column("customers", gettext_lazy("Customers")),
        Column("share_of_audience", gettext_lazy("Share of the audience"), "share"),
        Column("share_of_previous", gettext_lazy("Share of the previous stage"), "share"),
    )),
    "daily": Table("daily", gettext_lazy("Day by day"), (
        Column("day", gettext_lazy("Day"), "date"),
        Column("views", gettext_lazy("Views")),
        Column("participants", gettext_lazy("New participants")),
        Column("winners", gettext_lazy("New winners")),
        Column("cost", gettext_lazy("Cost (CNY)"), "money"),
        Column("conversions", gettext_lazy("Conversions")),
        Column("conversion_amount", gettext_lazy("Conversion amount (CNY)"), "money"),
    )),
    "branches": Table("by_branch", gettext_lazy("By branch"), (
        Column("branch", gettext_lazy("Branch"), "text"),
        Column("code", gettext_lazy("Code"), "text"),
        Column("audience", gettext_lazy("Audience")),
        Column("participants", gettext_lazy("Participants")),
        Column("winners", gettext_lazy("Winners")),
        Column("cost", gettext_lazy("Cost (CNY)"), "money"),
        Column("conversions", gettext_lazy("Conversions")),
        Column("conversion_amount", gettext_lazy("Conversion amount (CNY)"), "money"),
    )),
    "channels": Table("by_channel", gettext_lazy("By channel"), (
        Column("channel", gettext_lazy("Channel"), "text", CHANNELS),
        Column("customers", gettext_lazy("Customers reached")),
        Column("views", gettext_lazy("Views")),
        Column("participants", gettext_lazy("Participants")),
        Column("activities", gettext_lazy("Activities")),
    )),
    "prizes": Table("by_prize", gettext_lazy("By prize"), (
        Column("prize", gettext_lazy("Prize"), "text"),
        Column("awards", gettext_lazy("Awarded")),
        Column("refused", gettext_lazy("Refused by the pool")),
        Column("cost", gettext_lazy("Cost (CNY)"), "money"),
        Column("delivered", gettext_lazy("Delivered")),
    )),
    "grants": Table("grants", gettext_lazy("Grants by prize and status"), (
        Column("prize", gettext_lazy("Prize"), "text"),
        Column("status", gettext_lazy("Status"), "text", GRANT_STATES),
        Column("grants", gettext_lazy("Grants")),
    )),
    "tags": Table("by_tag", gettext_lazy("By tag"), (
        Column("category", gettext_lazy("Category"), "text"),
        Column("tag", gettext_lazy("Tag"), "text"),
        Column("participants", gettext_lazy("Participants with the tag")),
        Column("participant_share", gettext_lazy("Share of participants"), "share"),
        Column("audience", gettext_lazy("Audience with the tag")),
        Column("audience_share", gettext_lazy("Share of the audience"), "share"),
        Column("index", gettext_lazy("Index (100 = as in the audience)"), "index"),
    )),
    "conversions": Table("conversions_by_type", gettext_lazy("Conversions by type"), (
        Column("type", gettext_lazy("Business event"), "text", EVENT_TYPES),
        Column("conversions", gettext_lazy("Conversions")),
        Column("customers", gettext_lazy("Customers")),
        Column("amount", gettext_lazy("Amount (CNY)"), "money"),
    )),
    "retention": Table("retention", gettext_lazy("Retention of participants"), (
        Column("days", gettext_lazy("Days after first taking part")),
        Column("eligible", gettext_lazy("Participants that long ago")),
        Column("retained", gettext_lazy("Active again")),
        Column("share", gettext_lazy("Share active again"), "share"),
    )),
}
# The page's order; "kpis" exports the figures of the cards.
PAGE_TABLES = ("branches", "channels", "prizes", "grants", "tags", "conversions")
KPI_TABLE = "kpis"

KPIS: tuple[tuple[str, Promise, str], ...] = (
    ("audience", gettext_lazy("Audience"), "int"),
    ("control", gettext_lazy("Control group"), "int"),
    ("reached", gettext_lazy("Reached"), "int"),
    ("viewed", gettext_lazy("Viewed"), "int"),
    ("participants", gettext_lazy("Participants"), "int"),
    ("participation_rate", gettext_lazy("Participation rate"), "share"),
    ("winners", gettext_lazy("Winners"), "int"),
    ("cost", gettext_lazy("Cost (CNY)"), "money"),
    ("budget_total", gettext_lazy("Budget (CNY)"), "money"),
    ("budget_used", gettext_lazy("Budget used"), "share"),
    ("cost_per_participant", gettext_lazy("Cost per participant (CNY)"), "money"),
    ("cost_per_conversion", gettext_lazy("Cost per conversion (CNY)"), "money"),
    ("new_customers", gettext_lazy("New customers"), "int"),
    ("conversions", gettext_lazy("Conversions"), "int"),
    ("converted_customers", gettext_lazy("Converted customers"), "int"),
    ("conversion_amount", gettext_lazy("Conversion amount (CNY)"), "money"),
)


# --- values --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A cell as a Python value: numpy scalars unwrapped, NaN and NA as None."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _number(value: float | int, decimals: int) -> str:
    # number_format cuts a float's digits; round first so 9.9999 reads 10.0.
    return number_format(round(value, decimals), decimals, force_grouping=True)


def _shown(value: Any, kind: str, labels: dict[str, Any] | None = None) -> str:
    """A value as the page shows it, in the reader's language."""
    if value is None:
        return "—"
    if labels is not None:
        return str(labels.get(value, value) or "—")
    if kind in ("int", "index"):
        return _number(value, 0)
    if kind == "money":
        return _number(value, 2)
    if kind == "share":
        return f"{_number(value * 100, 1)} %"
    if kind == "date":
        return value.isoformat()
    return str(value) or "—"


def _exported(value: Any, column: Column) -> Any:
    if value is not None and column.labels is not None:
        return str(column.labels.get(value, value))
    return value


def _rows(frame: pd.DataFrame, columns: tuple[Column, ...]) -> Iterator[list[Any]]:
    names = [column.name for column in columns]
    for record in frame[names].itertuples(index=False, name=None):
        yield [_plain(value) for value in record]


def _frame(result: analysis.CampaignAnalysis, name: str, branch_ids: set[int] | None) -> pd.DataFrame:
    frame = getattr(result, TABLES[name].attribute)
    if name == "branches" and branch_ids is not None:
        # The bank-wide breakdown is for head office; a branch sees its own subtree.
        frame = frame[frame["branch_id"].isin(branch_ids)]
    return frame


def _visible_branches(user) -> set[int] | None:
    """Branch ids the user may see in the breakdown; None for every branch."""
    if user.is_superuser:
        return None
    return set(Branch.objects.visible_to(user).values_list("pk", flat=True))


def _kpi_rows(result: analysis.CampaignAnalysis) -> list[tuple[str, Any, str]]:
    values = result.kpis.as_dict()
    return [(str(label), values[name], kind) for name, label, kind in KPIS]


# --- exports -------------------------------------------------------------------------


def _export(request: HttpRequest, campaign: Campaign, result: analysis.CampaignAnalysis) -> HttpResponse:
    require(request.user, Verb.EXPORT, campaign)
    name, kind = request.GET.get("export", ""), request.GET.get("format", "csv")
    if name != KPI_TABLE and name not in TABLES:
        known = ", ".join([KPI_TABLE, *TABLES])
        return HttpResponseBadRequest(
            _("Unknown table “%(name)s”. Tables: %(known)s.") % {"name": name, "known": known},
            content_type="text/plain; charset=utf-8",
        )
    if kind not in FORMATS:
        return HttpResponseBadRequest(
            _("Unknown format “%(format)s”. Formats: %(known)s.") % {"format": kind, "known": ", ".join(FORMATS)},
            content_type="text/plain; charset=utf-8",
        )
    if name == KPI_TABLE:
        header = [_("Figure"), _("Value")]
        rows: list[list[Any]] = [
            [label, float(value) if kind_ == "money" and value is not None else value]
            for label, value, kind_ in _kpi_rows(result)
        ]
        title = _("Key figures")
    else:
        table = TABLES[name]
        header = [str(column.heading) for column in table.columns]
        frame = _frame(result, name, _visible_branches(request.user))
        rows = [
            [_exported(value, column) for value, column in zip(row, table.columns, strict=True)]
            for row in _rows(frame, table.columns)
        ]
        title = str(table.title)
    filename = f"{campaign.code}-{name}.{kind}"
    if kind == "csv":
        return exports.csv_response(header, rows, filename=filename)
    return exports.xlsx_response(header, rows, filename=filename, title=title)


# --- the page ------------------------------------------------------------------------


def _table_context(result: analysis.CampaignAnalysis, name: str, branch_ids: set[int] | None) -> dict[str, Any]:
    table = TABLES[name]
    numeric = [column.kind not in ("text", "date") for column in table.columns]
    rows = [
        [(_shown(value, column.kind, column.labels), is_number)
         for value, column, is_number in zip(row, table.columns, numeric, strict=True)]
        for row in _rows(_frame(result, name, branch_ids), table.columns)
    ]
    return {
        "name": name, "title": table.title, "rows": rows,
        "headings": list(zip([column.heading for column in table.columns], numeric, strict=True)),
    }


def _uplift_context(uplift: analysis.Uplift | None) -> dict[str, str] | None:
    if uplift is None:
        return None

    def points(value: float) -> str:
        return _number(value * 100, 1)

    return {
        "treatment_rate": f"{points(uplift.treatment_rate)} %",
        "control_rate": f"{points(uplift.control_rate)} %",
        "treatment_size": _number(uplift.treatment_size, 0),
        "control_size": _number(uplift.control_size, 0),
        "difference": points(uplift.difference),
        "ci_low": points(uplift.ci_low),
        "ci_high": points(uplift.ci_high),
        "significant": uplift.significant,
        "positive": uplift.difference > 0,
    }


def _chart_data(result: analysis.CampaignAnalysis) -> dict[str, Any]:
    funnel = result.funnel
    daily = result.daily
    series = [
        ("views", _("Views"), "count"), ("participants", _("New participants"), "count"),
        ("winners", _("New winners"), "count"), ("conversions", _("Conversions"), "count"),
        ("conversion_amount", _("Conversion amount (CNY)"), "money"), ("cost", _("Cost (CNY)"), "money"),
    ]
    return {
        "funnel": {
            "labels": [str(STAGES[stage]) for stage in funnel["stage"]],
            "values": [int(value) for value in funnel["customers"]],
        },
        "daily": {
            "days": [day.isoformat() for day in daily["day"]],
            "series": [
                {"name": label, "axis": axis, "data": [_plain(value) for value in daily[column]]}
                for column, label, axis in series
            ],
            "countAxis": _("Customers"), "moneyAxis": _("CNY"),
        },
    }


@require_GET
@login_required
def campaign_analysis(request: HttpRequest, code: str) -> HttpResponse:
    campaign = selectors.campaign_get_for_user(user=request.user, code=code)
    require(request.user, Verb.VIEW, campaign)
    result = analysis_cache.analysis_cached(campaign)
    if "export" in request.GET:
        return _export(request, campaign, result)
    branch_ids = _visible_branches(request.user)
    context = {
        "campaign": campaign,
        "result": result,
        "kpis": [
            (name, label, _shown(value, kind))
            for (name, _, _), (label, value, kind) in zip(KPIS, _kpi_rows(result), strict=True)
        ],
        "funnel": _table_context(result, "funnel", branch_ids),
        "daily": _table_context(result, "daily", branch_ids),
        "retention": _table_context(result, "retention", branch_ids),
        "breakdowns": [_table_context(result, name, branch_ids) for name in PAGE_TABLES],
        "uplift": _uplift_context(result.uplift),
        "chart_data": _chart_data(result),
        "formats": FORMATS,
        "kpi_table": KPI_TABLE,
        "participant_tags": participant_tags.section_context(request.user, campaign, result.kpis),
    }
    return render(request, "campaigns/campaign_analysis.html", context)


urlpatterns = [
    path("<campaign_code:code>/analysis/", campaign_analysis, name="campaign_analysis"),
]
