from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import AuditEntry
from rewards import selectors, services
from rewards.models import BudgetMovement, Grant, GrantStatus, Prize, PrizePool, StockMovement


def refresh(*objs):
    for obj in objs:
        obj.refresh_from_db()


def test_stock_and_budget_change_only_with_a_ledger_row_and_an_audit_entry(prize, pool, personas):
    refresh(prize, pool)
    assert prize.stock_available == 10 and pool.budget_available == Decimal("100.00")
    assert list(StockMovement.objects.filter(prize=prize).values_list("kind", "delta")) == [("added", 10)]
    assert list(BudgetMovement.objects.filter(pool=pool).values_list("kind", "amount")) == [("added", Decimal("100.00"))]
    assert AuditEntry.objects.filter(action="stock.add", actor=personas.branch_admin).exists()
    assert selectors.reconcile() == []


def test_stock_never_goes_below_zero(prize, personas):
    with pytest.raises(ValidationError):
        services.stock_adjust(actor=personas.branch_admin, prize=prize, delta=-11, reason="count")
    services.stock_adjust(actor=personas.branch_admin, prize=prize, delta=-4, reason="damaged")
    refresh(prize)
    assert prize.stock_available == 6
    with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses it too
        Prize.objects.filter(pk=prize.pk).update(stock_available=-1)


def test_operators_and_outsiders_change_no_stock_or_budget(prize, pool, personas):
    for actor in (personas.operator, personas.analyst, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.stock_add(actor=actor, prize=prize, quantity=1, reason="x")
        with pytest.raises(PermissionDenied):
            services.budget_add(actor=actor, pool=pool, amount=Decimal("1"), reason="x")
    refresh(prize)
    assert prize.stock_available == 10


def test_a_grant_takes_one_unit_and_its_cost_exactly_once(prize, pool, tree, make_customers):
    (customer,) = make_customers(1, tree.bj)
    first = services.grant_create(prize=prize, customer=customer, idempotency_key="k1", source="test")
    again = services.grant_create(prize=prize, customer=customer, idempotency_key="k1", source="test")
    assert first.pk == again.pk and Grant.objects.count() == 1
    refresh(prize, pool)
    assert prize.stock_available == 9 and pool.budget_available == Decimal("95.00")
    assert first.status == GrantStatus.PENDING and first.cost == Decimal("5.00")
    assert selectors.reconcile() == []


def test_a_key_reused_for_another_customer_is_refused(prize, tree, make_customers):
    a, b = make_customers(2, tree.bj)
    services.grant_create(prize=prize, customer=a, idempotency_key="k", source="test")
    with pytest.raises(ValidationError) as exc:
        services.grant_create(prize=prize, customer=b, idempotency_key="k", source="test")
    assert exc.value.code == "conflict"


def test_sold_out_and_over_budget_change_nothing(prize, pool, personas, tree, make_customers):
    customers = make_customers(12, tree.bj)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("100"), reason="more")
    for i, customer in enumerate(customers[:10]):
        services.grant_create(prize=prize, customer=customer, idempotency_key=f"k{i}", source="test")
    with pytest.raises(ValidationError) as exc:
        services.grant_create(prize=prize, customer=customers[10], idempotency_key="k10", source="test")
    assert exc.value.code == "sold_out"
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=50, reason="restock")
    expensive = services.prize_create(actor=personas.branch_admin, pool=pool, code="TV", name="TV", kind="gift", unit_cost=Decimal("500"))
    services.stock_add(actor=personas.branch_admin, prize=expensive, quantity=1, reason="one TV")
    with pytest.raises(ValidationError) as exc:
        services.grant_create(prize=expensive, customer=customers[11], idempotency_key="tv", source="test")
    assert exc.value.code == "budget"
    refresh(expensive, pool)
    assert expensive.stock_available == 1 and pool.budget_available == Decimal("150.00")
    assert Grant.objects.count() == 10 and selectors.reconcile() == []


def test_coupon_codes_are_issued_at_most_once(pool, personas, tree, make_customers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rewards.models import CouponCode
    from rewards.services import codes

    coupon = services.prize_create(actor=personas.branch_admin, pool=pool, code="C", name="coupon", kind="coupon", unit_cost=Decimal("0"))
    upload = SimpleUploadedFile("codes.csv", b"code\nCODE0\nCODE1\nCODE2\n")
    assert codes.coupon_codes_add(actor=personas.branch_admin, prize=coupon, uploaded_file=upload).added == 3
    customers = make_customers(3, tree.bj)
    grants = [services.grant_create(prize=coupon, customer=c, idempotency_key=f"c{i}", source="t") for i, c in enumerate(customers[:2])]
    assert {g.coupon_code.code for g in grants} == {"CODE0", "CODE1"}
    # Should the codes ever run out before the stock (a code deleted by hand), the grant is refused.
    CouponCode.objects.filter(code="CODE2").delete()
    with pytest.raises(ValidationError):
        services.grant_create(prize=coupon, customer=customers[2], idempotency_key="c2", source="t")
    refresh(coupon)
    assert coupon.stock_available == 1  # the refused grant gave its unit back


def test_head_office_transfers_stock_and_budget_down_the_tree_traceably(personas, tree):
    ho_pool = services.pool_create(actor=personas.ho_admin, code="HO", name="HO pool", owner_branch=tree.ho)
    services.budget_add(actor=personas.ho_admin, pool=ho_pool, amount=Decimal("1000"), reason="annual")
    gift = services.prize_create(actor=personas.ho_admin, pool=ho_pool, code="GIFT", name="Gift", kind="gift", unit_cost=Decimal("20"))
    services.stock_add(actor=personas.ho_admin, prize=gift, quantity=100, reason="bought")
    bj_pool = services.pool_create(actor=personas.ho_admin, code="BJ", name="BJ pool", owner_branch=tree.bj)
    target = services.stock_transfer(actor=personas.ho_admin, prize=gift, target_pool=bj_pool, quantity=30)
    services.budget_transfer(actor=personas.ho_admin, source=ho_pool, target=bj_pool, amount=Decimal("600"))
    refresh(gift, target, ho_pool, bj_pool)
    assert (gift.stock_available, target.stock_available) == (70, 30)
    assert target.source_prize == gift and target.unit_cost == gift.unit_cost
    assert (ho_pool.budget_available, bj_pool.budget_available) == (Decimal("400"), Decimal("600"))
    assert selectors.reconcile() == []
    with pytest.raises(ValidationError):  # never up the tree
        services.stock_transfer(actor=personas.ho_admin, prize=target, target_pool=ho_pool, quantity=1)
    with pytest.raises(PermissionDenied):  # a branch admin cannot take from head office
        services.stock_transfer(actor=personas.branch_admin, prize=gift, target_pool=bj_pool, quantity=1)


def test_a_reservation_is_granted_from_only_and_released_at_the_end(prize, tree, personas, make_customers):
    reservation = services.reservation_create(actor=personas.reviewer, prize=prize, quantity=4, source_ref="campaign:SPRING")
    refresh(prize)
    assert prize.stock_available == 6 and reservation.remaining == 4
    customers = make_customers(2, tree.bj)
    for i, customer in enumerate(customers):
        services.grant_create(prize=prize, customer=customer, idempotency_key=f"r{i}", source="campaign", reservation=reservation)
    refresh(prize, reservation)
    assert prize.stock_available == 6 and reservation.remaining == 2
    assert services.reservation_release(actor=personas.reviewer, reservation=reservation) == 2
    refresh(prize, reservation)
    assert prize.stock_available == 8 and reservation.remaining == 0
    assert services.reservation_release(actor=personas.reviewer, reservation=reservation) == 0
    assert selectors.reconcile() == []


def test_revoking_returns_stock_and_budget_once(prize, pool, tree, personas, make_customers):
    (customer,) = make_customers(1, tree.bj)
    grant = services.grant_create(prize=prize, customer=customer, idempotency_key="g", source="test")
    with pytest.raises(ValidationError):
        services.grant_revoke(actor=personas.branch_admin, grant=grant, reason=" ")
    services.grant_revoke(actor=personas.branch_admin, grant=grant, reason="customer closed the account")
    with pytest.raises(ValidationError):
        services.grant_revoke(actor=personas.branch_admin, grant=grant, reason="again")
    refresh(prize, pool, grant)
    assert grant.status == GrantStatus.REVOKED
    assert prize.stock_available == 10 and pool.budget_available == Decimal("100.00")
    assert AuditEntry.objects.filter(action="grant.revoke").count() == 1
    assert selectors.reconcile() == []


def test_reconcile_reports_a_tampered_counter_and_fix_repairs_it(prize, pool, capsys):
    Prize.objects.filter(pk=prize.pk).update(stock_available=99)
    PrizePool.objects.filter(pk=pool.pk).update(budget_available=Decimal("1"))
    with pytest.raises(SystemExit):
        call_command("rewards_reconcile")
    assert "counter 99, ledger 10" in capsys.readouterr().out
    call_command("rewards_reconcile", fix=True)
    refresh(prize, pool)
    assert prize.stock_available == 10 and pool.budget_available == Decimal("100.00")
    assert AuditEntry.objects.filter(action="reconcile.fix").count() == 2
    call_command("rewards_reconcile")  # clean now: exits normally


def test_pools_are_visible_only_within_scope(pool, personas, tree):
    assert list(PrizePool.objects.visible_to(personas.sub_admin)) == []
    assert list(PrizePool.objects.visible_to(personas.outsider)) == []
    assert list(PrizePool.objects.visible_to(personas.operator)) == [pool]
    assert list(PrizePool.objects.visible_to(personas.ho_admin)) == [pool]
    with pytest.raises(PermissionDenied):
        services.pool_create(actor=personas.branch_admin, code="X", name="x", owner_branch=tree.sh)
