"""Issue 7's "done when", in Chromium on the seeded demo: the Beijing operator
opens the analysis of Beijing's live lottery, sees both charts, downloads the
key figures, tags the winners for re-marketing, watches a real rq worker do it,
and finds the new tag in the segment builder counting the winners in scope —
while the Haidian operator, whose scope is one sub-branch, counts only the
winners there with the same tag.

The demo's draws are random, so the expected figures are computed here from
the database, as the analysis computes them."""

import io
import signal

import django_rq
import openpyxl
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Page, expect
from rq import SimpleWorker
from rq.job import Job, JobStatus

from accounts.models import User
from audiences.models import Customer, CustomerTag
from campaigns.models import (
    Campaign,
    CampaignStatus,
    ParticipantGroup,
    ParticipantTagging,
    TaggingStatus,
)
from campaigns.selectors.analysis import campaign_analysis, participant_groups
from campaigns.services.participant_tags import tag_code
from campaigns.views.analysis import KPIS
from tests.campaigns.lifecycle_helpers import forget_scheduled_jobs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OPERATOR = "bj.operator"
SUB_BRANCH_OPERATOR = "bj-hd.operator"


@pytest.fixture
def queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Jobs wait in the real Redis (REDIS_URL) until the test runs a worker.
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 600}}
    queue = django_rq.get_queue("default")
    queue.empty()
    forget_scheduled_jobs()
    yield queue
    queue.empty()
    forget_scheduled_jobs()


@pytest.fixture
def lottery(queue) -> Campaign:
    """The demo, and its live lottery (Beijing's) with the simulated draws."""
    call_command("seed_demo", customers=300, stdout=io.StringIO())
    # Whatever seeding queued (deliveries of the simulated wins) is not this test's.
    queue.empty()
    return Campaign.objects.select_related("owner_branch").get(kind="lottery", status=CampaignStatus.LIVE)


def log_in(live_server, page: Page, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}{reverse('accounts:login')}?next={next_url}")
    form = page.locator("#login-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(settings.DEMO_PASSWORD)
    form.get_by_role("button", name="Log in").click()


def run_worker(queue, job_id: str) -> None:
    """``rqworker --burst`` in this thread, which shares the live server's database."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert Job.fetch(job_id, connection=queue.connection).get_status() == JobStatus.FINISHED


def kpi_sheet(path: str) -> dict[str, object]:
    # The downloaded file has no extension, by which openpyxl would tell the format.
    with open(path, "rb") as fh:
        sheet = openpyxl.load_workbook(io.BytesIO(fh.read()), read_only=True).worksheets[0]
    header, *rows = sheet.iter_rows(values_only=True)
    assert header == ("Figure", "Value")
    return dict(rows)


def expected_kpis(campaign: Campaign) -> dict[str, object]:
    """The analysis' key figures under the English headings the export uses."""
    figures = campaign_analysis(campaign).kpis.as_dict()
    with translation.override("en"):
        return {str(label): (name, figures[name], kind) for name, label, kind in KPIS}


def build_segment_on(page: Page, live_server, *, name: str, tag: str) -> None:
    """A new segment of the user's branch whose one condition is ``tag``, picked
    in the builder's "Campaign history" group of tags."""
    page.goto(f"{live_server.url}{reverse('audiences:segment_new')}")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create and add conditions").click()
    expect(page.locator("#page-title")).to_have_text(name)
    expect(page.locator("#segment-size")).to_be_visible()
    expect(page.locator("#segment-tree.htmx-added")).to_have_count(0)
    root = page.locator("#segment-tree .rule-root")
    root.locator(":scope > .rule-add select[name=add]").select_option("tag")
    root.locator(":scope > .rule-add .rule-add-condition").click()
    form = page.locator("#rule-form")
    expect(form).to_be_visible()
    expect(page.locator("#segment-tree.htmx-added")).to_have_count(0)
    offered = form.locator(f'optgroup[label="Campaign history"] > option[value="{tag}"]')
    expect(offered).to_have_count(1)
    form.get_by_label("Tag").select_option(tag)
    form.get_by_role("button", name="Add").click()
    expect(page.locator("#rule-form")).to_have_count(0)
    expect(root.locator(":scope > ul.rule-children > li.rule-node")).to_have_count(1)


def winners_in_scope(winners, username: str) -> int:
    visible = Customer.objects.visible_to(User.objects.get(username=username))
    return visible.filter(pk__in=list(winners)).count()


def test_the_operator_reads_the_demo_lottery_tags_its_winners_and_segments_them(
    live_server, page: Page, browser, queue, lottery
):
    campaign = lottery
    assert campaign.owner_branch.code == "BJ"
    winners = participant_groups(campaign)[ParticipantGroup.WINNERS]
    assert len(winners) > 0, "the demo's lottery has winners"
    kpis = expected_kpis(campaign)
    assert kpis["Winners"][1] == len(winners)

    # 1-2. The analysis page, both charts drawn.
    log_in(live_server, page, OPERATOR, reverse("campaigns:campaign_analysis", args=[campaign.code]))
    expect(page.locator("#analysis-title")).to_contain_text(campaign.code)
    expect(page.locator("#chart-funnel svg")).to_have_count(1)
    expect(page.locator("#chart-daily svg")).to_have_count(1)
    expect(page.locator("[data-kpi=winners] .fs-5")).to_have_text(str(len(winners)))

    # 3. The key figures as Excel: every figure as the analysis computes it.
    with page.expect_download() as download:
        page.locator("#analysis-kpis a", has_text="Excel").click()
    assert download.value.suggested_filename == f"{campaign.code}-kpis.xlsx"
    sheet = kpi_sheet(download.value.path())
    assert list(sheet) == list(kpis)
    for label, (name, value, kind) in kpis.items():
        if value is None:
            assert sheet[label] is None, name
        elif kind == "int":
            assert sheet[label] == value, name
        else:
            assert sheet[label] == pytest.approx(float(value)), name
    assert sheet["Participants"] > 0 and sheet["Winners"] > 0

    # 4. Tag the winners: queued, then done by the worker while the page polls.
    section = page.locator("#participant-tags")
    expect(section.locator("[data-size=winners]")).to_have_text(str(len(winners)))
    page.evaluate("window.notReloaded = true")
    section.locator("button[data-tag-group=winners]").click()
    expect(page.locator("#participant-tags-notice")).to_contain_text(tag_code(campaign, "winners"))
    tagging = ParticipantTagging.objects.select_related("tag").get(campaign=campaign, group="winners")
    row = page.locator(f"#tagging-{tagging.pk}")
    expect(row).to_have_attribute("data-tagging-status", TaggingStatus.QUEUED)
    expect(row.locator(f"#tagging-{tagging.pk}-bar")).to_have_text("Waiting for a worker…")
    assert tagging.job_id in queue.job_ids

    run_worker(queue, tagging.job_id)
    expect(row).to_have_attribute("data-tagging-status", TaggingStatus.DONE, timeout=10_000)
    n = len(winners)
    expect(row.locator("[data-tagging-result]")).to_contain_text(
        f"{n} customer{'' if n == 1 else 's'} in the group, {n} newly tagged"
    )
    expect(row.locator(f"[data-tag-link='{tagging.tag.code}']")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    tagging.refresh_from_db()
    assert (tagging.status, tagging.total, tagging.added) == (TaggingStatus.DONE, n, n)
    assert set(CustomerTag.objects.filter(tag=tagging.tag).values_list("customer_id", flat=True)) == set(winners)

    # 5. The segment builder counts the winners the operator's scope holds.
    expected = winners_in_scope(winners, OPERATOR)
    assert expected > 0
    build_segment_on(page, live_server, name="Lottery winners", tag=tagging.tag.code)
    expect(page.locator("#segment-size")).to_have_text(str(expected))

    # The Haidian operator sees Beijing's campaign history tag too, but counts
    # only the winners of Haidian's subtree. The lottery's draws are random:
    # usually some winners are Beijing's own (fewer here); now and then all
    # are Haidian's (the same count).
    in_haidian = winners_in_scope(winners, SUB_BRANCH_OPERATOR)
    context = browser.new_context(locale="en-US")
    try:
        haidian = context.new_page()
        log_in(live_server, haidian, SUB_BRANCH_OPERATOR, reverse("audiences:segment_list"))
        expect(haidian.locator("#login-form")).to_have_count(0)
        build_segment_on(haidian, live_server, name="Haidian lottery winners", tag=tagging.tag.code)
        expect(haidian.locator("#segment-size")).to_have_text(str(in_haidian))
    finally:
        context.close()
