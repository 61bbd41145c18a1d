"""50 real processes granting at once on PostgreSQL: no oversell, no overspend,
one grant per idempotency key."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from rewards import selectors, services
from rewards.models import Grant

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 50

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with many processes"),
]

# Each process waits at a barrier file so all of them grant at the same moment.
WORKER = r"""
import json, os, sys, time
import django
django.setup()
from django.core.exceptions import ValidationError
from audiences.models import Customer
from rewards import services
from rewards.models import Prize
args = json.loads(sys.argv[1])
prize = Prize.objects.get(pk=args["prize"])
customers = list(Customer.objects.filter(pk__in=args["customers"]))
shared = Customer.objects.get(pk=args["shared"])
while not os.path.exists(args["go"]):
    time.sleep(0.01)
made = refused = 0
for i, customer in enumerate(customers):
    # Every process first sends the same request (key and customer) as all the others.
    key = "shared-key" if i == 0 else f"{args['n']}-{i}"
    try:
        services.grant_create(prize=prize, customer=shared if i == 0 else customer,
                              idempotency_key=key, source="concurrency")
        made += 1
    except ValidationError as exc:
        assert exc.code in ("sold_out", "budget"), exc
        refused += 1
print(json.dumps({"made": made, "refused": refused}))
"""


def database_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def run_processes(tmp_path, prize, customers):
    go = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    ids = [c.pk for c in customers]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps({"prize": prize.pk, "customers": ids[n::PROCESSES][:4], "shared": ids[0], "go": str(go), "n": n})],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(PROCESSES)
    ]
    go.touch()
    for worker in workers:
        _out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]


@pytest.mark.django_db(transaction=True)
def test_fifty_processes_never_oversell_and_make_one_grant_per_key(tmp_path, personas, tree, make_customers):
    pool = services.pool_create(actor=personas.branch_admin, code="P", name="pool", owner_branch=tree.bj)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("10000"), reason="ample")
    prize = services.prize_create(actor=personas.branch_admin, pool=pool, code="X", name="x", kind="cash", unit_cost=Decimal("1.50"))
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=100, reason="stock 100")
    customers = make_customers(200, tree.bj)  # 50 processes, 4 attempts each: 200 > 100
    run_processes(tmp_path, prize, customers)
    assert Grant.objects.count() == 100
    assert Grant.objects.filter(idempotency_key="shared-key").count() == 1
    prize.refresh_from_db()
    pool.refresh_from_db()
    assert prize.stock_available == 0
    assert pool.budget_available == Decimal("10000") - 100 * Decimal("1.50")
    assert selectors.reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_fifty_processes_never_exceed_the_budget(tmp_path, personas, tree, make_customers):
    pool = services.pool_create(actor=personas.branch_admin, code="P", name="pool", owner_branch=tree.bj)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("60"), reason="budget for 60")
    prize = services.prize_create(actor=personas.branch_admin, pool=pool, code="X", name="x", kind="cash", unit_cost=Decimal("1"))
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=100, reason="stock 100")
    customers = make_customers(200, tree.bj)
    run_processes(tmp_path, prize, customers)
    pool.refresh_from_db()
    prize.refresh_from_db()
    assert Grant.objects.count() == 60
    assert pool.budget_available == Decimal("0")
    assert prize.stock_available == 40  # refused grants gave their unit back
    assert selectors.reconcile() == []
