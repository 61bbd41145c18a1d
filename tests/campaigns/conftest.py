"""Campaign fixtures: prize pools with stock in Beijing and Shanghai, campaigns made by
the one-click service, and the other things an editor chooses from (segments, tags,
materials) on both sides of the scope line.

The tree and personas come from tests/conftest.py: BJ (with BJ-HD below) is the
branch under test; SH is the sibling an outsider works in.
"""

from decimal import Decimal

import pytest

from audiences.services import segments as segment_services
from campaigns.models import Campaign, Material, MaterialKind
from campaigns.services import campaigns as campaign_services
from rewards import services as reward_services


def _prize(actor, pool, code, name, kind, unit_cost, stock):
    prize = reward_services.prize_create(
        actor=actor, pool=pool, code=code, name=name, kind=kind, unit_cost=Decimal(unit_cost)
    )
    reward_services.stock_add(actor=actor, prize=prize, quantity=stock, reason="initial stock")
    prize.refresh_from_db()
    return prize


@pytest.fixture
def pool(personas, tree):
    pool = reward_services.pool_create(
        actor=personas.branch_admin, code="BJ-POOL", name="Beijing pool", owner_branch=tree.bj
    )
    reward_services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("50000.00"), reason="Q4 budget")
    return pool


@pytest.fixture
def prize(pool, personas):
    return _prize(personas.branch_admin, pool, "CASH5", "5 yuan red packet", "cash", "5.00", 1000)


@pytest.fixture
def prizes(pool, prize, personas):
    """Three prizes with stock in the Beijing pool, cheapest last."""
    gift = _prize(personas.branch_admin, pool, "GIFT", "Umbrella", "gift", "80.00", 50)
    points = _prize(personas.branch_admin, pool, "PTS", "100 points", "points", "0.50", 5000)
    return [gift, prize, points]


@pytest.fixture
def sh_prize(personas, tree):
    pool = reward_services.pool_create(
        actor=personas.outsider, code="SH-POOL", name="Shanghai pool", owner_branch=tree.sh
    )
    return _prize(personas.outsider, pool, "SH-GIFT", "Shanghai gift", "gift", "9.00", 100)


@pytest.fixture
def make_campaign(personas):
    """A campaign through the one-click service (an operator of Beijing by default)."""

    def make(kind="lottery", *, actor=None, owner_branch=None, **fields) -> Campaign:
        campaign = campaign_services.campaign_generate(
            actor=actor or personas.operator, kind=kind, owner_branch=owner_branch
        )
        if fields:
            Campaign.objects.filter(pk=campaign.pk).update(**fields)
            campaign.refresh_from_db()
        return campaign

    return make


@pytest.fixture
def campaign(make_campaign, prizes):
    """A Beijing lottery draft with prize slots from the Beijing pool."""
    return make_campaign("lottery")


@pytest.fixture
def sh_campaign(make_campaign, personas, sh_prize):
    return make_campaign("lottery", actor=personas.outsider)


@pytest.fixture
def make_segment():
    def make(name, owner, actor):
        return segment_services.segment_create(actor=actor, name=name, owner_branch=owner)

    return make


@pytest.fixture
def make_material():
    def make(name, owner, actor, kind=MaterialKind.POSTER):
        return Material.objects.create(owner_branch=owner, kind=kind, name=name, created_by=actor)

    return make


@pytest.fixture
def set_status():
    """Put a campaign in a lifecycle state directly (the lifecycle services are tested elsewhere)."""

    def put(campaign: Campaign, status: str, **fields) -> Campaign:
        Campaign.objects.filter(pk=campaign.pk).update(status=status, **fields)
        campaign.refresh_from_db()
        return campaign

    return put
