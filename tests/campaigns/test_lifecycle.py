"""The campaign lifecycle: submit, withdraw, approve, reject, go live, pause,
resume and end — maker-checker, reservations, the frozen audience, revisions
of a running campaign and the scheduled jobs (real Redis)."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import django_rq
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from pyroaring import FrozenBitMap
from rq import SimpleWorker

from accounts.models import AuditEntry
from audiences import services as audience_services
from audiences.models import Customer, SegmentSnapshot
from campaigns import jobs, kinds
from campaigns.models import (
    Campaign,
    CampaignAudience,
    CampaignChannel,
    CampaignRevision,
    CampaignStatus,
    Material,
    MaterialKind,
    RevisionState,
    RewardSlot,
)
from campaigns.selectors import forecast
from campaigns.services import campaigns as campaign_services
from campaigns.services import lifecycle, revisions
from rewards import services as reward_services
from rewards.models import Prize, Reservation, StockMovement
from rewards.selectors import reconcile
from tests.campaigns.lifecycle_helpers import (
    edit,
    forget_scheduled_jobs,
    make_campaign,
    make_pool,
    make_prize,
    scheduled,
)


@pytest.fixture(autouse=True)
def _no_scheduled_jobs_across_tests():
    forget_scheduled_jobs()
    yield
    forget_scheduled_jobs()


@pytest.fixture
def pool(tree, personas):
    """Beijing's pool: CNY 100 of budget."""
    return make_pool(actor=personas.branch_admin, owner=tree.bj)


@pytest.fixture
def prize(pool, personas):
    """10 red packets of CNY 5."""
    return make_prize(actor=personas.branch_admin, pool=pool)


@pytest.fixture
def customers(tree, make_customers, make_tag):
    vip = make_tag("VIP")
    return {
        "bj": make_customers(10, tree.bj, tags=[vip]),
        "hd": make_customers(5, tree.hd, start=100),
        "sh": make_customers(3, tree.sh, start=200, tags=[vip]),
        "vip": vip,
    }


@pytest.fixture
def campaign(tree, personas, prize, customers):
    """A valid event draft of Beijing: 15 customers, 6 of the 10 packets reserved."""
    return make_campaign(owner=tree.bj, created_by=personas.operator, slots=[{"label": "Packet", "prize": prize, "quantity": 6}])


def submitted(campaign, actor):
    lifecycle.campaign_submit(actor=actor, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def approved(campaign, personas, django_capture_on_commit_callbacks):
    submitted(campaign, personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def clock(monkeypatch):
    """Move the clock the services read (``timezone.now``)."""

    def set_to(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_to


def stock(prize) -> int:
    return Prize.objects.get(pk=prize.pk).stock_available


# --- submit ---------------------------------------------------------------------------


def test_submitting_a_valid_draft_freezes_its_configuration_into_a_pending_revision(campaign, personas, prize):
    lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_REVIEW
    revision = campaign.revisions.get()
    assert (revision.number, revision.state, revision.submitted_by) == (1, RevisionState.PENDING, personas.operator)
    assert revision.config == revisions.campaign_config(campaign)
    assert revision.config["slots"][0]["prize"] == {"id": prize.pk, "label": str(prize)}
    assert revision.config["channels"][0]["template"] == "Hi {name}, join {campaign}: {link}"
    assert AuditEntry.objects.filter(action="campaign.submit", object_id=str(campaign.pk)).get().changes["status"] == [
        "draft", "pending_review"
    ]
    assert stock(prize) == 10  # nothing is reserved before approval


def test_submit_lists_every_problem_at_once_and_changes_nothing(tree, personas, prize, pool, customers):
    campaign = make_campaign(
        owner=tree.bj, created_by=personas.operator, starts_in=-dt.timedelta(hours=1),
        budget_total=Decimal("20.00"), budget_daily=Decimal("30.00"),
        slots=[{"label": "Packet", "prize": prize, "quantity": 12}],
        channels=[
            {"channel": "sms", "template": "Hi {name}, " + "x" * 800},
            {"channel": "app", "template": "Hello {nmae}"},
            {"channel": "wechat", "template": ""},
        ],
    )
    reward_services.pool_update(
        actor=personas.branch_admin, pool=pool, name=pool.name, valid_until=timezone.localdate() + dt.timedelta(days=3)
    )

    with pytest.raises(ValidationError) as caught:
        lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)

    problems = "\n".join(caught.value.messages)
    assert "The start must be in the future." in problems
    assert "The daily budget cannot be more than the total budget." in problems
    assert "Not enough stock of 5 yuan red packet (BJ-POOL/CASH5): 12 are needed, 10 are available." in problems
    assert "is not valid for the whole campaign" in problems
    assert "does not cover the worst case (CNY 60.00)" in problems
    assert re.search(r"SMS: the message takes \d+ parts; at most 5 are allowed\.", problems)
    assert "app push: Unknown placeholder: {nmae}." in problems
    assert "app push needs a material." in problems
    assert "WeChat: write the message." in problems
    assert "WeChat needs a material." in problems
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not campaign.revisions.exists()


def test_submit_refuses_an_empty_audience(tree, personas, prize, customers):
    empty = audience_services.segment_create(
        actor=personas.operator, name="Nobody", owner_branch=tree.bj,
        rule={"id": "r", "type": "group", "op": "and", "children": [{"id": "t", "type": "tag", "op": "has", "tag": "VIP"}]},
    )
    campaign = make_campaign(owner=tree.bj, created_by=personas.operator, slots=[{"prize": prize, "quantity": 1}])
    campaign.segments_in.add(empty)
    campaign.blacklist_tags.add(customers["vip"])

    with pytest.raises(ValidationError, match="The audience is empty"):
        lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)


def test_submit_runs_the_kinds_own_checks(tree, personas, prize, customers):
    lottery = make_campaign(
        owner=tree.bj, created_by=personas.operator, kind="lottery", code="LOT-20300101-TEST",
        slots=[
            {"role": "prize", "label": "Gold", "prize": prize, "quantity": 2, "weight": 6000},
            {"role": "prize", "label": "Silver", "prize": prize, "quantity": 2, "weight": 5000},
        ],
    )
    with pytest.raises(ValidationError) as caught:
        lifecycle.campaign_submit(actor=personas.operator, campaign=lottery)
    assert any("more than 100 %" in message for message in caught.value.messages)


def test_a_second_submit_is_refused_and_makes_no_second_revision(campaign, personas):
    submitted(campaign, personas.operator)
    with pytest.raises(ValidationError, match="already waiting for review"):
        lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)
    assert campaign.revisions.count() == 1


def test_an_analyst_cannot_submit(campaign, personas):
    with pytest.raises(PermissionDenied):
        lifecycle.campaign_submit(actor=personas.analyst, campaign=campaign)


def test_an_approved_campaign_without_changes_has_nothing_to_submit(campaign, personas, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="Nothing has changed"):
        lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)


# --- withdraw ----------------------------------------------------------------------------


def test_the_submitter_withdraws_a_draft_back_to_draft(campaign, personas):
    submitted(campaign, personas.operator)
    revision = lifecycle.campaign_withdraw(actor=personas.operator, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert revision.state == RevisionState.REJECTED
    assert revision.decided_by == personas.operator
    assert revision.decision_reason == "Withdrawn by the maker."


def test_another_editor_may_withdraw_but_a_reviewer_may_not(campaign, personas):
    submitted(campaign, personas.operator)
    with pytest.raises(PermissionDenied):
        lifecycle.campaign_withdraw(actor=personas.reviewer, campaign=campaign)
    lifecycle.campaign_withdraw(actor=personas.branch_admin, campaign=campaign, reason="Wrong prize")
    assert campaign.revisions.get().decision_reason == "Wrong prize"


def test_withdrawing_with_nothing_pending_is_refused(campaign, personas):
    with pytest.raises(ValidationError, match="Nothing is waiting"):
        lifecycle.campaign_withdraw(actor=personas.operator, campaign=campaign)


# --- approve -----------------------------------------------------------------------------


def test_approval_reserves_stock_freezes_the_audience_and_schedules_start_and_end(
    campaign, personas, prize, customers, django_capture_on_commit_callbacks
):
    segment = audience_services.segment_create(actor=personas.operator, name="Everyone", owner_branch=campaign.owner_branch)
    campaign.segments_in.add(segment)
    Campaign.objects.filter(pk=campaign.pk).update(control_percent=20)
    campaign.refresh_from_db()
    submitted(campaign, personas.operator)

    with django_capture_on_commit_callbacks(execute=True):
        revision = lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign, reason="Looks right")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.live_revision == revision
    assert (revision.state, revision.decided_by, revision.decision_reason) == (
        RevisionState.APPROVED, personas.reviewer, "Looks right"
    )
    assert not campaign.has_unapproved_changes
    # Stock: 6 of 10 reserved for the slot, with a ledger movement.
    slot = campaign.slots.get()
    assert slot.reservation.source_ref == f"campaign:{campaign.code}:slot:{slot.pk}"
    assert slot.reservation.remaining == 6
    assert stock(prize) == 4
    assert StockMovement.objects.filter(reservation=slot.reservation, kind="reserved").get().delta == -6
    assert reconcile() == []
    # Audience: Beijing's 15 customers (not Shanghai's), 20 % of them held out.
    audience = CampaignAudience.objects.get(revision=revision)
    members = FrozenBitMap.deserialize(bytes(audience.members))
    control = FrozenBitMap.deserialize(bytes(audience.control))
    assert set(members) == {c.pk for c in customers["bj"] + customers["hd"]}
    assert (audience.size, audience.control_size, len(control)) == (15, 3, 3)
    assert control <= members
    assert list(audience.snapshots.all()) == [SegmentSnapshot.objects.get(segment=segment)]
    # The go-live and the end wait in RQ's scheduler.
    assert scheduled(campaign.pk) == {
        f"campaign-{campaign.pk}-go-live": campaign.starts_at.replace(microsecond=0),
        f"campaign-{campaign.pk}-end": campaign.ends_at.replace(microsecond=0),
    }
    assert AuditEntry.objects.filter(action="campaign.approve").get().changes["audience"] == 15


def test_nobody_approves_what_they_submitted(campaign, personas, prize):
    submitted(campaign, personas.branch_admin)
    with pytest.raises(PermissionDenied, match="someone else must approve"):
        lifecycle.campaign_approve(actor=personas.branch_admin, campaign=campaign)
    with pytest.raises(PermissionDenied):
        lifecycle.campaign_reject(actor=personas.branch_admin, campaign=campaign, reason="Mine")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_REVIEW
    assert stock(prize) == 10


def test_roles_without_approval_cannot_approve(campaign, personas):
    submitted(campaign, personas.branch_admin)
    for person in (personas.operator, personas.analyst, personas.outsider):
        with pytest.raises(PermissionDenied):
            lifecycle.campaign_approve(actor=person, campaign=campaign)


def test_a_second_approval_is_refused_and_reserves_nothing_more(campaign, personas, prize, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="Nothing is waiting for approval"):
        lifecycle.campaign_approve(actor=personas.branch_admin, campaign=campaign)
    assert stock(prize) == 4
    assert Reservation.objects.count() == 1


def test_a_stock_shortage_fails_the_whole_approval_and_changes_nothing(tree, campaign, personas, prize, pool):
    segment = audience_services.segment_create(actor=personas.operator, name="Everyone", owner_branch=tree.bj)
    campaign.segments_in.add(segment)
    other = reward_services.prize_create(
        actor=personas.branch_admin, pool=pool, code="GIFT", name="Mug", kind="gift", unit_cost=Decimal("1.00")
    )
    reward_services.stock_add(actor=personas.branch_admin, prize=other, quantity=3, reason="initial")
    RewardSlot.objects.create(campaign=campaign, position=1, role="reward", label="Mug", prize=other, quantity=2)
    submitted(campaign, personas.operator)
    # Someone takes the packets between submit and approval.
    reward_services.stock_adjust(actor=personas.branch_admin, prize=prize, delta=-8, reason="damaged")
    audits_before = AuditEntry.objects.count()

    with pytest.raises(ValidationError) as caught:
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)

    assert caught.value.messages == [
        "Not enough stock to approve:",
        "Slot “Packet”: 6 more of 5 yuan red packet are needed, 2 are available.",
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_REVIEW
    assert campaign.live_revision is None
    assert campaign.revisions.get().state == RevisionState.PENDING
    assert (stock(prize), stock(other)) == (2, 3)  # the mug was not reserved either
    assert not Reservation.objects.exists()
    assert not CampaignAudience.objects.exists()
    assert not SegmentSnapshot.objects.exists()
    assert AuditEntry.objects.count() == audits_before
    assert scheduled(campaign.pk) == {}


def test_a_revision_whose_window_is_over_cannot_be_approved(campaign, personas, clock):
    submitted(campaign, personas.operator)
    clock(campaign.ends_at + dt.timedelta(minutes=1))
    with pytest.raises(ValidationError, match="window is over"):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)


# --- reject ------------------------------------------------------------------------------


def test_rejection_needs_a_reason_and_returns_the_draft_with_it(campaign, personas):
    submitted(campaign, personas.operator)
    with pytest.raises(ValidationError, match="Say why"):
        lifecycle.campaign_reject(actor=personas.reviewer, campaign=campaign, reason="  ")

    revision = lifecycle.campaign_reject(actor=personas.reviewer, campaign=campaign, reason="Budget too high")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert (revision.state, revision.decision_reason, revision.decided_by) == (
        RevisionState.REJECTED, "Budget too high", personas.reviewer
    )
    # Fixed and submitted again: a new revision.
    assert lifecycle.campaign_submit(actor=personas.operator, campaign=campaign).number == 2


# --- changing a running campaign --------------------------------------------------------------


def test_changing_a_live_campaign_needs_a_new_approval_while_the_live_revision_runs(
    campaign, personas, prize, clock, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.starts_at + dt.timedelta(minutes=1))
    jobs.campaign_go_live(campaign.pk)
    first = campaign.live_revision

    slot = campaign.slots.get()
    RewardSlot.objects.filter(pk=slot.pk).update(quantity=8)
    edit(campaign, budget_total=Decimal("60.00"))
    second = lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    assert campaign.live_revision == first
    assert second.state == RevisionState.PENDING
    changed = {row["field"]: (row["before"], row["after"]) for row in second.changes}
    assert changed == {"budget_total": ("CNY 50.00", "CNY 60.00"), f"slots.{slot.pk}.quantity": ("6", "8")}
    assert stock(prize) == 4  # nothing more reserved before approval
    forget_scheduled_jobs()

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    assert campaign.live_revision == second
    assert not campaign.has_unapproved_changes
    assert stock(prize) == 2  # only the increase of 2 was reserved
    assert Reservation.objects.get().remaining == 8
    assert f"campaign-{campaign.pk}-go-live" not in scheduled(campaign.pk)
    assert f"campaign-{campaign.pk}-end" in scheduled(campaign.pk)


def test_a_re_approval_returns_a_decrease_and_empties_the_reservation_of_a_removed_slot(
    campaign, personas, prize, pool, django_capture_on_commit_callbacks
):
    mug = reward_services.prize_create(
        actor=personas.branch_admin, pool=pool, code="MUG", name="Mug", kind="gift", unit_cost=Decimal("1.00")
    )
    reward_services.stock_add(actor=personas.branch_admin, prize=mug, quantity=5, reason="initial")
    mug_slot = RewardSlot.objects.create(campaign=campaign, position=1, role="reward", label="Mug", prize=mug, quantity=4)
    approved(campaign, personas, django_capture_on_commit_callbacks)
    assert (stock(prize), stock(mug)) == (4, 1)
    # A customer won a packet meanwhile.
    packet = campaign.slots.get(label="Packet")
    customer = Customer.objects.first()
    reward_services.grant_create(
        prize=prize, customer=customer, idempotency_key="t-1", source="campaign", reservation=packet.reservation
    )

    RewardSlot.objects.filter(pk=packet.pk).update(quantity=3)
    mug_slot.delete()
    edit(campaign)
    submitted(campaign, personas.operator)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)

    # Packets: 6 set aside, 1 granted, 3 wanted → 3 return; the mug's 4 all return.
    assert (stock(prize), stock(mug)) == (7, 5)
    packet_reservation = Reservation.objects.get(prize=prize)
    assert packet_reservation.remaining == 2
    assert Reservation.objects.get(prize=mug).remaining == 0
    assert reconcile() == []


def test_rejecting_a_change_keeps_the_live_campaign_on_its_approved_revision(
    campaign, personas, prize, clock, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.starts_at + dt.timedelta(minutes=1))
    jobs.campaign_go_live(campaign.pk)
    first = campaign.live_revision
    edit(campaign, name="Spring deposits, bigger")
    submitted(campaign, personas.operator)

    lifecycle.campaign_reject(actor=personas.reviewer, campaign=campaign, reason="Keep the name")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    assert campaign.live_revision == first
    assert campaign.has_unapproved_changes
    assert campaign.live_revision.config["name"] == "Spring deposits"
    assert stock(prize) == 4


def test_withdrawing_a_change_keeps_the_campaign_approved(campaign, personas, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    edit(campaign, name="Renamed")
    submitted(campaign, personas.operator)
    lifecycle.campaign_withdraw(actor=personas.operator, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.has_unapproved_changes


def test_edits_made_while_a_change_waits_stay_unapproved_after_its_approval(
    campaign, personas, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    edit(campaign, name="Second name")
    submitted(campaign, personas.operator)
    edit(campaign, name="Third name")

    with django_capture_on_commit_callbacks(execute=True):
        revision = lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)

    campaign.refresh_from_db()
    assert revision.config["name"] == "Second name"
    assert campaign.has_unapproved_changes


# --- running: go live, pause, resume, end -------------------------------------------------------


def test_the_go_live_job_is_a_no_op_early_twice_or_when_not_approved(
    campaign, personas, clock, django_capture_on_commit_callbacks
):
    assert jobs.campaign_go_live(campaign.pk) == "nothing"  # a draft
    approved(campaign, personas, django_capture_on_commit_callbacks)
    forget_scheduled_jobs()

    assert jobs.campaign_go_live(campaign.pk) == "early"
    assert [(job.split("-again-")[0], when) for job, when in scheduled(campaign.pk).items()] == [
        (f"campaign-{campaign.pk}-go-live", campaign.starts_at.replace(microsecond=0))
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED

    clock(campaign.starts_at + dt.timedelta(seconds=5))
    assert jobs.campaign_go_live(campaign.pk) == "live"
    assert jobs.campaign_go_live(campaign.pk) == "nothing"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    assert AuditEntry.objects.filter(action="campaign.go_live").get().actor is None
    assert jobs.campaign_go_live(999_999) == "nothing"


def test_a_worker_runs_the_scheduled_job_by_its_name(campaign, personas, clock, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.starts_at + dt.timedelta(seconds=1))
    queue = django_rq.get_queue("default")
    job = queue.enqueue(lifecycle.GO_LIVE_JOB, campaign.pk)

    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)

    job.refresh()
    assert job.return_value() == "live"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE


def test_a_go_live_job_running_after_the_window_ends_the_campaign(
    campaign, personas, prize, clock, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.ends_at + dt.timedelta(hours=1))
    assert jobs.campaign_go_live(campaign.pk) == "ended"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ENDED
    assert stock(prize) == 10


def test_the_end_job_ends_once_at_the_end_and_returns_what_is_left(
    campaign, personas, prize, customers, clock, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    forget_scheduled_jobs()
    assert jobs.campaign_end(campaign.pk) == "early"
    assert [(job.split("-again-")[0], when) for job, when in scheduled(campaign.pk).items()] == [
        (f"campaign-{campaign.pk}-end", campaign.ends_at.replace(microsecond=0))
    ]

    clock(campaign.starts_at + dt.timedelta(minutes=1))
    jobs.campaign_go_live(campaign.pk)
    slot = campaign.slots.get()
    for i, customer in enumerate(customers["bj"][:2]):
        reward_services.grant_create(
            prize=prize, customer=customer, idempotency_key=f"k{i}", source="campaign", reservation=slot.reservation
        )

    clock(campaign.ends_at + dt.timedelta(seconds=1))
    assert jobs.campaign_end(campaign.pk) == "ended"
    assert jobs.campaign_end(campaign.pk) == "nothing"

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ENDED
    assert stock(prize) == 8  # 10 - 2 granted: the 4 left in the reservation came back
    reservation = Reservation.objects.get()
    assert (reservation.remaining, reservation.released_at is not None) == (0, True)
    assert AuditEntry.objects.filter(action="campaign.end").get().changes["released"] == 4
    assert reconcile() == []


def test_pause_resume_and_end_need_no_second_person(campaign, personas, prize, clock, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.starts_at + dt.timedelta(minutes=1))
    jobs.campaign_go_live(campaign.pk)

    lifecycle.campaign_pause(actor=personas.operator, campaign=campaign, reason="Complaint")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    with pytest.raises(ValidationError, match="Not possible while the campaign is paused"):
        lifecycle.campaign_pause(actor=personas.operator, campaign=campaign)

    lifecycle.campaign_resume(actor=personas.reviewer, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE

    lifecycle.campaign_end(actor=personas.operator, campaign=campaign, reason="Target reached")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ENDED
    assert stock(prize) == 10
    actions = list(AuditEntry.objects.filter(action__startswith="campaign.").order_by("pk").values_list("action", flat=True))
    assert actions[-3:] == ["campaign.pause", "campaign.resume", "campaign.end"]
    with pytest.raises(ValidationError):
        lifecycle.campaign_resume(actor=personas.operator, campaign=campaign)


def test_an_analyst_cannot_pause_resume_or_end(campaign, personas, clock, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    for action in (lifecycle.campaign_pause, lifecycle.campaign_resume, lifecycle.campaign_end):
        with pytest.raises(PermissionDenied):
            action(actor=personas.analyst, campaign=campaign)


def test_a_paused_campaign_past_its_window_cannot_resume(campaign, personas, clock, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    clock(campaign.starts_at + dt.timedelta(minutes=1))
    jobs.campaign_go_live(campaign.pk)
    lifecycle.campaign_pause(actor=personas.operator, campaign=campaign)
    clock(campaign.ends_at + dt.timedelta(minutes=1))
    with pytest.raises(ValidationError, match="window is over"):
        lifecycle.campaign_resume(actor=personas.operator, campaign=campaign)
    assert jobs.campaign_end(campaign.pk) == "ended"


def test_ending_rejects_a_change_still_waiting_for_review(campaign, personas, django_capture_on_commit_callbacks):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    edit(campaign, name="Renamed")
    pending = lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)
    lifecycle.campaign_end(actor=personas.branch_admin, campaign=campaign, reason="Stop")
    pending.refresh_from_db()
    assert pending.state == RevisionState.REJECTED
    assert pending.decision_reason == "The campaign ended."


def test_a_draft_cannot_be_ended_or_paused(campaign, personas):
    for action in (lifecycle.campaign_end, lifecycle.campaign_pause, lifecycle.campaign_resume):
        with pytest.raises(ValidationError, match="draft"):
            action(actor=personas.operator, campaign=campaign)


# --- configuration, diff and the audience ---------------------------------------------------------


def test_the_config_diff_names_fields_and_slots_in_words(campaign, personas, prize):
    before = revisions.campaign_config(campaign)
    slot = campaign.slots.get()
    RewardSlot.objects.filter(pk=slot.pk).update(weight=0, quantity=9)
    RewardSlot.objects.create(campaign=campaign, position=1, role="reward", label="Extra", prize=None)
    CampaignChannel.objects.filter(campaign=campaign).update(template="New {link}")
    Campaign.objects.filter(pk=campaign.pk).update(new_customers_only=True, budget_daily=None)
    campaign.refresh_from_db()

    rows = {row["field"]: row for row in revisions.config_diff(before, revisions.campaign_config(campaign))}

    assert rows["new_customers_only"] == {
        "field": "new_customers_only", "item": "", "label": "new customers only", "before": "no", "after": "yes",
    }
    assert (rows["budget_daily"]["label"], rows["budget_daily"]["before"], rows["budget_daily"]["after"]) == (
        "daily budget (CNY)", "CNY 10.00", ""
    )
    assert rows[f"slots.{slot.pk}.quantity"]["label"] == "Reward slot “Packet”: quantity to reserve"
    added = next(row for field, row in rows.items() if field.startswith("slots.") and field.count(".") == 1)
    assert (added["label"], added["before"], added["after"]) == ("Reward slot “Extra”", "", "no prize, 0 reserved")
    assert rows["channels.sms.template"]["after"] == "New {link}"
    assert revisions.config_diff(before, before) == []


def test_renaming_a_prize_elsewhere_does_not_count_as_a_change(campaign, prize):
    before = revisions.campaign_config(campaign)
    Prize.objects.filter(pk=prize.pk).update(name="Red packet")
    after = revisions.campaign_config(campaign)
    assert before != after
    assert revisions.config_essence(before) == revisions.config_essence(after)


def test_the_control_group_is_deterministic_and_of_the_right_size():
    members = FrozenBitMap(range(1, 1001))
    control = forecast.control_split(members, code="LOT-20300101-ABCD", percent=15)

    assert len(control) == 150
    assert control <= members
    assert control == forecast.control_split(FrozenBitMap(range(1, 1001)), code="LOT-20300101-ABCD", percent=15)
    assert control != forecast.control_split(members, code="LOT-20300101-WXYZ", percent=15)
    # A customer's place depends only on the code and their id, not on who else is in.
    smaller = forecast.control_split(FrozenBitMap(range(1, 501)), code="LOT-20300101-ABCD", percent=15)
    assert len(smaller & control) > 0
    assert len(forecast.control_split(FrozenBitMap(range(9)), code="X", percent=10)) == 0


def test_the_audience_counts_segments_exclusions_blacklist_new_customers_and_target_branches(
    tree, personas, make_customers, make_tag
):
    vip, blocked = make_tag("VIP"), make_tag("BLOCKED")
    old = make_customers(4, tree.bj, tags=[vip], opened_on=dt.date(2020, 1, 1))
    new = make_customers(3, tree.bj, start=10, tags=[vip], opened_on=timezone.localdate() - dt.timedelta(days=2))
    blocked_one = make_customers(1, tree.bj, start=20, tags=[vip, blocked], opened_on=timezone.localdate())
    haidian = make_customers(2, tree.hd, start=30, tags=[vip])
    make_customers(2, tree.sh, start=40, tags=[vip])
    rule = {"id": "r", "type": "group", "op": "and", "children": [{"id": "t", "type": "tag", "op": "has", "tag": "VIP"}]}
    vips = audience_services.segment_create(actor=personas.operator, name="VIPs", owner_branch=tree.bj, rule=rule)
    first_two = audience_services.segment_create(
        actor=personas.operator, name="Two", owner_branch=tree.bj,
        rule={"id": "r", "type": "group", "op": "and", "children": [{"id": "o", "type": "opened", "from": None, "to": "2020-01-01"}]},
    )
    campaign = make_campaign(owner=tree.bj, created_by=personas.operator, starts_in=dt.timedelta(days=1))
    campaign.segments_in.add(vips)
    campaign.blacklist_tags.add(blocked)

    def count():
        members, problems = forecast.audience_now(revisions.campaign_config(campaign))
        assert problems == []
        return set(members)

    everyone = {c.pk for c in old + new + blocked_one + haidian}
    assert count() == everyone - {blocked_one[0].pk}
    campaign.segments_out.add(first_two)
    assert count() == {c.pk for c in new + haidian}
    campaign.target_branches.add(tree.hd)
    assert count() == {c.pk for c in haidian}
    campaign.target_branches.clear()
    Campaign.objects.filter(pk=campaign.pk).update(new_customers_only=True, new_customer_days=30)
    campaign.refresh_from_db()
    assert count() == {c.pk for c in new}


def test_an_archived_segment_makes_the_audience_uncountable(tree, personas, customers):
    segment = audience_services.segment_create(actor=personas.operator, name="Gone", owner_branch=tree.bj)
    audience_services.segment_archive(actor=personas.branch_admin, segment=segment)
    campaign = make_campaign(owner=tree.bj, created_by=personas.operator)
    campaign.segments_in.add(segment)
    members, problems = forecast.audience_now(revisions.campaign_config(campaign))
    assert members is None
    assert problems == ["Segment “Gone” is archived."]


def test_revisions_are_numbered_per_campaign(campaign, personas):
    submitted(campaign, personas.operator)
    lifecycle.campaign_withdraw(actor=personas.operator, campaign=campaign)
    submitted(campaign, personas.operator)
    assert list(CampaignRevision.objects.filter(campaign=campaign).values_list("number", "state")) == [
        (2, RevisionState.PENDING), (1, RevisionState.REJECTED)
    ]


# --- concurrency ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# Each process waits at a barrier file so that all of them decide at the same moment.
DECIDER = r"""
import json, os, sys, time
import django
django.setup()
from django.core.exceptions import ValidationError
from accounts.models import User
from campaigns.models import Campaign
from campaigns.services import lifecycle
args = json.loads(sys.argv[1])
actor = User.objects.get(pk=args["actor"])
campaign = Campaign.objects.get(pk=args["campaign"])
while not os.path.exists(args["go"]):
    time.sleep(0.01)
try:
    if args["approve"]:
        lifecycle.campaign_approve(actor=actor, campaign=campaign)
    else:
        lifecycle.campaign_reject(actor=actor, campaign=campaign, reason="no")
    print("decided")
except ValidationError as exc:
    print("refused:" + exc.code)
"""


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with many processes")
@pytest.mark.django_db(transaction=True)
def test_reviewers_deciding_at_the_same_moment_decide_once(tmp_path, campaign, personas, prize):
    submitted(campaign, personas.operator)
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    go = tmp_path / "go"
    deciders = [personas.reviewer, personas.branch_admin, personas.ho_admin] * 2
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", DECIDER, json.dumps(
                {"actor": actor.pk, "campaign": campaign.pk, "go": str(go), "approve": n % 2 == 0}
            )],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n, actor in enumerate(deciders)
    ]
    go.touch()
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-3000:]
        outcomes.append(out.strip())

    assert outcomes.count("decided") == 1
    assert sorted(set(outcomes) - {"decided"}) == ["refused:status"]
    campaign.refresh_from_db()
    decided = campaign.revisions.get()
    if decided.state == RevisionState.APPROVED:
        assert (campaign.status, stock(prize), Reservation.objects.get().remaining) == ("approved", 4, 6)
    else:
        assert (campaign.status, stock(prize), Reservation.objects.count()) == ("draft", 10, 0)
    assert reconcile() == []


# --- every kind, end to end ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [kind.name for kind in kinds.all_kinds()])
def test_every_kind_generated_in_one_click_passes_the_approval_path(
    kind, tree, personas, pool, customers, django_capture_on_commit_callbacks
):
    for code, cost in (("GOLD", "20.00"), ("CASH5", "5.00"), ("PTS", "0.50")):
        make_prize(actor=personas.branch_admin, pool=pool, code=code, name=code, unit_cost=cost, stock=1000)
    reward_services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("50000"), reason="campaigns")
    Material.objects.create(owner_branch=tree.bj, kind=MaterialKind.POSTER, name="Poster", created_by=personas.operator)
    campaign = campaign_services.campaign_generate(actor=personas.operator, kind=kind, owner_branch=tree.bj)

    lifecycle.campaign_submit(actor=personas.operator, campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.campaign_approve(actor=personas.reviewer, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.live_revision.audience.size == 15
    for slot in campaign.slots.filter(prize__isnull=False):
        assert slot.reservation.remaining == slot.quantity
    assert reconcile() == []


def test_the_minute_sweep_starts_and_ends_what_is_due_when_the_scheduled_jobs_were_lost(
    campaign, personas, prize, clock, django_capture_on_commit_callbacks
):
    approved(campaign, personas, django_capture_on_commit_callbacks)
    forget_scheduled_jobs()  # Redis lost them
    assert lifecycle.campaigns_due_sweep() == {"live": 0, "ended": 0}  # not yet due

    clock(campaign.starts_at + dt.timedelta(seconds=30))
    assert jobs.campaigns_due() == {"live": 1, "ended": 0}
    assert lifecycle.campaigns_due_sweep() == {"live": 0, "ended": 0}  # live until its end
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE

    clock(campaign.ends_at + dt.timedelta(seconds=30))
    assert jobs.campaigns_due() == {"live": 0, "ended": 1}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ENDED
    assert stock(prize) == 10  # the reservation went back
