"""The forecast: reach, participants, expected and worst-case cost, the budget
check and conflicts with other campaigns — small cases computed by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from pyroaring import FrozenBitMap

from audiences import services as audience_services
from campaigns.kinds.base import Kind
from campaigns.models import Campaign, CampaignAudience, CampaignRevision, CampaignStatus
from campaigns.selectors import forecast
from tests.campaigns.lifecycle_helpers import make_campaign, make_pool, make_prize


class HalfOfThemTwice(Kind):
    """Half of those reached take part and get 2 grants on average, 4 at most."""

    participation_rate = Decimal("0.5")

    def grants_per_participant(self, campaign):
        return Decimal("2"), 4


@pytest.fixture
def pool(tree, personas):
    return make_pool(actor=personas.branch_admin, owner=tree.bj, budget=Decimal("100.00"))


@pytest.fixture
def dear(pool, personas):
    return make_prize(actor=personas.branch_admin, pool=pool, code="DEAR", name="Dear", unit_cost="5.00", stock=50)


@pytest.fixture
def cheap(pool, personas):
    return make_prize(actor=personas.branch_admin, pool=pool, code="CHEAP", name="Cheap", unit_cost="2.00", stock=500)


@pytest.fixture
def twenty(tree, make_customers):
    return make_customers(20, tree.bj)


def test_reach_participants_expected_cost_and_worst_case_by_hand(tree, personas, dear, cheap, twenty, monkeypatch):
    monkeypatch.setattr(forecast, "kind_for", lambda name: HalfOfThemTwice())
    campaign = make_campaign(
        owner=tree.bj, created_by=personas.operator, control_percent=10, budget_total=Decimal("150.00"),
        budget_daily=Decimal("5.00"), days=7,
        slots=[{"label": "A", "prize": dear, "quantity": 4}, {"label": "B", "prize": cheap, "quantity": 100}],
    )

    result = forecast.forecast(campaign)

    # 20 customers, 10 % held out: 18 reached; half take part: 9.
    assert (result.audience, result.control, result.reach, result.participants) == (20, 2, 18, 9)
    # 18 grants expected, half per slot: A is capped by its 4 reserved (CNY 20), B gives 9 (CNY 18).
    assert [(s.label, s.expected_grants, s.expected_cost) for s in result.slots] == [
        ("A", 4, Decimal("20.00")), ("B", 9, Decimal("18.00"))
    ]
    assert (result.expected_grants, result.expected_cost) == (13, Decimal("38.00"))
    # Worst: 18 customers x 4 grants = 72, the dearest first: A 4 (CNY 20), then B 68 (CNY 136).
    assert [(s.label, s.worst_grants, s.worst_cost) for s in result.slots] == [
        ("A", 4, Decimal("20.00")), ("B", 68, Decimal("136.00"))
    ]
    assert (result.worst_grants, result.worst_cost) == (72, Decimal("156.00"))
    assert not result.budget_covers_worst_case
    assert result.worst_cost_within_budget == Decimal("150.00")
    assert result.expected_daily_cost == Decimal("5.43")
    assert result.warnings == [
        "The worst case (CNY 156.00) is more than the total budget (CNY 150.00).",
        "The expected cost per day (CNY 5.43) is more than the daily budget (CNY 5.00): customers would be turned "
        "away on busy days.",
        "Prize pool Pool BJ-POOL (BJ-POOL) has CNY 100.00 of budget left, less than this campaign's worst case there "
        "(CNY 156.00).",
    ]


def test_a_budget_that_covers_every_reserved_prize_passes_the_check(tree, personas, dear, twenty, monkeypatch):
    monkeypatch.setattr(forecast, "kind_for", lambda name: HalfOfThemTwice())
    campaign = make_campaign(
        owner=tree.bj, created_by=personas.operator, budget_total=Decimal("20.00"), budget_daily=None,
        slots=[{"label": "A", "prize": dear, "quantity": 4}],
    )
    result = forecast.forecast(campaign)
    assert (result.worst_grants, result.worst_cost) == (4, Decimal("20.00"))
    assert result.budget_covers_worst_case
    assert result.warnings == []


def test_lottery_grants_spread_over_slots_by_weight(tree, personas, pool, make_customers, settings):
    settings.CAMPAIGNS_PARTICIPATION_RATE = "0.5"
    make_customers(100, tree.bj)
    gold = make_prize(actor=personas.branch_admin, pool=pool, code="GOLD", name="Gold", unit_cost="10.00", stock=5)
    pin = make_prize(actor=personas.branch_admin, pool=pool, code="PIN", name="Pin", unit_cost="1.00", stock=100)
    campaign = make_campaign(
        owner=tree.bj, created_by=personas.operator, kind="lottery", code="LOT-20300101-TEST",
        budget_total=Decimal("200.00"), limit_total=None, limit_per_day=None,
        kind_settings={"draws_per_day": 1, "draws_total": 2, "display": "wheel"},
        slots=[
            {"role": "prize", "label": "Gold", "prize": gold, "quantity": 5, "weight": 1000},
            {"role": "prize", "label": "Pin", "prize": pin, "quantity": 100, "weight": 3000},
            {"role": "none", "label": "Thanks"},
        ],
    )

    result = forecast.forecast(campaign)

    # 50 take part, 2 draws at 40 % each: 40 grants, a quarter gold (capped at 5), three quarters pins.
    assert result.participants == 50
    assert result.grants_per_participant == Decimal("0.8")
    assert [(s.label, s.expected_grants, s.expected_cost) for s in result.slots] == [
        ("Gold", 5, Decimal("50.00")), ("Pin", 30, Decimal("30.00"))
    ]
    assert result.expected_cost == Decimal("80.00")
    # Worst: 100 customers x 2 wins, all the gold first, then pins up to their 100.
    assert (result.worst_grants, result.worst_cost) == (105, Decimal("150.00"))


def test_without_a_rate_from_the_kind_or_settings_8_percent_take_part(tree, personas, dear, make_customers):
    make_customers(50, tree.bj)
    campaign = make_campaign(
        owner=tree.bj, created_by=personas.operator, kind="not-a-kind", slots=[{"prize": dear, "quantity": 10}]
    )
    result = forecast.forecast(campaign)
    assert result.participation_rate == Decimal("0.08")
    assert (result.reach, result.participants, result.expected_grants) == (50, 4, 4)
    assert (result.worst_grants_per_customer, result.worst_grants) == (1, 10)


def test_an_empty_audience_reaches_nobody(tree, personas, dear):
    campaign = make_campaign(owner=tree.bj, created_by=personas.operator, slots=[{"prize": dear, "quantity": 1}])
    result = forecast.forecast(campaign)
    assert (result.audience, result.reach, result.participants, result.expected_cost) == (0, 0, 0, Decimal("0.00"))
    assert (result.worst_grants, result.worst_cost) == (0, Decimal("0.00"))
    assert "Nobody can be reached: the audience is empty." in result.warnings


def test_a_segment_that_cannot_be_counted_is_a_problem_not_a_number(tree, personas, twenty):
    segment = audience_services.segment_create(actor=personas.operator, name="Old list", owner_branch=tree.bj)
    audience_services.segment_archive(actor=personas.branch_admin, segment=segment)
    campaign = make_campaign(owner=tree.bj, created_by=personas.operator)
    campaign.segments_in.add(segment)
    result = forecast.forecast(campaign)
    assert result.audience is None
    assert result.problems == ["Segment “Old list” is archived."]
    assert result.conflicts == []


# --- conflicts ------------------------------------------------------------------------


def running(campaign, *, status=CampaignStatus.LIVE, members=None):
    """Put a campaign in a running state with a frozen audience of ``members``."""
    if members is not None:
        revision = CampaignRevision.objects.create(
            campaign=campaign, number=1, state="approved", config={}, submitted_by=campaign.created_by
        )
        CampaignAudience.objects.create(
            revision=revision, members=FrozenBitMap(members).serialize(), control=FrozenBitMap().serialize(),
            size=len(members), control_size=0,
        )
        Campaign.objects.filter(pk=campaign.pk).update(live_revision=revision)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


def test_campaigns_running_at_the_same_time_for_the_same_customers_are_flagged(tree, personas, twenty):
    ours = make_campaign(owner=tree.bj, created_by=personas.operator)
    ids = [c.pk for c in twenty]
    overlapping = running(
        make_campaign(owner=tree.hd, created_by=personas.operator, code="EVT-OTHER", name="Haidian week"),
        members=[*ids[:3], 10**6],
    )
    running(  # same time, other customers
        make_campaign(owner=tree.bj, created_by=personas.operator, code="EVT-APART", name="Apart"), members=[10**6]
    )
    running(  # same customers, later
        make_campaign(
            owner=tree.bj, created_by=personas.operator, code="EVT-LATER", name="Later", starts_in=dt.timedelta(days=30)
        ),
        members=ids,
    )
    running(  # a draft does not count
        make_campaign(owner=tree.bj, created_by=personas.operator, code="EVT-DRAFT", name="Draft"),
        status=CampaignStatus.DRAFT, members=ids,
    )
    unknown = running(
        make_campaign(owner=tree.bj, created_by=personas.operator, code="EVT-NOAUD", name="No audience"),
        status=CampaignStatus.APPROVED,
    )

    result = forecast.forecast(ours)

    assert [(c.campaign, c.overlap) for c in result.conflicts] == [(overlapping, 3), (unknown, None)]
    assert "Haidian week (EVT-OTHER) runs at the same time for 3 of the same customers." in result.warnings
    assert "No audience (EVT-NOAUD) runs at the same time; its audience could not be compared." in result.warnings


def test_conflicts_stay_within_the_scope_of_who_asks(tree, personas, twenty):
    ours = make_campaign(owner=tree.bj, created_by=personas.operator)
    theirs = running(
        make_campaign(owner=tree.sh, created_by=personas.outsider, code="EVT-SH"), members=[c.pk for c in twenty]
    )
    assert forecast.conflicts(ours, members=FrozenBitMap(c.pk for c in twenty)) == []
    head_office = forecast.conflicts(ours, members=FrozenBitMap(c.pk for c in twenty), user=personas.ho_admin)
    assert [c.campaign for c in head_office] == [theirs]
