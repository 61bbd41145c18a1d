"""The campaign analysis page, its exports and its cache, on the hand-computed
campaign of test_analysis_metrics (see that module's docstring for the story)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campaigns.models import Activity
from campaigns.selectors import analysis, analysis_cache
from rewards.models import Grant, GrantStatus
from tests.campaigns.test_analysis_metrics import story  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


# The cache lives in Redis under "cs:", which tests/conftest.py empties around every test:
# campaign ids repeat across test databases, so an analysis cached by another test is never read.


@pytest.fixture
def computations(monkeypatch):
    """Counts the analyses actually computed (not read from the cache)."""
    calls = []
    compute = analysis.campaign_analysis

    def counted(campaign, **kwargs):
        calls.append(campaign.pk)
        return compute(campaign, **kwargs)

    monkeypatch.setattr(analysis, "campaign_analysis", counted)
    return calls


def url(campaign, **query):
    address = reverse("campaigns:campaign_analysis", args=[campaign.code])
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return address


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_an_analyst_in_scope_sees_the_kpis_charts_and_breakdowns(story, login, personas):  # noqa: F811
    response = login(personas.analyst).get(url(story.campaign))
    assert response.status_code == 200
    page = response.content.decode()
    kpis = {name: value for name, _label, value in response.context["kpis"]}
    assert kpis["participants"] == "7"
    assert kpis["winners"] == "4"
    assert kpis["cost"] == "95.00"
    assert kpis["participation_rate"] == "70.0 %"
    assert 'data-kpi="participants"' in page
    embedded = re.search(r'<script id="analysis-chart-data" type="application/json">(.*?)</script>', page)
    charts = json.loads(embedded.group(1))
    assert charts["funnel"]["values"] == [10, 8, 8, 6, 4, 2]
    assert "vendor/echarts/echarts.min.js" in page and "js/analysis-charts.js" in page
    # Every breakdown is on the page, with its export links.
    for name in ("branches", "channels", "prizes", "grants", "tags", "conversions", "funnel", "daily", "retention"):
        assert f'id="table-{name}"' in page
        assert f"?export={name}&amp;format=xlsx" in page
    assert "Umbrella" in page and "Haidian" in page


def test_the_uplift_is_told_in_words_with_its_interval(story, login, personas):  # noqa: F811
    page = login(personas.analyst).get(url(story.campaign)).content.decode()
    # Treatment: T0 T1 T4 T6 T7 T9 converted = 60.0 %; control: K0 K3 = 50.0 %; 4 members of control.
    assert "60.0 % of the audience (10 customers) converted, against 50.0 % of the control group (4 customers)" in page
    # Standard error sqrt(.6 * .4 / 10 + .5 * .5 / 4) = .2941; margin 1.96 * .2941 = .5765.
    assert "Difference: 10.0 percentage points (95 % confidence interval -47.6 to 67.6)" in page
    assert "not statistically significant" in page


def test_a_user_outside_the_campaigns_branch_gets_404(story, login, personas):  # noqa: F811
    client = login(personas.outsider)
    assert client.get(url(story.campaign)).status_code == 404
    assert client.get(url(story.campaign, export="funnel", format="csv")).status_code == 404


def test_the_page_needs_a_login_and_only_answers_get(story, client, login, personas):  # noqa: F811
    assert client.get(url(story.campaign)).status_code == 302
    assert login(personas.analyst).post(url(story.campaign)).status_code == 405


def test_an_unknown_table_or_format_is_a_clear_400(story, login, personas):  # noqa: F811
    client = login(personas.analyst)
    response = client.get(url(story.campaign, export="salaries", format="csv"))
    assert response.status_code == 400
    assert "Unknown table" in response.content.decode() and "funnel" in response.content.decode()
    response = client.get(url(story.campaign, export="funnel", format="pdf"))
    assert response.status_code == 400
    assert "Unknown format" in response.content.decode()


def test_a_csv_export_has_a_bom_the_header_and_the_rows(story, login, personas):  # noqa: F811
    response = login(personas.analyst).get(url(story.campaign, export="funnel", format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{story.campaign.code}-funnel.csv"' in response["Content-Disposition"]
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["Stage", "Customers", "Share of the audience", "Share of the previous stage"]
    assert [(row[0], int(row[1])) for row in rows[1:]] == [
        ("Audience", 10), ("Reached", 8), ("Viewed", 8), ("Joined", 6), ("Won", 4), ("Redeemed", 2),
    ]
    assert float(rows[-1][3]) == pytest.approx(0.5)


def test_an_xlsx_export_opens_with_openpyxl_and_has_the_rows(story, login, personas):  # noqa: F811
    response = login(personas.analyst).get(url(story.campaign, export="prizes", format="xlsx"))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(body(response)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows == [
        ("Prize", "Awarded", "Refused by the pool", "Cost (CNY)", "Delivered"),
        (story.gift.name, 1, 0, 80, 0),
        (story.cash.name, 3, 1, 15, 2),
    ]


def test_the_kpi_export_lists_every_figure(story, login, personas):  # noqa: F811
    response = login(personas.analyst).get(url(story.campaign, export="kpis", format="csv"))
    rows = dict(csv.reader(io.StringIO(body(response).decode("utf-8").removeprefix("\ufeff"))))
    assert rows["Participants"] == "7"
    assert float(rows["Cost (CNY)"]) == pytest.approx(95.0)


def test_the_cached_analysis_is_reused_until_a_new_activity_is_recorded(story, computations):  # noqa: F811
    campaign = story.campaign
    first = analysis_cache.analysis_cached(campaign)
    again = analysis_cache.analysis_cached(campaign)
    assert len(computations) == 1
    assert again.kpis == first.kpis
    Activity.objects.create(
        campaign=campaign, customer=story.t[5], kind="join", channel="app", at=story.campaign.starts_at,
    )
    fresh = analysis_cache.analysis_cached(campaign)
    assert len(computations) == 2
    assert fresh.kpis.participants == first.kpis.participants + 1


def test_the_records_version_is_read_in_one_query(story, django_assert_num_queries):  # noqa: F811
    campaign = story.campaign
    campaign.live_revision  # noqa: B018 - the window comes from the revision, read once; the records in one query
    with django_assert_num_queries(1):
        analysis_cache.analysis_version(campaign)


def test_a_grant_delivered_since_gives_a_new_analysis(story, computations):  # noqa: F811
    analysis_cache.analysis_cached(story.campaign)
    pending = Grant.objects.get(customer=story.t[6])
    Grant.objects.filter(pk=pending.pk).update(status=GrantStatus.DELIVERED, updated_at=timezone.now())
    result = analysis_cache.analysis_cached(story.campaign)
    assert len(computations) == 2
    assert result.funnel["customers"].tolist()[-1] == 3


def test_reloading_the_page_reads_the_analysis_from_the_cache(story, login, personas, computations):  # noqa: F811
    client = login(personas.analyst)
    assert client.get(url(story.campaign)).status_code == 200
    assert client.get(url(story.campaign, export="daily", format="csv")).status_code == 200
    assert client.get(url(story.campaign)).status_code == 200
    assert len(computations) == 1


@pytest.mark.django_db(transaction=True)
def test_an_approved_campaigns_page_links_to_its_analysis_and_a_draft_does_not(
    login, personas, tree, prize, make_campaign, make_customers
):
    from tests.campaigns.runtime_helpers import go_live

    make_customers(3, tree.bj)
    live = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-LINK", limit_total=1,
        slots=[{"prize": prize, "role": "item", "label": "Red packet", "quantity": 3, "options": {"price_points": 1}}],
    )
    client = login(personas.analyst)
    page = client.get(reverse("campaigns:campaign_detail", args=[live.code])).content.decode()
    assert reverse("campaigns:campaign_analysis", args=[live.code]) in page
    draft = make_campaign("lottery")
    page = client.get(reverse("campaigns:campaign_detail", args=[draft.code])).content.decode()
    assert 'id="campaign-analysis"' not in page


def test_conversion_types_are_shown_and_exported_in_words(story, login, personas):  # noqa: F811
    user = login(personas.analyst)
    assert "fund purchase" in user.get(url(story.campaign)).content.decode()
    text = body(user.get(url(story.campaign, export="conversions", format="csv"))).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    # "deposit" is not one of the bank's event types: shown as reported.
    assert [row[0] for row in rows[1:]] == ["deposit", "fund purchase"]
