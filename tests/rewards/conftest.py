from decimal import Decimal

import pytest

from rewards import services


@pytest.fixture
def pool(personas, tree):
    pool = services.pool_create(actor=personas.branch_admin, code="BJ-POOL", name="Beijing pool", owner_branch=tree.bj)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("100.00"), reason="Q4 budget")
    return pool


@pytest.fixture
def prize(pool, personas):
    prize = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="CASH5", name="5 yuan red packet", kind="cash", unit_cost=Decimal("5.00")
    )
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=10, reason="initial stock")
    return prize
