"""Campaign results and the side-by-side comparison: the results list (scope,
filters, sorting, export, a flat query count), keeping the stored figures
fresh (only when the records version moved), and the comparison of two to
four campaigns.

The figures come from the hand-computed ``story`` campaign of
test_analysis_metrics (see its docstring) and ``other``, a smaller campaign
of four members and two held out, a month later and four days long:

    O0, O1  join app 10 April 10:00 (day 1)
    O2      join app 12 April 10:00 (day 3)
    O3      nothing; O4, O5: control, nothing

so ``other`` has audience 4, reached 3, participants 3 (75 %), no view, no
win, no cost (budget 50.00), no conversion and an uplift of 0 (0 of 4
against 0 of 2, not significant).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from rq.cron import CronScheduler

from campaigns import jobs
from campaigns.filters import ResultFilter
from campaigns.models import Activity, Campaign, CampaignResult, CampaignStatus
from campaigns.selectors import analysis, analysis_cache, results
from campaigns.services import results as result_services
from tests.campaigns.test_analysis_metrics import (
    NOW,
    approved_campaign,
    local,
    story,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def computations(monkeypatch):
    """Counts the analyses actually computed (not read from the cache), each
    taken at the story's ``NOW`` (31 March 2030), so retention is hand-checkable."""
    calls = []
    compute = analysis.campaign_analysis

    def counted(campaign, **kwargs):
        calls.append(campaign.code)
        return compute(campaign, now=NOW, **kwargs)

    monkeypatch.setattr(analysis, "campaign_analysis", counted)
    return calls


def window(campaign: Campaign, starts: dt.datetime, ends: dt.datetime) -> Campaign:
    """Move the approved window (the revision's) and the working copy's."""
    revision = campaign.live_revision
    revision.config = {**revision.config, "starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    revision.save(update_fields=["config"])
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=starts, ends_at=ends)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def other(story, personas, tree, make_customers):  # noqa: F811
    members = make_customers(4, tree.bj, prefix="O")
    control = make_customers(2, tree.bj, start=4, prefix="O")
    campaign = approved_campaign(personas, code="LOT-20300410-TWO", members=members, control=control, budget="50.00")
    campaign = window(campaign, local(4, 10), local(4, 14))
    for customer, at in [(members[0], local(4, 10, 10)), (members[1], local(4, 10, 10)), (members[2], local(4, 12, 10))]:
        Activity.objects.create(campaign=campaign, customer=customer, kind="join", channel="app", at=at)
    return campaign


def stored(campaign: Campaign, **figures) -> CampaignResult:
    """Stored figures written directly (the list only reads them)."""
    return CampaignResult.objects.create(campaign=campaign, version="v", computed_at=timezone.now(), **figures)


@pytest.fixture
def make_analysed(personas):
    """Ended campaigns of Beijing (or ``owner``) with an empty audience, numbered."""
    made = []

    def make(*, owner=None, status=CampaignStatus.ENDED, **figures) -> Campaign:
        code = f"EVT-20300301-N{len(made):02d}"
        campaign = approved_campaign(personas, code=code, members=[], control=[])
        Campaign.objects.filter(pk=campaign.pk).update(status=status, owner_branch=owner or campaign.owner_branch)
        campaign.refresh_from_db()
        if figures:
            stored(campaign, **figures)
        made.append(campaign)
        return campaign

    return make


def codes(queryset) -> list[str]:
    return [campaign.code for campaign in queryset]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response).decode("utf-8").removeprefix("\ufeff"))))


def compare_url(*campaign_codes: str, **query) -> str:
    pairs = [("c", code) for code in campaign_codes] + list(query.items())
    return reverse("campaigns:compare") + "?" + "&".join(f"{key}={value}" for key, value in pairs)


# --- the results list: selectors -------------------------------------------------------


def test_the_results_list_holds_only_campaigns_with_an_analysis_in_the_users_scope(
    story, personas, make_analysed, make_campaign, tree  # noqa: F811
):
    make_campaign("lottery")  # a Beijing draft: no analysis yet
    shanghai = make_analysed(owner=tree.sh)
    haidian = make_analysed(owner=tree.hd, status=CampaignStatus.LIVE)
    assert set(codes(results.result_list(user=personas.analyst))) == {story.campaign.code, haidian.code}
    assert set(codes(results.result_list(user=personas.ho_admin))) == {story.campaign.code, haidian.code, shanghai.code}
    assert codes(results.result_list(user=personas.outsider)) == [shanghai.code]


def test_sorting_by_a_figure_puts_campaigns_without_figures_last_both_ways(personas, make_analysed):
    few, none, many = make_analysed(participants=5), make_analysed(), make_analysed(participants=9)
    scoped = results.result_list(user=personas.analyst)
    ascending, key = results.result_sort(scoped, "participants")
    assert key == "participants" and codes(ascending) == [few.code, many.code, none.code]
    descending, key = results.result_sort(scoped, "-participants")
    assert key == "-participants" and codes(descending) == [many.code, few.code, none.code]


def test_every_column_of_the_list_sorts_both_ways_in_the_database(personas, make_analysed):
    low = make_analysed(
        audience=1, participants=1, participation_rate=0.1, winners=1, cost=Decimal("1"), budget_used=0.1,
        conversions=1, conversion_amount=Decimal("1"), cost_per_conversion=Decimal("1"), new_customers=1, uplift=-0.1,
    )
    high = make_analysed(
        audience=2, participants=2, participation_rate=0.2, winners=2, cost=Decimal("2"), budget_used=0.2,
        conversions=2, conversion_amount=Decimal("2"), cost_per_conversion=Decimal("2"), new_customers=2, uplift=0.1,
    )
    CampaignResult.objects.filter(campaign=high).update(computed_at=timezone.now() + dt.timedelta(hours=1))
    scoped = results.result_list(user=personas.analyst)
    for metric in results.LIST_METRICS:
        assert codes(results.result_sort(scoped, metric.name)[0]) == [low.code, high.code], metric.name
        assert codes(results.result_sort(scoped, f"-{metric.name}")[0]) == [high.code, low.code], metric.name


@pytest.mark.parametrize("tampered", ["owner_branch__path", "-created_by__password", "participants;--", "", None, "--code"])
def test_a_sort_key_outside_the_whitelist_falls_back_to_the_newest_first(personas, make_analysed, tampered):
    first = make_analysed()
    later = make_analysed()
    Campaign.objects.filter(pk=later.pk).update(starts_at=first.starts_at + dt.timedelta(days=1))
    ordered, key = results.result_sort(results.result_list(user=personas.analyst), tampered)
    assert key == results.DEFAULT_SORT
    assert codes(ordered) == [later.code, first.code]


def test_the_uplift_filter_keeps_significant_results_or_only_significant_gains(personas, make_analysed):
    gain = make_analysed(uplift=0.05, uplift_significant=True)
    drop = make_analysed(uplift=-0.03, uplift_significant=True)
    make_analysed(uplift=0.2, uplift_significant=False)
    make_analysed()
    scoped = results.result_list(user=personas.analyst)

    def kept(value):
        return set(codes(ResultFilter({"uplift": value}, queryset=scoped, user=personas.analyst).qs))

    assert kept("significant") == {gain.code, drop.code}
    assert kept("gain") == {gain.code}


def test_the_status_filter_offers_only_states_with_an_analysis_and_a_sibling_branch_is_refused(
    personas, make_analysed, tree
):
    make_analysed()
    scoped = results.result_list(user=personas.analyst)
    form = ResultFilter({}, queryset=scoped, user=personas.analyst).form
    assert [value for value, _ in form.fields["status"].choices if value] == ["approved", "live", "paused", "ended"]
    tampered = ResultFilter({"status": "draft", "owner_branch": tree.sh.pk}, queryset=scoped, user=personas.analyst)
    assert set(tampered.errors) == {"status", "owner_branch"}
    assert len(tampered.qs) == 1  # both ignored


# --- keeping the stored figures fresh --------------------------------------------------


def test_the_refresh_computes_a_campaign_once_and_again_only_after_new_records(story, computations):  # noqa: F811
    campaign = story.campaign
    first = result_services.results_refresh()
    assert (first.checked, first.refreshed, first.failed) == (1, 1, 0)
    row = CampaignResult.objects.get(campaign=campaign)
    assert row.version == analysis_cache.analysis_version(campaign)
    assert (row.participants, row.winners, row.cost, row.conversions) == (7, 4, Decimal("95.00"), 6)
    assert row.uplift == pytest.approx(0.1) and row.uplift_significant is False

    assert result_services.results_refresh().refreshed == 0
    assert computations == [campaign.code]

    # T5, who did nothing so far, views the campaign: a new record, a new version.
    Activity.objects.create(campaign=campaign, customer=story.t[5], kind="view", channel="app", at=local(3, 7, 9))
    assert result_services.results_refresh().refreshed == 1
    assert computations == [campaign.code, campaign.code]
    row.refresh_from_db()
    assert (row.viewed, row.reached) == (7, 9)


def test_the_refresh_stores_what_the_cache_holds_instead_of_computing_again(story, computations):  # noqa: F811
    analysis_cache.analysis_cached(story.campaign)
    CampaignResult.objects.all().delete()  # say the figures were lost, the cache was not
    assert result_services.results_refresh().refreshed == 1
    assert computations == [story.campaign.code]
    assert CampaignResult.objects.get(campaign=story.campaign).participants == 7


def test_the_refresh_looks_at_running_and_recent_campaigns_and_any_without_figures(
    story, personas, make_analysed, make_campaign, computations  # noqa: F811
):
    long_ago = timezone.now() - dt.timedelta(days=results.ENDED_REFRESH_DAYS + 30)
    old_with_figures = window(make_analysed(), long_ago - dt.timedelta(days=7), long_ago)
    stored(old_with_figures)
    old_without = window(make_analysed(), long_ago - dt.timedelta(days=7), long_ago)
    approved = make_analysed(status=CampaignStatus.APPROVED)
    paused = make_analysed(status=CampaignStatus.PAUSED)
    stored(paused)
    make_campaign("lottery")  # a draft has no analysis
    candidates = set(codes(results.refresh_candidates()))
    assert candidates == {story.campaign.code, old_without.code, approved.code, paused.code}


def test_one_failing_campaign_does_not_stop_the_refresh_of_the_others(
    story, make_analysed, monkeypatch, computations  # noqa: F811
):
    broken = make_analysed(status=CampaignStatus.LIVE)
    compute = analysis.campaign_analysis

    def failing(campaign, **kwargs):
        if campaign.pk == broken.pk:
            raise RuntimeError("disk on fire")
        return compute(campaign, **kwargs)

    monkeypatch.setattr(analysis, "campaign_analysis", failing)
    report = result_services.results_refresh()
    assert (report.checked, report.refreshed, report.failed) == (2, 1, 1)
    assert report.failures == [f"{broken.code}: disk on fire"]
    assert list(CampaignResult.objects.values_list("campaign__code", flat=True)) == [story.campaign.code]


def test_the_job_refreshes_and_the_cron_runs_it_every_15_minutes(story, settings, computations):  # noqa: F811
    assert jobs.analysis_refresh() == {"checked": 1, "refreshed": 1, "failed": 0}
    import redis

    scheduler = CronScheduler(connection=redis.Redis.from_url(settings.REDIS_URL))
    scheduler.load_config_from_file("campaigns.cron")
    (job,) = [job for job in scheduler.get_jobs() if job.func is jobs.analysis_refresh]
    assert job.cron == "*/15 * * * *" and job.queue_name == "default"


def test_the_command_refreshes_one_campaign_by_code_and_refuses_a_bad_one(
    story, make_campaign, computations  # noqa: F811
):
    out = io.StringIO()
    call_command("analysis_refresh", campaign=story.campaign.code, stdout=out)
    assert out.getvalue().splitlines() == ["checked = 1", "refreshed = 1", "failed = 0"]
    out = io.StringIO()
    call_command("analysis_refresh", stdout=out)
    assert "refreshed = 0" in out.getvalue()
    with pytest.raises(CommandError, match="No campaign"):
        call_command("analysis_refresh", campaign="EVT-NOPE-0000")
    with pytest.raises(CommandError, match="only approved, live, paused or ended"):
        call_command("analysis_refresh", campaign=make_campaign("lottery").code)


# --- the comparison: selectors ---------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "better", "best"),
    [
        ([7, 3], results.HIGHER, {0}),
        ([Decimal("13.57"), Decimal("0.00")], results.LOWER, {1}),
        ([5, 9, 9], results.HIGHER, {1, 2}),  # a tie shares the mark
        ([5, 5], results.HIGHER, set()),  # nothing to tell apart
        ([Decimal("15.83"), None], results.LOWER, set()),  # one figure is no comparison
        ([100, 40], None, set()),  # size, not merit
    ],
)
def test_the_best_value_follows_the_direction_of_the_figure(values, better, best):
    assert results.best_positions(values, better) == best


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["EVT-20300301-ANA"], "Pick from 2 to 4 campaigns to compare; 1 given."),
        ([f"EVT-20300301-X{n}" for n in range(5)], "Pick from 2 to 4 campaigns to compare; 5 given."),
        (["EVT-20300301-ANA", " EVT-20300301-ANA "], "given more than once: EVT-20300301-ANA"),
    ],
)
def test_too_few_too_many_or_repeated_campaigns_are_refused(story, personas, given, message):  # noqa: F811
    with pytest.raises(results.ComparisonRefused, match=re.escape(message)) as refused:
        results.compare_campaigns(user=personas.analyst, codes=given)
    assert refused.value.not_found is False


def test_a_code_unknown_or_outside_the_scope_is_not_found_in_the_same_words(
    story, personas, make_analysed, tree  # noqa: F811
):
    shanghai = make_analysed(owner=tree.sh)
    messages = []
    for code in (shanghai.code, "EVT-20300301-NOPE"):
        with pytest.raises(results.ComparisonRefused) as refused:
            results.compare_campaigns(user=personas.analyst, codes=[story.campaign.code, code])
        assert refused.value.not_found is True
        messages.append(refused.value.message.replace(code, "CODE"))
    assert messages[0] == messages[1] == "No campaign in your scope has the code CODE."


def test_the_comparison_lines_up_figures_funnels_days_uplift_and_retention(story, other, computations):  # noqa: F811
    compared = results.comparison([story.campaign, other])
    assert computations == [story.campaign.code, other.code]
    rows = {row.metric.name: row for row in compared.kpis}
    assert rows["participants"].values == [7, 3] and rows["participants"].best == {0}
    assert rows["participation_rate"].values == pytest.approx([0.7, 0.75]) and rows["participation_rate"].best == {1}
    # 95.00 / 7 = 13.57 against 0.00 / 3: lower is better.
    assert rows["cost_per_participant"].values == [Decimal("13.57"), Decimal("0.00")]
    assert rows["cost_per_participant"].best == {1}
    # Only the story converted anyone: a single figure is not a comparison.
    assert rows["cost_per_conversion"].values == [Decimal("15.83"), None] and rows["cost_per_conversion"].best == set()
    assert rows["audience"].values == [10, 4] and rows["audience"].best == set()
    assert rows["uplift"].values == pytest.approx([0.1, 0.0]) and rows["uplift"].best == {0}
    assert rows["uplift_significant"].values == [False, False]

    assert [row["shares"] for row in compared.funnel] == [
        pytest.approx([1.0, 1.0]), pytest.approx([0.8, 0.75]), pytest.approx([0.8, 0.75]),
        pytest.approx([0.6, 0.75]), pytest.approx([0.4, 0.0]), pytest.approx([0.2, 0.0]),
    ]
    # Day 1 is 1 March for the story and 10 April for the other; the other lasts four days.
    assert compared.days == [1, 2, 3, 4, 5, 6, 7]
    assert compared.participants_by_day == [[1, 1, 1, 1, 2, 1, 0], [2, 0, 1, None, None, None, None]]
    # Story: 4 of 7, 3 of 7, 1 of 1; the other's participants joined after NOW: nobody is eligible yet.
    assert [row["shares"] for row in compared.retention] == [
        [pytest.approx(4 / 7), None], [pytest.approx(3 / 7), None], [1.0, None],
    ]
    assert compared.uplifts[0].ci_low == pytest.approx(-0.476443, abs=1e-6)
    assert compared.uplifts[1].difference == 0 and compared.uplifts[1].significant is False


# --- the results list: the page --------------------------------------------------------


def test_an_analyst_sees_stored_figures_and_not_computed_yet_for_the_rest(
    story, other, login, personas, computations  # noqa: F811
):
    analysis_cache.analysis_cached(story.campaign)
    response = login(personas.analyst).get(reverse("campaigns:results"))
    assert response.status_code == 200
    page = response.content.decode()
    story_row = re.search(rf'<tr data-campaign="{story.campaign.code}">(.*?)</tr>', page, re.S).group(1)
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)', story_row))
    assert (figures["participants"], figures["participation_rate"], figures["cost"]) == ("7", "70.0 %", "95.00")
    assert (figures["uplift"].strip(), figures["cost_per_conversion"]) == ("+10.0", "15.83")
    other_row = re.search(rf'<tr data-campaign="{other.code}">(.*?)</tr>', page, re.S).group(1)
    assert "Not computed yet" in other_row and 'data-figure="participants"' not in other_row
    assert f'name="c" value="{other.code}"' in page and f'action="{reverse("campaigns:compare")}"' in page


def test_a_significant_uplift_is_marked_in_the_list_as_a_gain_or_a_drop(login, personas, make_analysed):
    make_analysed(uplift=0.042, uplift_significant=True)
    make_analysed(uplift=-0.03, uplift_significant=True)
    make_analysed(uplift=0.2, uplift_significant=False)
    page = login(personas.analyst).get(reverse("campaigns:results")).content.decode()
    marks = re.findall(r'data-figure="uplift">([^<]*?)\s*(?:<span [^>]*data-significant="(\w+)">significant</span>)?</td>', page)
    assert sorted(marks) == [("+20.0", ""), ("+4.2", "gain"), ("-3.0", "drop")]


def test_the_list_is_sorted_by_the_sort_parameter_and_ignores_a_tampered_one(login, personas, make_analysed):
    few, many = make_analysed(participants=5), make_analysed(participants=9)
    Campaign.objects.filter(pk=few.pk).update(starts_at=many.starts_at + dt.timedelta(days=1))
    client = login(personas.analyst)
    response = client.get(reverse("campaigns:results"), {"sort": "-participants"})
    assert codes(row["campaign"] for row in response.context["rows"]) == [many.code, few.code]
    assert 'aria-sort="descending" data-sort-key="participants"' in response.content.decode()
    tampered = client.get(reverse("campaigns:results"), {"sort": "created_by__password"})
    assert tampered.status_code == 200 and tampered.context["sort"] == results.DEFAULT_SORT
    assert codes(row["campaign"] for row in tampered.context["rows"]) == [few.code, many.code]


def test_the_list_answers_htmx_with_its_table_keeping_the_order_for_the_filter_form(login, personas, make_analysed):
    make_analysed(participants=1)
    response = login(personas.analyst).get(reverse("campaigns:results"), {"sort": "winners"}, **HTMX)
    html = response.content.decode()
    assert html.startswith('<div id="result-table">') and "<html" not in html
    assert '<input type="hidden" name="sort" value="winners" form="result-filter">' in html


def test_the_list_paginates(login, personas, make_analysed):
    for _ in range(27):
        make_analysed()
    client = login(personas.analyst)
    assert len(client.get(reverse("campaigns:results")).context["rows"]) == 25
    assert len(client.get(reverse("campaigns:results"), {"page": 2}).context["rows"]) == 2


def test_the_lists_query_count_does_not_grow_with_its_rows(login, personas, make_analysed, tree):
    make_analysed(participants=1)
    client = login(personas.analyst)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("campaigns:results")).status_code == 200
        return len(captured)

    few = queries()
    for n in range(8):
        make_analysed(owner=tree.hd if n % 2 else None, participants=n, uplift=0.01, uplift_significant=True)
        make_analysed()  # not computed yet
    assert queries() == few


def test_a_user_in_another_branch_does_not_see_beijings_campaigns(story, login, personas, make_analysed, tree):  # noqa: F811
    shanghai = make_analysed(owner=tree.sh)
    page = login(personas.outsider).get(reverse("campaigns:results")).content.decode()
    assert shanghai.code in page and story.campaign.code not in page


def test_the_list_needs_a_login_and_only_answers_get(client, login, personas):
    assert client.get(reverse("campaigns:results")).status_code == 302
    assert login(personas.analyst).post(reverse("campaigns:results")).status_code == 405


def test_an_analyst_exports_the_filtered_list_as_csv_and_xlsx(login, personas, make_analysed):
    wanted = make_analysed(participants=12, participation_rate=0.5, cost=Decimal("30.50"), uplift=0.02)
    smaller = make_analysed(participants=3)
    client = login(personas.analyst)
    response = client.get(reverse("campaigns:results"), {"q": wanted.code, "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    header = rows[0]
    assert header[:3] == ["Code", "Name", "Kind"] and "Participants" in header and header[-1] == "Uplift significant"
    assert len(rows) == 2
    row = dict(zip(header, rows[1], strict=True))
    assert (row["Code"], row["Participants"], row["Participation rate"], row["Cost (CNY)"]) == (
        wanted.code, "12", "0.5", "30.5",
    )
    assert row["Uplift (percentage points)"] == "0.02"
    xlsx = client.get(reverse("campaigns:results"), {"export": "xlsx", "sort": "-participants"})
    sheet = load_workbook(io.BytesIO(body(xlsx))).active
    values = list(sheet.values)
    assert values[0][0] == "Code" and [line[0] for line in values[1:]] == [wanted.code, smaller.code]
    assert client.get(reverse("campaigns:results"), {"export": "pdf"}).status_code == 400


def test_the_campaigns_area_links_to_the_results(login, personas):
    page = login(personas.analyst).get(reverse("campaigns:campaign_list")).content.decode()
    assert f'href="{reverse("campaigns:results")}" id="campaign-results"' in page
    assert f'href="{reverse("campaigns:results")}" id="nav-results"' in page


# --- the comparison: the page ----------------------------------------------------------


def test_an_analyst_compares_two_campaigns_side_by_side(story, other, login, personas, computations):  # noqa: F811
    response = login(personas.analyst).get(compare_url(story.campaign.code, other.code))
    assert response.status_code == 200
    page = response.content.decode()
    participants = re.search(r'<tr data-kpi="participants">(.*?)</tr>', page, re.S).group(1)
    assert "higher" in participants
    cells = re.findall(r"<td class=\"text-end font-monospace([^\"]*)\"[^>]*>([^<]*)", participants)
    assert [(text.strip(), "table-success" in classes) for classes, text in cells] == [("7", True), ("3", False)]
    cost = re.search(r'<tr data-kpi="cost_per_participant">(.*?)</tr>', page, re.S).group(1)
    assert "lower" in cost and 'data-best="true">0.00' in cost
    charts = json.loads(re.search(r'<script id="compare-chart-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert charts["campaigns"] == [story.campaign.code, other.code]
    assert charts["daily"]["days"] == [1, 2, 3, 4, 5, 6, 7]
    assert [serie["data"] for serie in charts["daily"]["series"]] == [[1, 1, 1, 1, 2, 1, 0], [2, 0, 1, None, None, None, None]]
    assert charts["funnel"]["series"][1]["data"] == [100.0, 75.0, 75.0, 75.0, 0.0, 0.0]
    assert charts["uplift"]["intervals"][0] == pytest.approx([-47.64, 67.64])
    assert "vendor/echarts/echarts.min.js" in page and "js/compare-charts.js" in page
    assert "<script>" not in page  # no inline script: the figures travel as JSON
    assert "not significant" in page and "57.1 %" in page  # story's retention after 1 day: 4 of 7


@pytest.mark.parametrize("count", [1, 5])
def test_one_or_five_campaigns_are_refused_with_a_message_and_nothing_computed(
    story, make_analysed, login, personas, computations, count  # noqa: F811
):
    picked = [story.campaign.code] + [make_analysed().code for _ in range(count - 1)]
    response = login(personas.analyst).get(compare_url(*picked))
    assert response.status_code == 400
    assert f"Pick from 2 to 4 campaigns to compare; {count} given." in response.content.decode()
    assert computations == []


def test_the_same_campaign_twice_is_refused(story, login, personas, computations):  # noqa: F811
    response = login(personas.analyst).get(compare_url(story.campaign.code, story.campaign.code))
    assert response.status_code == 400 and "more than once" in response.content.decode()
    assert computations == []


def test_a_campaign_outside_the_scope_answers_404_and_nothing_is_computed(
    story, make_analysed, login, personas, tree, computations  # noqa: F811
):
    shanghai = make_analysed(owner=tree.sh)
    client = login(personas.analyst)
    response = client.get(compare_url(story.campaign.code, shanghai.code))
    assert response.status_code == 404
    assert f"No campaign in your scope has the code {shanghai.code}." in response.content.decode()
    assert client.get(compare_url(story.campaign.code, shanghai.code, export="kpis", format="csv")).status_code == 404
    assert client.get(compare_url(story.campaign.code, "EVT-20300301-NOPE")).status_code == 404
    assert computations == []


def test_a_draft_has_no_analysis_to_compare(story, make_campaign, login, personas, computations):  # noqa: F811
    draft = make_campaign("lottery")
    response = login(personas.analyst).get(compare_url(story.campaign.code, draft.code))
    assert response.status_code == 400 and draft.code in response.content.decode()
    assert computations == []


def test_an_analyst_exports_the_compared_key_figures(story, other, login, personas, computations):  # noqa: F811
    client = login(personas.analyst)
    response = client.get(compare_url(story.campaign.code, other.code, export="kpis", format="csv"))
    assert response.status_code == 200
    assert f'filename="compare-{story.campaign.code}-vs-{other.code}.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == ["Figure", "Better", story.campaign.code, other.code]
    by_figure = {row[0]: row[1:] for row in rows[1:]}
    assert by_figure["Participants"] == ["higher", "7", "3"]
    assert by_figure["Cost per conversion (CNY)"] == ["lower", "15.83", ""]
    assert by_figure["Audience"] == ["", "10", "4"]
    assert by_figure["Uplift significant"] == ["", "no", "no"]
    xlsx = client.get(compare_url(story.campaign.code, other.code, export="kpis", format="xlsx"))
    values = list(load_workbook(io.BytesIO(body(xlsx))).active.values)
    assert values[0] == ("Figure", "Better", story.campaign.code, other.code)
    assert ("Participation rate", "higher", 0.7, 0.75) in values
    assert client.get(compare_url(story.campaign.code, other.code, export="salaries")).status_code == 400
    assert client.get(compare_url(story.campaign.code, other.code, export="kpis", format="pdf")).status_code == 400


def test_the_comparison_needs_a_login_and_only_answers_get(story, other, client, login, personas):  # noqa: F811
    assert client.get(compare_url(story.campaign.code, other.code)).status_code == 302
    assert login(personas.analyst).post(compare_url(story.campaign.code, other.code)).status_code == 405


def test_comparing_stores_each_campaigns_figures_for_the_list(story, other, login, personas, computations):  # noqa: F811
    login(personas.analyst).get(compare_url(story.campaign.code, other.code))
    assert dict(CampaignResult.objects.values_list("campaign__code", "participants")) == {
        story.campaign.code: 7, other.code: 3,
    }


# --- the demo -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_demo_ends_with_current_figures_for_every_campaign_past_approval(settings, tmp_path):
    from tests.campaigns.lifecycle_helpers import forget_scheduled_jobs

    settings.MEDIA_ROOT = tmp_path / "media"
    forget_scheduled_jobs()
    try:
        out = io.StringIO()
        call_command("seed_demo", customers=300, stdout=out)
    finally:
        forget_scheduled_jobs()
    analysed = list(Campaign.objects.filter(status__in=results.ANALYSED).select_related("live_revision"))
    assert len(analysed) >= 5
    assert f"key figures of {len(analysed)} campaigns computed" in out.getvalue()
    for campaign in analysed:
        assert CampaignResult.objects.get(campaign=campaign).version == analysis_cache.analysis_version(campaign)
    assert CampaignResult.objects.filter(participants__gt=0).exists()
