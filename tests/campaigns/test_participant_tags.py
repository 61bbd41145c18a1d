"""Tagging a campaign's customers for re-marketing, on the hand-computed campaign
of test_analysis_metrics (see that module's docstring for the story).

The groups, by hand: participants T0 T1 T3 T4 T6 T7 and the referee R; winners
T0 T1 T6 T7 (T4's award was refused by the pool); participants who did not
win T3 T4 R; converted T0 T4 T6 T7 R (T1 bought before joining, T3's deposit
came after the window); control K0-K3.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import django_rq
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEntry
from audiences import selectors as audience_selectors
from audiences.models import Customer, CustomerTag, Tag, TagCategory
from audiences.services.tagging import customer_tags_add
from campaigns.models import Award, Campaign, CampaignStatus, ParticipantTagging, TaggingStatus
from campaigns.services import participant_tags
from tests.campaigns import lifecycle_helpers as helpers
from tests.campaigns.test_analysis_metrics import story  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

GROUPS = {
    "participants": ["T000000", "T000001", "T000003", "T000004", "T000006", "T000007", "R000000"],
    "winners": ["T000000", "T000001", "T000006", "T000007"],
    "non_winners": ["T000003", "T000004", "R000000"],
    "converted": ["T000000", "T000004", "T000006", "T000007", "R000000"],
    "control": ["K000000", "K000001", "K000002", "K000003"],
}


@pytest.fixture
def inline_jobs(settings):
    """Jobs really run, inside enqueue(), against the real Redis of REDIS_URL."""
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "ASYNC": False}}
    with translation.override("en"):
        yield


@pytest.fixture
def waiting_jobs():
    """Jobs wait in the real Redis queue (no worker runs them); emptied afterwards."""
    yield
    django_rq.get_queue("default").empty()


def tag_now(story, group, actor, capture):  # noqa: F811
    """Request the tagging and run its job (after the commit, as in production)."""
    with capture(execute=True):
        tagging = participant_tags.participants_tag(campaign=story.campaign, group=group, actor=actor)
    tagging.refresh_from_db()
    return tagging


def members(tag) -> list[str]:
    return sorted(
        CustomerTag.objects.filter(tag=tag).values_list("customer__customer_ref", flat=True)
    )


def tag_rule(code: str) -> dict:
    return {"id": "root", "type": "group", "op": "and", "children": [
        {"id": "n1", "type": "tag", "op": "has", "tag": code},
    ]}


# --- the service and the job ---------------------------------------------------------


@pytest.mark.parametrize("group", list(GROUPS))
def test_each_group_is_tagged_with_exactly_the_customers_the_analysis_counts(
    story, personas, inline_jobs, group, django_capture_on_commit_callbacks  # noqa: F811
):
    tagging = tag_now(story, group, personas.operator, django_capture_on_commit_callbacks)
    assert tagging.status == TaggingStatus.DONE
    assert members(tagging.tag) == sorted(GROUPS[group])
    expected = len(GROUPS[group])
    assert (tagging.total, tagging.done, tagging.added) == (expected, expected, expected)
    assert tagging.started_at and tagging.finished_at and tagging.failure == ""
    rows = CustomerTag.objects.filter(tag=tagging.tag)
    assert set(rows.values_list("source", "source_ref")) == {("campaign", f"campaign:EVT-20300301-ANA:{group}")}


def test_the_group_sizes_of_the_analysis_match_the_tagged_groups(story):  # noqa: F811
    kpis = story.result.kpis
    assert kpis.participants == len(GROUPS["participants"])
    assert kpis.winners == len(GROUPS["winners"])
    assert kpis.participants - kpis.winners == len(GROUPS["non_winners"])
    assert kpis.converted_customers == len(GROUPS["converted"])
    assert kpis.control == len(GROUPS["control"])


def test_the_tag_is_a_campaign_history_tag_of_the_campaigns_branch_with_its_lineage(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    assert not TagCategory.objects.filter(code="campaign_history").exists()
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    tag = tagging.tag
    category = TagCategory.objects.get(code="campaign_history")
    assert (category.name_zh, category.name_en) == ("活动历史", "Campaign history")
    assert tag.category == category
    assert tag.code == "CAMP.EVT-20300301-ANA.winners"
    assert tag.owner_branch == story.campaign.owner_branch == story.bj
    assert (tag.name_en, tag.name_zh) == ("Spring deposits · winners", "Spring deposits · 中奖客户")
    assert "EVT-20300301-ANA" in tag.description and "removes nobody" in tag.description
    # The lineage: which campaign, which group, who asked and when.
    assert (tagging.campaign, tagging.group, tagging.requested_by) == (story.campaign, "winners", personas.operator)
    assert tagging.created_at <= timezone.now()


def test_the_longest_campaign_code_still_makes_a_valid_tag_code(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    code = "EVT-" + "X" * 36
    type(story.campaign).objects.filter(pk=story.campaign.pk).update(code=code, name="N" * 120)
    story.campaign.refresh_from_db()
    tagging = tag_now(story, "non_winners", personas.operator, django_capture_on_commit_callbacks)
    assert tagging.tag.code == f"CAMP.{code}.non_winners" and len(tagging.tag.code) <= 60
    assert len(tagging.tag.name_en) <= 100 and tagging.tag.name_en.endswith(" · non-winners")
    assert tagging.status == TaggingStatus.DONE


def test_tagging_a_group_again_reuses_its_tag_adds_newcomers_and_removes_nobody(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    first = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    # Since then T3 won, and someone gave the tag by hand to T9, who is no winner.
    t3, t9 = story.t[3], story.t[9]
    Award.objects.create(
        campaign=story.campaign, customer=t3, slot_key=1, unit=99, prize=story.cash, key="late", status="granted",
        action="draw", seq=2, day=timezone.localdate(), day_seq=2, cost=story.cash.unit_cost, at=timezone.now(),
    )
    customer_tags_add(tag=first.tag, customer_ids=[t9.pk], source="manual")
    second = tag_now(story, "winners", personas.branch_admin, django_capture_on_commit_callbacks)
    assert second.pk != first.pk and second.tag == first.tag
    assert Tag.objects.filter(category__code="campaign_history").count() == 1
    # Five winners now, one of them new to the tag; T9 keeps it.
    assert (second.total, second.done, second.added) == (5, 5, 1)
    assert members(first.tag) == sorted([*GROUPS["winners"], "T000003", "T000009"])
    assert list(ParticipantTagging.objects.filter(campaign=story.campaign).values_list("requested_by", flat=True)) == [
        personas.branch_admin.pk, personas.operator.pk,
    ]


def test_a_segment_on_the_tag_counts_the_group_as_soon_as_the_job_is_done(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    for group in ("winners", "converted"):
        # The web process has read the (still empty) index before the job runs.
        code = participant_tags.tag_code(story.campaign, group)
        tagging = tag_now(story, group, personas.operator, django_capture_on_commit_callbacks)
        preview = audience_selectors.segment_preview(rule=tag_rule(code), owner_branch=story.bj)
        assert preview.size == len(GROUPS[group])
        counts = audience_selectors.tag_member_counts(user=personas.operator, tags=[tagging.tag])
        assert counts[tagging.tag.pk] == len(GROUPS[group])


def test_the_progress_is_committed_after_each_chunk(
    story, personas, inline_jobs, monkeypatch, django_capture_on_commit_callbacks  # noqa: F811
):
    monkeypatch.setattr(participant_tags, "CHUNK", 2)
    seen = []
    add = participant_tags.customer_tags_add

    def watched(**kwargs):
        row = ParticipantTagging.objects.get()
        seen.append((row.status, row.done, row.total, row.added))
        return add(**kwargs)

    monkeypatch.setattr(participant_tags, "customer_tags_add", watched)
    tagging = tag_now(story, "participants", personas.operator, django_capture_on_commit_callbacks)
    assert seen == [("running", 0, 7, 0), ("running", 2, 7, 2), ("running", 4, 7, 4), ("running", 6, 7, 6)]
    assert (tagging.status, tagging.done, tagging.total, tagging.added) == ("done", 7, 7, 7)


def test_the_request_the_tag_and_the_end_are_audited(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    tagging = tag_now(story, "control", personas.operator, django_capture_on_commit_callbacks)
    entries = {e.action: e for e in AuditEntry.objects.filter(action__in=[
        "tag_category.create", "tag.create", "participant_tagging.request", "participant_tagging.done",
    ])}
    assert set(entries) == {"tag_category.create", "tag.create", "participant_tagging.request", "participant_tagging.done"}
    assert entries["tag.create"].actor == personas.operator and entries["tag.create"].object_id == str(tagging.tag.pk)
    assert entries["participant_tagging.request"].actor == personas.operator
    assert entries["participant_tagging.request"].changes == {
        "campaign": "EVT-20300301-ANA", "group": "control", "tag": tagging.tag.code,
    }
    assert entries["participant_tagging.done"].changes == {"tag": tagging.tag.code, "total": 4, "added": 4}
    assert entries["participant_tagging.done"].branch == story.bj
    # A second run reuses the tag: no second tag.create.
    tag_now(story, "control", personas.operator, django_capture_on_commit_callbacks)
    assert AuditEntry.objects.filter(action="tag.create").count() == 1


def test_running_the_job_twice_tags_once(story, personas, inline_jobs, django_capture_on_commit_callbacks):  # noqa: F811
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    assert participant_tags.tagging_run(tagging.pk) == "skipped"
    tagging.refresh_from_db()
    assert (tagging.status, tagging.added) == ("done", 4)
    assert AuditEntry.objects.filter(action="participant_tagging.done").count() == 1


def test_only_one_tagging_of_a_group_waits_or_runs_at_a_time(
    story, personas, waiting_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=True):
        first = participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    assert django_rq.get_queue("default").fetch_job(first.job_id).get_status() == "queued"
    with pytest.raises(ValidationError, match="already being tagged"):
        participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.branch_admin)
    # Another group may start meanwhile.
    participant_tags.participants_tag(campaign=story.campaign, group="control", actor=personas.operator)
    assert ParticipantTagging.objects.filter(group="winners").count() == 1
    assert ParticipantTagging.objects.count() == 2


def test_a_failing_job_is_marked_failed_with_its_reason_and_running_it_again_finishes_the_group(
    story, personas, inline_jobs, monkeypatch, django_capture_on_commit_callbacks  # noqa: F811
):
    monkeypatch.setattr(participant_tags, "CHUNK", 2)
    add = participant_tags.customer_tags_add
    calls = []

    def breaks_on_the_second_chunk(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return add(**kwargs)

    monkeypatch.setattr(participant_tags, "customer_tags_add", breaks_on_the_second_chunk)
    failed = tag_now(story, "participants", personas.operator, django_capture_on_commit_callbacks)
    assert failed.status == TaggingStatus.FAILED
    assert failed.failure == "RuntimeError: database went away"
    # The first chunk was committed with its progress; the second rolled back.
    assert (failed.done, failed.added) == (2, 2) and len(members(failed.tag)) == 2
    assert AuditEntry.objects.filter(action="participant_tagging.failed", object_id=str(failed.pk)).exists()

    monkeypatch.setattr(participant_tags, "customer_tags_add", add)
    again = tag_now(story, "participants", personas.operator, django_capture_on_commit_callbacks)
    assert again.status == TaggingStatus.DONE
    assert (again.total, again.done, again.added) == (7, 7, 5)
    assert members(again.tag) == sorted(GROUPS["participants"])


def test_a_tagging_whose_worker_was_killed_is_given_up_and_run_again(
    story, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=False):
        killed = participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    # The killed worker had claimed it and tagged two winners; its job is gone from Redis.
    ParticipantTagging.objects.filter(pk=killed.pk).update(status="running", started_at=timezone.now(), total=4, done=2)
    refs = Customer.objects.filter(customer_ref__in=GROUPS["winners"][:2]).values_list("pk", flat=True)
    customer_tags_add(tag=killed.tag, customer_ids=list(refs), source="campaign")
    killed.refresh_from_db()
    assert participant_tags.tagging_stuck(killed)
    again = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    killed.refresh_from_db()
    assert killed.status == TaggingStatus.FAILED and "lost" in killed.failure
    assert (again.status, again.total, again.added) == (TaggingStatus.DONE, 4, 2)
    assert members(again.tag) == sorted(GROUPS["winners"])
    # A job of the given-up tagging that turns up late does nothing.
    assert participant_tags.tagging_run(killed.pk) == "skipped"


def test_a_second_click_before_the_first_job_reaches_redis_is_refused_not_taken_for_a_dead_job(
    story, personas, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=False):  # committed, not yet enqueued
        first = participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    assert not participant_tags.tagging_stuck(first)
    with pytest.raises(ValidationError, match="already being tagged"):
        participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    first.refresh_from_db()
    assert first.status == TaggingStatus.QUEUED


def test_a_tagging_whose_job_waits_in_the_queue_is_not_stuck(story, personas, waiting_jobs, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        tagging = participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    # Long in the queue (a busy worker), but its job is there.
    ParticipantTagging.objects.filter(pk=tagging.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    tagging.refresh_from_db()
    assert not participant_tags.tagging_stuck(tagging)
    django_rq.get_queue("default").fetch_job(tagging.job_id).delete()
    assert participant_tags.tagging_stuck(tagging)


def test_an_unknown_group_is_refused_and_nothing_is_created(story, personas):  # noqa: F811
    with pytest.raises(ValidationError):
        participant_tags.participants_tag(campaign=story.campaign, group="everyone", actor=personas.operator)
    assert not ParticipantTagging.objects.exists() and not Tag.objects.filter(code__startswith="CAMP.").exists()


@pytest.mark.parametrize("status", [CampaignStatus.DRAFT, CampaignStatus.PENDING_REVIEW])
def test_a_campaign_without_an_analysis_cannot_be_tagged(story, personas, set_status, status):  # noqa: F811
    campaign = set_status(story.campaign, status)
    with pytest.raises(ValidationError, match="approved, live, paused or ended"):
        participant_tags.participants_tag(campaign=campaign, group="participants", actor=personas.operator)
    assert not ParticipantTagging.objects.exists()


def test_roles_that_cannot_edit_the_campaign_cannot_tag_its_customers(story, personas):  # noqa: F811
    for user in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=user)
    assert not ParticipantTagging.objects.exists()


# --- at once, on PostgreSQL -------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
# Each process waits at a barrier file, so all of them click at the same moment.
CLICK = r"""
import json, os, sys, time
import django
django.setup()
from django.core.exceptions import ValidationError
from accounts.models import User
from campaigns.models import Campaign
from campaigns.services import participant_tags
args = json.loads(sys.argv[1])
campaign, actor = Campaign.objects.get(pk=args["campaign"]), User.objects.get(pk=args["actor"])
while not os.path.exists(args["go"]):
    time.sleep(0.005)
try:
    participant_tags.participants_tag(campaign=campaign, group="winners", actor=actor)
    print("queued")
except ValidationError as exc:
    print(exc.code)
"""


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with many processes")
@pytest.mark.django_db(transaction=True)
def test_many_clicks_at_once_start_one_tagging_with_one_tag(tmp_path, personas, tree, waiting_jobs):
    campaign = helpers.make_campaign(owner=tree.bj, created_by=personas.operator, code="EVT-20300301-RACE")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.ENDED)
    s = connection.settings_dict
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
    }
    go = tmp_path / "go"
    clicks = [
        subprocess.Popen(
            [sys.executable, "-c", CLICK, json.dumps({"campaign": campaign.pk, "actor": personas.operator.pk, "go": str(go)})],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(PROCESSES)
    ]
    time.sleep(2)  # let every process start and wait at the barrier
    go.touch()
    answers = []
    for click in clicks:
        out, err = click.communicate(timeout=120)
        assert click.returncode == 0, err[-3000:]
        answers.append(out.strip())
    assert sorted(answers) == ["queued"] + ["running"] * (PROCESSES - 1)
    tagging = ParticipantTagging.objects.get()
    assert tagging.status == TaggingStatus.QUEUED
    assert django_rq.get_queue("default").fetch_job(tagging.job_id) is not None
    assert TagCategory.objects.filter(code="campaign_history").count() == 1
    assert Tag.objects.filter(code="CAMP.EVT-20300301-RACE.winners").count() == 1
    assert AuditEntry.objects.filter(action="tag.create").count() == 1
    assert AuditEntry.objects.filter(action="participant_tagging.request").count() == 1


# --- the pages -------------------------------------------------------------------------


def analysis_url(campaign) -> str:
    return reverse("campaigns:campaign_analysis", args=[campaign.code])


def tag_url(campaign) -> str:
    return reverse("campaigns:participants_tag", args=[campaign.code])


def row_url(tagging) -> str:
    return reverse("campaigns:participant_tagging", args=[tagging.campaign.code, tagging.pk])


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_analysis_page_shows_each_groups_size_and_a_button_to_an_operator(story, login, personas):  # noqa: F811
    response = login(personas.operator).get(analysis_url(story.campaign))
    page = response.content.decode()
    assert 'id="participant-tags"' in page
    for group, refs in GROUPS.items():
        assert f'data-size="{group}">{len(refs)}</td>' in page
        assert f'data-tag-group="{group}"' in page
    assert f'action="{tag_url(story.campaign)}"' in page
    assert "removes nobody" in page


def test_an_operator_tags_the_winners_from_the_page_and_finds_the_tag_linked(
    story, login, personas, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    client = login(personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(tag_url(story.campaign), {"group": "winners"})
    assert response.status_code == 302
    assert response["Location"] == analysis_url(story.campaign) + "#participant-tags"
    tagging = ParticipantTagging.objects.get()
    assert (tagging.group, tagging.status, tagging.added, tagging.requested_by) == ("winners", "done", 4, personas.operator)
    page = client.get(response["Location"]).content.decode()
    assert "Tagging “winners” has started" in page
    assert f'id="tagging-{tagging.pk}"' in page and 'data-tagging-status="done"' in page
    assert "4 customers in the group, 4 newly tagged" in page
    tag_list = reverse("audiences:tag_list")
    assert f'href="{tag_list}?q=CAMP.EVT-20300301-ANA.winners"' in page
    # The link finds the tag, with its 4 members.
    listed = client.get(tag_list, {"q": "CAMP.EVT-20300301-ANA.winners"})
    assert [(tag.code, count) for tag, count, _can in listed.context["rows"]] == [("CAMP.EVT-20300301-ANA.winners", 4)]


def test_with_htmx_the_section_comes_back_with_the_new_tagging_which_polls_while_it_waits(
    story, login, personas, waiting_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    client = login(personas.branch_admin)
    client.get(analysis_url(story.campaign))  # the page the button is on: it stores the key figures
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(tag_url(story.campaign), {"group": "converted"}, **HTMX)
    assert response.status_code == 200
    assert next(t.name for t in response.templates) == "campaigns/partials/participant_tags.html"
    page = response.content.decode()
    tagging = ParticipantTagging.objects.get()
    assert page.startswith('<section class="card shadow-sm mb-4" id="participant-tags"')
    assert f'id="tagging-{tagging.pk}"' in page and "Tagging “converted participants” has started" in page
    # Without the page's analysis at hand, the sizes come from the stored key figures.
    assert 'data-size="converted">5</td>' in page
    # Its job now waits in the queue: the row polls for progress.
    row = client.get(row_url(tagging), **HTMX).content.decode()
    assert f'hx-get="{row_url(tagging)}" hx-trigger="every 1s"' in row
    assert "Waiting for a worker…" in row


def test_the_row_of_a_running_tagging_shows_its_progress_and_stops_polling_once_done(
    story, login, personas, waiting_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=True):
        tagging = participant_tags.participants_tag(campaign=story.campaign, group="participants", actor=personas.operator)
    ParticipantTagging.objects.filter(pk=tagging.pk).update(
        status="running", started_at=timezone.now(), total=7, done=2, added=1
    )
    client = login(personas.analyst)
    row = client.get(row_url(tagging), **HTMX).content.decode()
    assert row.startswith(f'<li class="list-group-item" id="tagging-{tagging.pk}"')
    assert f'hx-get="{row_url(tagging)}" hx-trigger="every 1s"' in row
    assert 'aria-valuenow="28"' in row and "Tagging: 2 of 7 customers (1 newly tagged)" in row
    ParticipantTagging.objects.filter(pk=tagging.pk).update(
        status="done", finished_at=timezone.now(), done=7, added=7
    )
    row = client.get(row_url(tagging), **HTMX).content.decode()
    assert "hx-get" not in row and "7 customers in the group, 7 newly tagged" in row
    # Without htmx the address leads to the page.
    response = client.get(row_url(tagging))
    assert response.status_code == 302 and response["Location"].endswith("#participant-tags")


def test_a_tagging_left_by_a_dead_worker_shows_as_stopped_without_polling(
    story, login, personas, django_capture_on_commit_callbacks  # noqa: F811
):
    with django_capture_on_commit_callbacks(execute=False):  # its job never reaches Redis
        tagging = participant_tags.participants_tag(campaign=story.campaign, group="winners", actor=personas.operator)
    client = login(personas.operator)
    # Just created, its job may be on its way to Redis: still waiting.
    row = client.get(row_url(tagging), **HTMX).content.decode()
    assert "Waiting for a worker…" in row and "hx-get" in row
    ParticipantTagging.objects.filter(pk=tagging.pk).update(
        created_at=timezone.now() - participant_tags.QUEUE_GRACE - dt.timedelta(seconds=1)
    )
    row = client.get(row_url(tagging), **HTMX).content.decode()
    assert "stopped: the worker running it was lost" in row and "hx-get" not in row


@pytest.mark.parametrize("who", ["analyst", "reviewer"])
def test_analysts_and_reviewers_see_the_taggings_but_no_buttons_and_a_forged_post_is_forbidden(
    story, login, personas, inline_jobs, who, django_capture_on_commit_callbacks  # noqa: F811
):
    tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    client = login(getattr(personas, who))
    page = client.get(analysis_url(story.campaign)).content.decode()
    assert 'data-tagging-status="done"' in page and "CAMP.EVT-20300301-ANA.winners" in page
    assert 'data-size="winners">4</td>' in page
    assert "data-tag-group" not in page and tag_url(story.campaign) not in page
    response = client.post(tag_url(story.campaign), {"group": "control"})
    assert response.status_code == 403
    assert ParticipantTagging.objects.count() == 1


def test_a_campaign_out_of_scope_is_not_found(story, login, personas, inline_jobs, django_capture_on_commit_callbacks):  # noqa: F811
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    client = login(personas.outsider)
    assert client.post(tag_url(story.campaign), {"group": "control"}).status_code == 404
    assert client.get(row_url(tagging), **HTMX).status_code == 404
    assert ParticipantTagging.objects.count() == 1


def test_a_tagging_of_another_campaign_is_not_found_under_this_one(
    story, login, personas, make_campaign, prizes, inline_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    other = make_campaign("lottery")
    address = reverse("campaigns:participant_tagging", args=[other.code, tagging.pk])
    assert login(personas.operator).get(address, **HTMX).status_code == 404


@pytest.mark.parametrize("posted", [{"group": "everyone"}, {"group": ""}, {}])
def test_a_tampered_group_is_a_form_error_and_creates_nothing(story, login, personas, posted):  # noqa: F811
    client = login(personas.operator)
    response = client.post(tag_url(story.campaign), posted, **HTMX)
    assert response.status_code == 200
    assert 'id="participant-tags-error"' in response.content.decode()
    assert "Choose one of the groups listed." in response.content.decode()
    response = client.post(tag_url(story.campaign), posted, follow=True)
    assert "Choose one of the groups listed." in response.content.decode()
    assert not ParticipantTagging.objects.exists() and not Tag.objects.filter(code__startswith="CAMP.").exists()


def test_tagging_a_group_that_is_already_running_is_refused_with_a_clear_error(
    story, login, personas, waiting_jobs, django_capture_on_commit_callbacks  # noqa: F811
):
    client = login(personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(tag_url(story.campaign), {"group": "winners"}, **HTMX)
    response = client.post(tag_url(story.campaign), {"group": "winners"}, **HTMX)
    page = response.content.decode()
    assert 'id="participant-tags-error"' in page and "already being tagged" in page
    assert ParticipantTagging.objects.count() == 1


def test_a_draft_campaigns_analysis_offers_no_tagging(story, login, personas, set_status):  # noqa: F811
    set_status(story.campaign, CampaignStatus.DRAFT)
    client = login(personas.operator)
    page = client.get(analysis_url(story.campaign)).content.decode()
    assert "data-tag-group" not in page and 'id="participant-tags-not-yet"' in page
    response = client.post(tag_url(story.campaign), {"group": "winners"}, follow=True)
    assert "approved, live, paused or ended" in response.content.decode()
    assert not ParticipantTagging.objects.exists()


def test_the_actions_answer_only_their_method(story, login, personas, inline_jobs, django_capture_on_commit_callbacks):  # noqa: F811
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    client = login(personas.operator)
    assert client.get(tag_url(story.campaign)).status_code == 405
    assert client.post(row_url(tagging), **HTMX).status_code == 405


def test_the_section_reads_chinese(story, login, personas, inline_jobs, django_capture_on_commit_callbacks):  # noqa: F811
    tagging = tag_now(story, "winners", personas.operator, django_capture_on_commit_callbacks)
    with translation.override("zh-hans"):
        assert tagging.tag.name == "Spring deposits · 中奖客户"
