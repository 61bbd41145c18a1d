"""The campaign analysis against a small campaign computed by hand.

The campaign ran from 1 March 2030 00:00 to 8 March 2030 00:00 (the bank's
time), budget 100.00. Audience: T0-T9 (treatment; T6 in Haidian, the rest in
Beijing) and the control group K0-K3 (Beijing); R, a new customer of Haidian,
came in through T6's invitation. The analysis is taken on 31 March 12:00 with
the default 30-day conversion window (to 7 April 00:00).

    who  tags    story (times are the bank's, March unless said)
    T0   vip     view app 1st 10:00, join 10:05, draw + win 10:06: prize A 5.00 delivered;
                 deposit 1000 on 2nd 09:00, deposit 500 on 31st 11:00
    T1   vip     view sms 2nd 07:30 (still 1 March in UTC), join 09:30: prize B 80.00 queued;
                 fund purchase 2000 on 1st 08:00 (before joining)
    T2   vip     view app 2nd 10:00
    T3   young   view app 3rd 10:00, join 10:01, draw 10:02 (no prize), view again 5th 12:00;
                 deposit 700 on 8 April (after the conversion window)
    T4   young   join app 4th 09:00 (no view recorded): prize A refused by the pool; deposit 300 on 20th
    T5   young   nothing
    T6   young   Haidian; view sms 5th 10:00, join 10:10: prize A 5.00 granted, not yet delivered;
                 invite app 11:00 (R accepted); deposit 200 on 13th 09:00
    T7   young   opened 1 March (new); join app 6th 10:00: prize A 5.00 delivered; fund purchase 100 on 7th 09:00
    T8   parent  view app 7th 20:00
    T9   parent  deposit 50 on 10th (never took part)
    R    young   Haidian, opened 3 March, not in the audience; referral app 5th 12:00; deposit 1000 on 6th 10:00
    K0   vip     control: held out 2nd 10:00; deposit 100 on 4th
    K1           control: deposit 100 on 20 February (before the start)
    K2           control: nothing
    K3           control: deposit 100 on 30th
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone
from pyroaring import BitMap

from audiences.models import Tag, TagCategory
from campaigns.models import (
    Activity,
    Award,
    BusinessEvent,
    Campaign,
    CampaignAudience,
    CampaignRevision,
    CampaignStatus,
    Invite,
    Referral,
    RevisionState,
)
from campaigns.selectors import analysis
from rewards.models import Grant
from tests.campaigns import lifecycle_helpers as helpers
from tests.campaigns.runtime_helpers import make_channel

pytestmark = pytest.mark.django_db

STARTS = (3, 1, 0)
ENDS = (3, 8, 0)


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """An instant given in the bank's time zone."""
    return dt.datetime(2030, month, day, hour, minute, tzinfo=timezone.get_default_timezone())


NOW = local(3, 31, 12)


def approved_campaign(personas, *, code, members, control, budget="100.00") -> Campaign:
    """An ended campaign whose approved revision has this window, budget and frozen audience."""
    starts, ends = local(*STARTS), local(*ENDS)
    campaign = helpers.make_campaign(owner=personas.branch_admin.branch, created_by=personas.operator, code=code)
    revision = CampaignRevision.objects.create(
        campaign=campaign, number=1, state=RevisionState.APPROVED, submitted_by=personas.operator,
        config={"starts_at": starts.isoformat(), "ends_at": ends.isoformat(), "budget_total": budget},
    )
    everyone = BitMap(c.pk for c in [*members, *control])
    CampaignAudience.objects.create(
        revision=revision, members=everyone.serialize(), control=BitMap(c.pk for c in control).serialize(),
        size=len(everyone), control_size=len(control),
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        live_revision=revision, status=CampaignStatus.ENDED, starts_at=starts, ends_at=ends, budget_total=Decimal(budget),
    )
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def story(personas, tree, make_customers, make_tag, prizes):
    vip, young = make_tag("vip"), make_tag("young")
    life = TagCategory.objects.create(code="life", name_zh="生活", name_en="Life", order=2)
    parent = Tag.objects.create(code="parent", name_zh="父母", name_en="Parent", category=life, owner_branch=tree.ho)
    opened_before = dt.date(2024, 1, 15)
    t0, t1, t2 = make_customers(3, tree.bj, start=0, prefix="T", tags=[vip])
    t3, t4, t5 = make_customers(3, tree.bj, start=3, prefix="T", tags=[young])
    (t6,) = make_customers(1, tree.hd, start=6, prefix="T", tags=[young])
    (t7,) = make_customers(1, tree.bj, start=7, prefix="T", tags=[young], opened_on=dt.date(2030, 3, 1))
    t8, t9 = make_customers(2, tree.bj, start=8, prefix="T", tags=[parent], opened_on=opened_before)
    (k0,) = make_customers(1, tree.bj, start=0, prefix="K", tags=[vip])
    k1, k2, k3 = make_customers(3, tree.bj, start=1, prefix="K")
    (r,) = make_customers(1, tree.hd, start=0, prefix="R", tags=[young], opened_on=dt.date(2030, 3, 3))
    treatment = [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9]
    campaign = approved_campaign(personas, code="EVT-20300301-ANA", members=treatment, control=[k0, k1, k2, k3])
    gift, cash, _points = prizes  # B: umbrella 80.00; A: red packet 5.00

    def act(customer, kind, channel, at):
        Activity.objects.create(campaign=campaign, customer=customer, kind=kind, channel=channel, at=at)

    for customer, kind, channel, at in [
        (t0, "view", "app", local(3, 1, 10)), (t0, "join", "app", local(3, 1, 10, 5)),
        (t0, "draw", "app", local(3, 1, 10, 6)), (t0, "win", "app", local(3, 1, 10, 6)),
        (t1, "view", "sms", local(3, 2, 7, 30)), (t1, "join", "sms", local(3, 2, 9, 30)),
        (t2, "view", "app", local(3, 2, 10)),
        (t3, "view", "app", local(3, 3, 10)), (t3, "join", "app", local(3, 3, 10, 1)),
        (t3, "draw", "app", local(3, 3, 10, 2)), (t3, "view", "app", local(3, 5, 12)),
        (t4, "join", "app", local(3, 4, 9)),
        (t6, "view", "sms", local(3, 5, 10)), (t6, "join", "sms", local(3, 5, 10, 10)),
        (t6, "invite", "app", local(3, 5, 11)),
        (t7, "join", "app", local(3, 6, 10)),
        (t8, "view", "app", local(3, 7, 20)),
        (r, "referral", "app", local(3, 5, 12)),
        (k0, "held_out", "app", local(3, 2, 10)),
    ]:
        act(customer, kind, channel, at)

    def award(customer, prize, at, *, status="granted", grant=None):
        number = Award.objects.count() + 1
        made = None
        if grant is not None:
            made = Grant.objects.create(
                idempotency_key=f"g{number}", prize=prize, customer=customer, cost=prize.unit_cost,
                source=f"campaign:{campaign.code}", status=grant,
                delivered_at=at + dt.timedelta(minutes=5) if grant == "delivered" else None,
            )
        Award.objects.create(
            campaign=campaign, customer=customer, slot_key=1 if prize == cash else 2, unit=number, prize=prize,
            key=f"a{number}", grant=made, status=status, action="draw", seq=1, day=timezone.localdate(at),
            day_seq=1, cost=prize.unit_cost, at=at,
        )

    award(t0, cash, local(3, 1, 10, 6), grant="delivered")
    award(t1, gift, local(3, 2, 9, 30), status="queued")
    award(t4, cash, local(3, 4, 9), status="failed")
    award(t6, cash, local(3, 5, 10, 10), grant="pending")
    award(t7, cash, local(3, 6, 10), grant="delivered")

    invite = Invite.objects.create(campaign=campaign, customer=t6, code="INV-T6")
    Referral.objects.create(
        campaign=campaign, invite=invite, referrer=t6, referee=r, accepted_at=local(3, 5, 12),
        qualify_by=local(4, 4, 12),
    )

    core = make_channel("Core", "core")
    for number, (customer, type_, amount, at) in enumerate([
        (t0, "deposit", "1000.00", local(3, 2, 9)), (t0, "deposit", "500.00", local(3, 31, 11)),
        (t1, "fund_purchase", "2000.00", local(3, 1, 8)),
        (t3, "deposit", "700.00", local(4, 8, 10)),
        (t4, "deposit", "300.00", local(3, 20, 10)),
        (t6, "deposit", "200.00", local(3, 13, 9)),
        (t7, "fund_purchase", "100.00", local(3, 7, 9)),
        (t9, "deposit", "50.00", local(3, 10, 10)),
        (r, "deposit", "1000.00", local(3, 6, 10)),
        (k0, "deposit", "100.00", local(3, 4, 10)),
        (k1, "deposit", "100.00", local(2, 20, 10)),
        (k3, "deposit", "100.00", local(3, 30, 10)),
    ]):
        BusinessEvent.objects.create(
            channel=core, event_id=f"e{number}", customer=customer, type=type_, amount=Decimal(amount), occurred_at=at,
        )
    return SimpleNamespace(
        campaign=campaign, t=treatment, r=r, cash=cash, gift=gift, bj=tree.bj, hd=tree.hd,
        result=analysis.campaign_analysis(campaign, now=NOW),
    )


def test_the_kpis_count_audience_reach_participation_winners_and_cost(story):
    kpis = story.result.kpis
    # Treatment T0-T9, control K0-K3.
    assert (kpis.audience, kpis.control) == (10, 4)
    # Reached: members with an activity other than held out: T0 T1 T2 T3 T4 T6 T7 T8 (not T5, T9).
    assert kpis.reached == 8
    # Viewed: T0 T1 T2 T3 T6 T8.
    assert kpis.viewed == 6
    # Participants: T0 T1 T3 T4 T6 T7 and the referee R = 7; 7 / 10.
    assert kpis.participants == 7
    assert kpis.participation_rate == pytest.approx(0.7)
    # Winners: awards not refused: T0 T1 T6 T7 (T4's was refused).
    assert kpis.winners == 4
    # Cost 5 + 80 + 5 + 5 = 95.00 of 100.00; per participant 95 / 7 = 13.571… → 13.57.
    assert kpis.cost == Decimal("95.00")
    assert kpis.budget_total == Decimal("100.00")
    assert kpis.budget_used == pytest.approx(0.95)
    assert kpis.cost_per_participant == Decimal("13.57")


def test_conversions_are_participants_events_from_their_first_participation_to_the_window_end(story):
    kpis = story.result.kpis
    # T0 1000 + 500, T4 300, T6 200, T7 100, R 1000 = 6 events, 3100.00, 5 customers. Not counted:
    # T1's purchase (before joining), T3's deposit (8 April, after the window), T9 (never took part).
    assert kpis.conversions == 6
    assert kpis.converted_customers == 5
    assert kpis.conversion_amount == Decimal("3100.00")
    # 95 / 6 = 15.833… → 15.83.
    assert kpis.cost_per_conversion == Decimal("15.83")
    by_type = story.result.conversions_by_type
    assert by_type.to_dict("records") == [
        {"type": "deposit", "conversions": 5, "customers": 4, "amount": 3000.0},
        {"type": "fund_purchase", "conversions": 1, "customers": 1, "amount": 100.0},
    ]


def test_new_customers_are_participants_opened_in_the_window_and_referees(story):
    # T7 opened 1 March (a participant); R opened 3 March and accepted a referral: 2, counted once each.
    assert story.result.kpis.new_customers == 2


def test_grants_are_counted_by_prize_and_status(story):
    rows = {(row["prize"], row["status"]): row["grants"] for row in story.result.grants.to_dict("records")}
    # A: T0 and T7 delivered, T6 pending, T4 refused by the pool; B: T1 still queued.
    assert rows == {
        (story.cash.name, "delivered"): 2, (story.cash.name, "pending"): 1, (story.cash.name, "refused"): 1,
        (story.gift.name, "queued"): 1,
    }


def test_the_funnel_narrows_from_audience_to_redeemed_within_the_audience(story):
    funnel = story.result.funnel
    # reached 8; viewed: 6 with a view + T4 and T7 who joined without one = 8; joined: members
    # T0 T1 T3 T4 T6 T7 = 6 (R is not a member); won T0 T1 T6 T7 = 4; redeemed (delivered) T0 T7 = 2.
    assert funnel["stage"].tolist() == ["audience", "reached", "viewed", "joined", "won", "redeemed"]
    assert funnel["customers"].tolist() == [10, 8, 8, 6, 4, 2]
    assert funnel["share_of_audience"].tolist() == pytest.approx([1.0, 0.8, 0.8, 0.6, 0.4, 0.2])
    assert funnel["share_of_previous"].tolist()[-1] == pytest.approx(0.5)


def test_the_daily_series_counts_each_day_in_the_banks_time_zone(story):
    daily = story.result.daily.set_index("day")
    # From the first campaign day to the last conversion (31 March): 31 rows, no gaps.
    assert len(daily) == 31
    assert daily.index[0] == dt.date(2030, 3, 1) and daily.index[-1] == dt.date(2030, 3, 31)
    march = {day: daily.loc[dt.date(2030, 3, day)] for day in (1, 2, 5, 6, 31)}
    # Views: 1st T0; 2nd T1 (07:30 local, still 1 March in UTC) and T2; 5th T3 and T6.
    assert [int(march[d]["views"]) for d in (1, 2, 5)] == [1, 2, 2]
    assert int(daily["views"].sum()) == 7
    # First participations: 1st T0, 2nd T1, 3rd T3, 4th T4, 5th T6 and R, 6th T7.
    assert daily["participants"].head(7).tolist() == [1, 1, 1, 1, 2, 1, 0]
    # First wins and cost: 1st T0 5, 2nd T1 80, 5th T6 5, 6th T7 5 (T4's refused award costs nothing).
    assert daily["winners"].head(7).tolist() == [1, 1, 0, 0, 1, 1, 0]
    assert daily["cost"].head(7).tolist() == [5.0, 80.0, 0.0, 0.0, 5.0, 5.0, 0.0]
    # Conversions: 2nd T0 1000, 6th R 1000, 7th T7 100, 13th T6 200, 20th T4 300, 31st T0 500.
    converted = daily[daily["conversions"] > 0]
    assert [d.day for d in converted.index] == [2, 6, 7, 13, 20, 31]
    assert converted["conversion_amount"].tolist() == [1000.0, 1000.0, 100.0, 200.0, 300.0, 500.0]
    assert int(march[31]["conversions"]) == 1


def test_the_branch_breakdown_follows_the_customers_branch(story):
    rows = story.result.by_branch.to_dict("records")
    # Beijing: members T0-T5 T7-T9 = 9; participants T0 T1 T3 T4 T7; winners T0 T1 T7 (5 + 80 + 5);
    # conversions T0 x2, T4, T7 = 1000 + 500 + 300 + 100. Haidian: member T6; participants T6 and R;
    # winner T6 (5); conversions T6 200 and R 1000. Head office and Shanghai have nothing: left out.
    assert [(r["code"], r["audience"], r["participants"], r["winners"], r["cost"], r["conversions"],
             r["conversion_amount"]) for r in rows] == [
        ("BJ", 9, 5, 3, 90.0, 4, 1900.0),
        ("BJ-HD", 1, 2, 1, 5.0, 2, 1200.0),
    ]


def test_the_channel_breakdown_counts_contacts_views_and_participants(story):
    rows = story.result.by_channel.to_dict("records")
    # app: T0 x4, T2, T3 x4, T4, T6 invite, T7, T8, R = 14 activities of 8 customers; views T0 T2 T3 x2 T8 = 5;
    # participants T0 T3 T4 T6 T7 R = 6. sms: T1 and T6, a view and a join each. K0's held-out is no contact.
    assert rows == [
        {"channel": "app", "customers": 8, "views": 5, "participants": 6, "activities": 14},
        {"channel": "sms", "customers": 2, "views": 2, "participants": 2, "activities": 4},
    ]


def test_the_prize_breakdown_counts_awards_cost_and_deliveries(story):
    rows = story.result.by_prize.to_dict("records")
    # B (umbrella): T1, 80.00, not delivered. A (red packet): T0 T6 T7 = 15.00, T4 refused, T0 T7 delivered.
    assert rows == [
        {"prize_id": story.gift.pk, "prize": story.gift.name, "awards": 1, "refused": 0, "cost": 80.0, "delivered": 0},
        {"prize_id": story.cash.pk, "prize": story.cash.name, "awards": 3, "refused": 1, "cost": 15.0, "delivered": 2},
    ]


def test_the_tag_breakdown_indexes_participants_against_the_audience(story):
    table = story.result.by_tag
    # Participants (7): vip T0 T1 = 2/7, young T3 T4 T6 T7 R = 5/7, parent none.
    # Audience (10): vip T0 T1 T2 = 3/10, young T3 T4 T5 T6 T7 = 5/10, parent T8 T9 = 2/10.
    # Index: young (5/7)/(5/10)*100 = 142.857…, vip (2/7)/(3/10)*100 = 95.238…, parent 0.
    # Category "assets" (order 1) first, by index; then "life".
    assert table["code"].tolist() == ["young", "vip", "parent"]
    assert table["participants"].tolist() == [5, 2, 0]
    assert table["audience"].tolist() == [5, 3, 2]
    assert table["index"].round(4).tolist() == [142.8571, 95.2381, 0.0]
    assert table["participant_share"].round(4).tolist() == [0.7143, 0.2857, 0.0]


def test_uplift_compares_the_whole_treatment_group_with_the_control_group(story):
    uplift = story.result.uplift
    # Treatment: any event from 1 March to 7 April: T0 T1 T4 T6 T7 T9 = 6/10 = 0.6 (T1 and T9 count:
    # intention to treat). Control: K0 and K3 = 2/4 = 0.5 (K1's was before the start).
    # Difference 0.1; SE = sqrt(0.6*0.4/10 + 0.5*0.5/4) = sqrt(0.0865) = 0.294109;
    # margin = 1.959964 * 0.294109 = 0.576443; CI = [-0.476443, 0.676443]: includes 0, not significant.
    assert (uplift.treatment_converted, uplift.treatment_size) == (6, 10)
    assert (uplift.control_converted, uplift.control_size) == (2, 4)
    assert round(uplift.difference, 4) == 0.1
    assert round(uplift.ci_low, 4) == -0.4764
    assert round(uplift.ci_high, 4) == 0.6764
    assert uplift.significant is False
    assert math.isclose(uplift.ci_high - uplift.difference, 1.959964 * math.sqrt(0.0865), rel_tol=1e-6)


def test_retention_counts_only_participants_old_enough_for_each_horizon(story):
    rows = {row["days"]: row for row in story.result.retention.to_dict("records")}
    # Now: 31 March 12:00. Last sign of life after the first participation:
    # T0 +30 d 0 h 55 min (deposit 31st 11:00), T1 none after, T3 +2 d (view 5th), T4 +16 d (deposit 20th),
    # T6 +7 d 22 h (deposit 13th), T7 +23 h, R +22 h.
    # 1 day: all 7 eligible, T0 T3 T4 T6 = 4. 7 days: all 7 eligible, T0 T4 T6 = 3.
    # 30 days: only T0 joined before 1 March 12:00, and is retained: 1/1.
    assert [(rows[d]["eligible"], rows[d]["retained"]) for d in (1, 7, 30)] == [(7, 4), (7, 3), (1, 1)]
    assert rows[1]["share"] == pytest.approx(4 / 7)
    assert rows[30]["share"] == pytest.approx(1.0)


def test_a_significant_uplift_is_flagged(personas, tree, make_customers):
    treatment = make_customers(20, tree.bj, prefix="T")
    control = make_customers(20, tree.bj, prefix="K")
    campaign = approved_campaign(personas, code="EVT-20300301-UPL", members=treatment, control=control)
    core = make_channel("Core", "core")
    # Treatment 15/20 = 0.75, control 2/20 = 0.1: difference 0.65,
    # SE = sqrt(0.75*0.25/20 + 0.1*0.9/20) = sqrt(0.013875) = 0.117792, margin 0.230868 → [0.4191, 0.8809].
    for number, customer in enumerate(treatment[:15] + control[:2]):
        BusinessEvent.objects.create(
            channel=core, event_id=f"e{number}", customer=customer, type="deposit", amount=Decimal("10.00"),
            occurred_at=local(3, 3, 10),
        )
    uplift = analysis.campaign_analysis(campaign, now=NOW).uplift
    assert round(uplift.difference, 4) == 0.65
    assert (round(uplift.ci_low, 4), round(uplift.ci_high, 4)) == (0.4191, 0.8809)
    assert uplift.significant is True


def test_an_approved_campaign_where_nothing_happened_gives_zeros(personas, tree, make_customers):
    members = make_customers(3, tree.bj, prefix="T")
    campaign = approved_campaign(personas, code="EVT-20300301-NIL", members=members, control=[])
    result = analysis.campaign_analysis(campaign, now=NOW)
    kpis = result.kpis
    assert (kpis.audience, kpis.control, kpis.reached, kpis.participants, kpis.winners, kpis.conversions) == (
        3, 0, 0, 0, 0, 0,
    )
    assert kpis.participation_rate == 0.0 and kpis.budget_used == 0.0
    assert kpis.cost == Decimal("0.00") and kpis.conversion_amount == Decimal("0.00")
    assert kpis.cost_per_participant is None and kpis.cost_per_conversion is None
    assert result.funnel["customers"].tolist() == [3, 0, 0, 0, 0, 0]
    # The seven campaign days, all zero.
    assert len(result.daily) == 7
    assert result.daily.drop(columns="day").to_numpy().sum() == 0
    assert result.grants.empty and result.by_prize.empty and result.by_channel.empty
    assert result.conversions_by_type.empty
    assert result.by_branch["audience"].tolist() == [3]
    assert result.uplift is None  # no control group
    assert result.retention["eligible"].tolist() == [0, 0, 0]
    assert result.retention["share"].isna().all()


def test_an_award_without_a_recorded_contact_still_counts_for_its_customers_branch(personas, tree, make_customers, prize):
    (member,) = make_customers(1, tree.hd, prefix="T")
    campaign = approved_campaign(personas, code="EVT-20300301-AWD", members=[member], control=[])
    Award.objects.create(
        campaign=campaign, customer=member, slot_key=1, unit=1, prize=prize, key="a1", status="queued", action="event",
        seq=1, day=dt.date(2030, 3, 2), day_seq=1, cost=Decimal("5.00"), at=local(3, 2, 10),
    )
    result = analysis.campaign_analysis(campaign, now=NOW)
    assert result.kpis.winners == 1 and result.kpis.participants == 0
    assert result.by_branch[["code", "winners", "cost"]].to_dict("records") == [
        {"code": "BJ-HD", "winners": 1, "cost": 5.0}
    ]
