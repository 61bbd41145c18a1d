"""Review pages: the queue, the lifecycle actions, the forecast panel and the
history — scope (404), roles (403), methods (405) and maker-checker."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, RevisionState, RewardSlot
from campaigns.selectors import review
from campaigns.services import lifecycle
from campaigns.views import review as review_views
from tests.campaigns.lifecycle_helpers import (
    edit,
    forget_scheduled_jobs,
    make_campaign,
    make_pool,
    make_prize,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _no_scheduled_jobs_across_tests():
    forget_scheduled_jobs()
    yield
    forget_scheduled_jobs()


@pytest.fixture
def prize(tree, personas):
    pool = make_pool(actor=personas.branch_admin, owner=tree.bj)
    return make_prize(actor=personas.branch_admin, pool=pool)


@pytest.fixture
def campaign(tree, personas, prize, make_customers):
    make_customers(5, tree.bj)
    return make_campaign(
        owner=tree.bj, created_by=personas.operator, name="Beijing deposits",
        slots=[{"label": "Packet", "prize": prize, "quantity": 2}],
    )


@pytest.fixture
def sh_campaign(tree, personas, make_customers):
    make_customers(3, tree.sh, start=100)
    pool = make_pool(actor=personas.outsider, owner=tree.sh, code="SH-POOL")
    sh_prize = make_prize(actor=personas.outsider, pool=pool, code="SH5")
    return make_campaign(
        owner=tree.sh, created_by=personas.outsider, code="EVT-20300101-SHSH", name="Shanghai deposits",
        slots=[{"label": "Packet", "prize": sh_prize, "quantity": 1}],
    )


def url(name, campaign=None):
    return reverse(f"campaigns:{name}", args=[campaign.code] if campaign else [])


def status_of(campaign):
    return Campaign.objects.get(pk=campaign.pk).status


def submit(campaign, actor):
    lifecycle.campaign_submit(actor=actor, campaign=campaign)


@pytest.fixture
def live(campaign, personas, monkeypatch, django_capture_on_commit_callbacks):
    submit(campaign, personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)
    monkeypatch.setattr(timezone, "now", lambda: campaign.starts_at + dt.timedelta(minutes=1))
    lifecycle.campaign_go_live(actor=None, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


# --- the queue ----------------------------------------------------------------------------


def test_the_queue_url_is_not_taken_for_a_campaign_code():
    assert resolve("/campaigns/review/").func is review_views.review_queue


def test_reviewers_see_what_waits_in_their_scope_but_not_their_own_or_other_branches(
    tree, personas, login, campaign, sh_campaign, prize, make_customers
):
    hd_pool = make_pool(actor=personas.sub_admin, owner=tree.hd, code="HD-POOL")
    hd_prize = make_prize(actor=personas.sub_admin, pool=hd_pool, code="HD5")
    make_customers(2, tree.hd, start=50)
    haidian = make_campaign(
        owner=tree.hd, created_by=personas.sub_admin, code="EVT-20300101-HDHD", name="Haidian deposits",
        slots=[{"label": "Packet", "prize": hd_prize, "quantity": 1}],
    )
    submit(campaign, personas.operator)
    submit(haidian, personas.sub_admin)
    submit(sh_campaign, personas.outsider)
    mine = make_campaign(
        owner=tree.bj, created_by=personas.branch_admin, code="EVT-20300101-MINE", name="Admin's own",
        slots=[{"label": "Packet", "prize": prize, "quantity": 1}],
    )
    submit(mine, personas.branch_admin)

    page = login(personas.reviewer).get(url("review_queue")).content.decode()
    assert "Beijing deposits" in page and "Haidian deposits" in page and "Admin&#x27;s own" in page
    assert "Shanghai deposits" not in page

    page = login(personas.branch_admin).get(url("review_queue")).content.decode()
    table, waiting = page.split('id="waiting-for-others"')
    assert "Beijing deposits" in table and "Admin&#x27;s own" not in table
    assert "Admin&#x27;s own" in waiting

    page = login(personas.outsider).get(url("review_queue")).content.decode()
    assert "Beijing deposits" not in page and "Haidian deposits" not in page
    table, waiting = page.split('id="waiting-for-others"')
    assert "Shanghai deposits" not in table and "Shanghai deposits" in waiting


def test_the_queue_filters_and_answers_htmx_with_the_table(tree, personas, login, campaign, prize):
    other = make_campaign(
        owner=tree.bj, created_by=personas.operator, code="EVT-20300101-ZZZZ", name="Autumn cards",
        slots=[{"label": "Packet", "prize": prize, "quantity": 1}],
    )
    submit(campaign, personas.operator)
    submit(other, personas.operator)
    client = login(personas.reviewer)

    response = client.get(url("review_queue"), {"q": "autumn"}, **HTMX)

    page = response.content.decode()
    assert page.startswith('<div id="review-table">')
    assert "Autumn cards" in page and "Beijing deposits" not in page
    assert "new campaign" in page


def test_the_queue_costs_the_same_queries_for_one_row_or_many(tree, personas, login, prize, make_customers):
    make_customers(2, tree.bj)
    client = login(personas.reviewer)

    def add(n):
        campaign = make_campaign(
            owner=tree.bj, created_by=personas.operator, code=f"EVT-20300101-Q{n:03d}",
            slots=[{"label": "Packet", "prize": prize, "quantity": 1}],
        )
        submit(campaign, personas.operator)

    add(0)
    client.get(url("review_queue"))  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(url("review_queue"))
    for n in range(1, 4):
        add(n)
    with CaptureQueriesContext(connection) as four:
        page = client.get(url("review_queue")).content.decode()
    assert page.count('data-code="EVT-20300101-Q') == 4
    assert len(four) == len(one)


def test_the_queue_is_for_approvers_and_only_read(personas, login, client):
    assert login(personas.analyst).get(url("review_queue")).status_code == 403
    assert login(personas.operator).get(url("review_queue")).status_code == 403
    assert login(personas.reviewer).post(url("review_queue")).status_code == 405
    client.logout()
    assert client.get(url("review_queue")).status_code == 302


# --- submit --------------------------------------------------------------------------------


def test_submitting_redirects_to_the_campaign_with_a_message(personas, login, campaign):
    response = login(personas.operator).post(url("campaign_submit", campaign))

    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:campaign_detail", args=[campaign.code])
    assert status_of(campaign) == CampaignStatus.PENDING_REVIEW
    page = login(personas.operator).get(response["Location"]).content.decode()
    assert "Submitted: the campaign waits for someone else&#x27;s approval." in page


def test_a_refused_submit_lists_the_problems(personas, login, campaign):
    RewardSlot.objects.filter(campaign=campaign).update(quantity=50)
    client = login(personas.operator)

    page = client.post(url("campaign_submit", campaign), follow=True).content.decode()
    assert "The campaign cannot be submitted yet:" in page
    assert "50 are needed, 10 are available" in page

    panel = client.post(url("campaign_submit", campaign), **HTMX).content.decode()
    assert panel.startswith('\n<div class="card shadow-sm mb-3" id="lifecycle-panel"')
    problems = re.search(r'id="lifecycle-problems">(.*?)</div>', panel, re.S).group(1)
    assert "50 are needed, 10 are available" in problems
    assert status_of(campaign) == CampaignStatus.DRAFT


def test_an_htmx_submit_swaps_the_panel_in_place(personas, login, campaign):
    panel = login(personas.operator).post(url("campaign_submit", campaign), **HTMX).content.decode()
    assert 'id="lifecycle-notice"' in panel
    assert 'id="waiting-for-other"' in panel
    assert 'id="withdraw-form"' in panel
    assert 'id="approve-form"' not in panel


def test_submit_answers_403_404_and_405(personas, login, campaign, sh_campaign):
    assert login(personas.analyst).post(url("campaign_submit", campaign)).status_code == 403
    assert login(personas.reviewer).post(url("campaign_submit", campaign)).status_code == 403
    assert login(personas.outsider).post(url("campaign_submit", campaign)).status_code == 404
    assert login(personas.operator).post(url("campaign_submit", sh_campaign)).status_code == 404
    assert login(personas.operator).get(url("campaign_submit", campaign)).status_code == 405
    assert status_of(campaign) == CampaignStatus.DRAFT


# --- approve, reject, withdraw -------------------------------------------------------------------


def test_a_reviewer_approves_from_the_campaign(personas, login, campaign, prize, django_capture_on_commit_callbacks):
    submit(campaign, personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(personas.reviewer).post(url("campaign_approve", campaign), {"reason": "Fine"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.live_revision.decision_reason == "Fine"


def test_self_approval_is_refused_in_the_view_and_changes_nothing(personas, login, campaign, prize):
    submit(campaign, personas.branch_admin)
    client = login(personas.branch_admin)

    assert client.post(url("campaign_approve", campaign)).status_code == 403
    assert client.post(url("campaign_approve", campaign), **HTMX).status_code == 403
    assert client.post(url("campaign_reject", campaign), {"reason": "Mine"}).status_code == 403
    assert client.post(url("campaign_reject", campaign)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_REVIEW
    assert campaign.revisions.get().state == RevisionState.PENDING
    assert prize.reservations.count() == 0


def test_approve_and_reject_answer_403_404_and_405(personas, login, campaign):
    submit(campaign, personas.operator)
    for name in ("campaign_approve", "campaign_reject"):
        assert login(personas.operator).post(url(name, campaign), {"reason": "x"}).status_code == 403
        assert login(personas.analyst).post(url(name, campaign), {"reason": "x"}).status_code == 403
        assert login(personas.outsider).post(url(name, campaign), {"reason": "x"}).status_code == 404
        assert login(personas.reviewer).get(url(name, campaign)).status_code == 405
    assert status_of(campaign) == CampaignStatus.PENDING_REVIEW


def test_a_rejection_needs_a_reason(personas, login, campaign):
    submit(campaign, personas.operator)
    client = login(personas.reviewer)

    page = client.post(url("campaign_reject", campaign), {"reason": " "}, follow=True).content.decode()
    assert "Say why the campaign is rejected." in page
    assert status_of(campaign) == CampaignStatus.PENDING_REVIEW

    client.post(url("campaign_reject", campaign), {"reason": "Too generous"})
    assert status_of(campaign) == CampaignStatus.DRAFT
    assert campaign.revisions.get().decision_reason == "Too generous"


def test_the_submitter_withdraws_but_a_reviewer_cannot(personas, login, campaign, sh_campaign):
    submit(campaign, personas.operator)
    assert login(personas.reviewer).post(url("campaign_withdraw", campaign)).status_code == 403
    assert login(personas.outsider).post(url("campaign_withdraw", campaign)).status_code == 404
    assert login(personas.operator).get(url("campaign_withdraw", campaign)).status_code == 405
    assert login(personas.operator).post(url("campaign_withdraw", campaign)).status_code == 302
    assert status_of(campaign) == CampaignStatus.DRAFT


def test_a_second_click_is_told_what_happened(personas, login, campaign):
    submit(campaign, personas.operator)
    client = login(personas.operator)
    client.post(url("campaign_withdraw", campaign))
    page = client.post(url("campaign_withdraw", campaign), follow=True).content.decode()
    assert "Nothing is waiting for review." in page


# --- pause, resume, end -----------------------------------------------------------------------------


def test_an_operator_pauses_resumes_and_ends_a_live_campaign(personas, login, live, prize):
    client = login(personas.operator)
    client.post(url("campaign_pause", live), {"reason": "Complaint"})
    assert status_of(live) == CampaignStatus.PAUSED
    panel = client.post(url("campaign_resume", live), **HTMX).content.decode()
    assert "Resumed: the campaign is live again." in panel
    assert status_of(live) == CampaignStatus.LIVE
    client.post(url("campaign_end", live), {"reason": "Done"})
    assert status_of(live) == CampaignStatus.ENDED
    prize.refresh_from_db()
    assert prize.stock_available == 10


def test_pause_resume_and_end_answer_403_404_and_405(personas, login, live):
    for name in ("campaign_pause", "campaign_resume", "campaign_end"):
        assert login(personas.analyst).post(url(name, live)).status_code == 403
        assert login(personas.outsider).post(url(name, live)).status_code == 404
        assert login(personas.operator).get(url(name, live)).status_code == 405
    assert status_of(live) == CampaignStatus.LIVE


# --- reading: the panel, the forecast and the history ---------------------------------------------------


def render_panel(user, campaign):
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(
        "campaigns/partials/lifecycle_panel.html", {"lifecycle": review.lifecycle_context(user, campaign)}, request=request
    )


def test_the_panel_offers_each_person_what_they_may_do(personas, campaign):
    assert 'id="submit-form"' in render_panel(personas.operator, campaign)
    assert 'id="submit-form"' not in render_panel(personas.analyst, campaign)
    submit(campaign, personas.operator)
    reviewer = render_panel(personas.reviewer, campaign)
    assert 'id="approve-form"' in reviewer and 'id="reject-form"' in reviewer
    operator = render_panel(personas.operator, campaign)
    assert 'id="approve-form"' not in operator and 'id="waiting-for-other"' in operator
    assert 'id="forecast-panel"' in operator


def test_the_panel_of_a_live_campaign_offers_pause_end_and_the_changes(personas, live):
    panel = render_panel(personas.operator, live)
    assert 'id="pause-form"' in panel and 'id="end-form"' in panel and 'id="submit-form"' not in panel
    edit(live, name="Renamed")
    panel = render_panel(personas.operator, live)
    assert "Submit the changes for approval" in panel
    assert 'id="lifecycle-unapproved"' in panel
    assert 'id="pause-form"' not in render_panel(personas.analyst, live)


def test_the_forecast_panel_refreshes_over_htmx(personas, login, campaign, sh_campaign):
    client = login(personas.analyst)
    panel = client.get(url("campaign_forecast", campaign), **HTMX).content.decode()
    assert panel.startswith('<div id="forecast-panel">')
    assert re.search(r'data-value="audience">5<', panel)
    response = client.get(url("campaign_forecast", campaign))
    assert response.status_code == 302
    assert client.get(url("campaign_forecast", sh_campaign), **HTMX).status_code == 404
    assert client.post(url("campaign_forecast", campaign), **HTMX).status_code == 405


def test_the_history_shows_each_revision_with_its_diff_and_the_audit(
    personas, login, live, django_capture_on_commit_callbacks
):
    edit(live, name="Beijing deposits, extended")
    submit(live, personas.operator)
    lifecycle.campaign_reject(actor=personas.reviewer, campaign=live, reason="Keep the name")

    page = login(personas.analyst).get(url("campaign_history", live)).content.decode()

    second = page[page.index('id="revision-2"'):page.index('id="revision-1"')]
    assert "Keep the name" in second
    assert re.search(r"Name</th>\s*<td[^>]*>Beijing deposits</td>\s*<td[^>]*>Beijing deposits, extended</td>", second)
    first = page[page.index('id="revision-1"'):]
    assert "The first revision: everything is new." in first
    assert "running" in first
    assert 'id="unsubmitted-changes"' in page
    audit = page[page.index('id="campaign-audit"'):]
    for label in ("submitted for approval", "approved", "went live", "rejected"):
        assert label in audit


def test_the_history_answers_404_and_405(personas, login, campaign, sh_campaign):
    assert login(personas.outsider).get(url("campaign_history", campaign)).status_code == 404
    assert login(personas.analyst).get(url("campaign_history", sh_campaign)).status_code == 404
    assert login(personas.analyst).post(url("campaign_history", campaign)).status_code == 405
