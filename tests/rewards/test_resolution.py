"""Manual resolution of grants: retry, mark delivered, and a physical gift's fulfilment."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections

from accounts.models import AuditEntry
from rewards import services
from rewards.models import Fulfilment, Grant, GrantStatus
from rewards.services import delivery, resolution


@pytest.fixture
def customer(tree, make_customers):
    (customer,) = make_customers(1, tree.bj)
    return customer


@pytest.fixture
def gift(pool, personas):
    gift = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="MUG", name="Mug", kind="gift", unit_cost=Decimal("8.00")
    )
    services.stock_add(actor=personas.branch_admin, prize=gift, quantity=5, reason="mugs arrived")
    return gift


@pytest.fixture
def enqueued(monkeypatch):
    calls = []
    monkeypatch.setattr(delivery, "grants_enqueue", lambda *, grant_ids: calls.append(list(grant_ids)))
    return calls


def grant_for(prize, customer, key="k1"):
    return services.grant_create(prize=prize, customer=customer, idempotency_key=key, source="test")


def fail(grant, *, kind="permanent", error="HTTP 400: account closed", attempts=3):
    Grant.objects.filter(pk=grant.pk).update(
        status=GrantStatus.FAILED, failure_kind=kind, last_error=error, attempts=attempts
    )
    grant.refresh_from_db()
    return grant


def audit_of(grant, action):
    return AuditEntry.objects.filter(object_type="rewards.grant", object_id=str(grant.pk), action=action)


# --- retry -------------------------------------------------------------------------


def test_retry_puts_a_failed_grant_back_to_pending_and_keeps_the_failure_in_the_audit(
    prize, customer, personas, enqueued, django_capture_on_commit_callbacks
):
    grant = fail(grant_for(prize, customer))
    Grant.objects.filter(pk=grant.pk).update(next_attempt_at="2030-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks(execute=True):
        resolution.grant_retry(actor=personas.operator, grant=grant, reason="account unblocked")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.PENDING
    assert grant.attempts == 0 and grant.next_attempt_at is None
    assert grant.last_error == "" and grant.failure_kind == ""
    (entry,) = audit_of(grant, "grant.retry")
    assert entry.actor == personas.operator and entry.reason == "account unblocked"
    assert entry.changes["status"] == ["failed", "pending"]
    assert entry.changes["failure"]["last_error"] == "HTTP 400: account closed"
    assert entry.changes["failure"]["failure_kind"] == "permanent"
    assert entry.changes["failure"]["attempts"] == 3
    assert enqueued == [[grant.pk]]


def test_a_refused_retry_queues_nothing(prize, customer, personas, enqueued, django_capture_on_commit_callbacks):
    grant = fail(grant_for(prize, customer))
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(ValidationError):
        resolution.grant_retry(actor=personas.operator, grant=grant, reason="  ")
    assert callbacks == [] and enqueued == []


def test_retrying_twice_changes_the_grant_once(prize, customer, personas, enqueued, django_capture_on_commit_callbacks):
    grant = fail(grant_for(prize, customer))
    with django_capture_on_commit_callbacks(execute=True):
        resolution.grant_retry(actor=personas.operator, grant=grant, reason="first click")
    stale = Grant.objects.get(pk=grant.pk)
    stale.status = GrantStatus.FAILED  # the second click still shows the old page
    with pytest.raises(ValidationError, match="Only a failed grant"), django_capture_on_commit_callbacks(execute=True):
        resolution.grant_retry(actor=personas.operator, grant=stale, reason="second click")
    assert audit_of(grant, "grant.retry").count() == 1
    assert enqueued == [[grant.pk]]


@pytest.mark.parametrize("status", ["pending", "dispatching", "delivered", "revoked"])
def test_only_a_failed_grant_can_be_retried(prize, customer, personas, status):
    grant = grant_for(prize, customer)
    Grant.objects.filter(pk=grant.pk).update(status=status, attempts=2)
    with pytest.raises(ValidationError, match="Only a failed grant"):
        resolution.grant_retry(actor=personas.operator, grant=grant, reason="why not")
    grant.refresh_from_db()
    assert grant.status == status and grant.attempts == 2
    assert not audit_of(grant, "grant.retry").exists()


def test_a_retry_needs_a_reason(prize, customer, personas):
    grant = fail(grant_for(prize, customer))
    with pytest.raises(ValidationError, match="Say why"):
        resolution.grant_retry(actor=personas.operator, grant=grant, reason=" ")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.FAILED


@pytest.mark.parametrize("who", ["ho_admin", "branch_admin", "operator"])
def test_dispatchers_in_scope_may_retry(prize, customer, personas, who):
    grant = fail(grant_for(prize, customer))
    resolution.grant_retry(actor=getattr(personas, who), grant=grant, reason="again")
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.PENDING


@pytest.mark.parametrize("who", ["reviewer", "analyst", "outsider", "sub_admin"])
def test_readers_and_users_out_of_scope_may_not_retry(prize, customer, personas, who):
    grant = fail(grant_for(prize, customer))
    with pytest.raises(PermissionDenied):
        resolution.grant_retry(actor=getattr(personas, who), grant=grant, reason="again")
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.FAILED
    assert not audit_of(grant, "grant.retry").exists()


# --- mark delivered --------------------------------------------------------------


def test_a_failed_grant_confirmed_elsewhere_can_be_marked_delivered(prize, customer, personas, enqueued):
    grant = fail(grant_for(prize, customer), kind="transient", error="timeout")
    resolution.grant_mark_delivered(actor=personas.branch_admin, grant=grant, reason="core system ref CS-991")
    grant.refresh_from_db()
    assert grant.status == GrantStatus.DELIVERED and grant.delivered_at is not None
    assert grant.last_error == "" and grant.next_attempt_at is None
    (entry,) = audit_of(grant, "grant.mark_delivered")
    assert entry.actor == personas.branch_admin and entry.reason == "core system ref CS-991"
    assert entry.changes["failure"]["last_error"] == "timeout"
    assert enqueued == []  # nothing is sent


def test_marking_delivered_needs_a_reason(prize, customer, personas):
    grant = fail(grant_for(prize, customer))
    with pytest.raises(ValidationError, match="Say how"):
        resolution.grant_mark_delivered(actor=personas.branch_admin, grant=grant, reason="")
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.FAILED


@pytest.mark.parametrize("status", ["pending", "dispatching", "delivered", "revoked"])
def test_only_a_failed_grant_can_be_marked_delivered(prize, customer, personas, status):
    grant = grant_for(prize, customer)
    Grant.objects.filter(pk=grant.pk).update(status=status)
    with pytest.raises(ValidationError, match="Only a failed grant"):
        resolution.grant_mark_delivered(actor=personas.branch_admin, grant=grant, reason="confirmed")
    assert Grant.objects.get(pk=grant.pk).status == status


def test_marking_delivered_twice_changes_the_grant_once(prize, customer, personas):
    grant = fail(grant_for(prize, customer))
    resolution.grant_mark_delivered(actor=personas.branch_admin, grant=grant, reason="confirmed")
    first = Grant.objects.get(pk=grant.pk).delivered_at
    with pytest.raises(ValidationError):
        resolution.grant_mark_delivered(actor=personas.branch_admin, grant=grant, reason="confirmed again")
    assert Grant.objects.get(pk=grant.pk).delivered_at == first
    assert audit_of(grant, "grant.mark_delivered").count() == 1


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst", "outsider", "sub_admin"])
def test_only_pool_managers_in_scope_may_mark_delivered(prize, customer, personas, who):
    grant = fail(grant_for(prize, customer))
    with pytest.raises(PermissionDenied):
        resolution.grant_mark_delivered(actor=getattr(personas, who), grant=grant, reason="confirmed")
    assert Grant.objects.get(pk=grant.pk).status == GrantStatus.FAILED


# --- physical-gift fulfilment ------------------------------------------------------


def test_a_gift_goes_from_to_ship_to_shipped_to_received(gift, customer, personas):
    grant = grant_for(gift, customer)
    assert grant.fulfilment == Fulfilment.TO_SHIP
    assert resolution.fulfilment_next(grant) == (Fulfilment.SHIPPED,)
    grant = resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped", reason="SF123")
    assert grant.fulfilment == Fulfilment.SHIPPED
    assert set(resolution.fulfilment_next(grant)) == {Fulfilment.RECEIVED, Fulfilment.RETURNED}
    grant = resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="received")
    assert grant.fulfilment == Fulfilment.RECEIVED and resolution.fulfilment_next(grant) == ()
    entries = list(audit_of(grant, "grant.fulfilment").order_by("at", "id"))
    assert [e.changes["fulfilment"] for e in entries] == [["to_ship", "shipped"], ["shipped", "received"]]
    assert entries[0].reason == "SF123" and entries[0].actor == personas.operator


def test_a_shipped_gift_can_come_back(gift, customer, personas):
    grant = grant_for(gift, customer)
    resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped")
    grant = resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="returned", reason="refused")
    assert grant.fulfilment == Fulfilment.RETURNED


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("to_ship", "received"),
        ("to_ship", "returned"),
        ("to_ship", "to_ship"),
        ("shipped", "to_ship"),
        ("shipped", "shipped"),
        ("received", "shipped"),
        ("received", "returned"),
        ("returned", "shipped"),
        ("returned", "received"),
    ],
)
def test_other_fulfilment_moves_are_refused(gift, customer, personas, start, target):
    grant = grant_for(gift, customer)
    Grant.objects.filter(pk=grant.pk).update(fulfilment=start)
    grant.refresh_from_db()
    with pytest.raises(ValidationError, match="cannot be marked"):
        resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status=target)
    assert Grant.objects.get(pk=grant.pk).fulfilment == start
    assert not audit_of(grant, "grant.fulfilment").exists()


def test_an_unknown_fulfilment_status_is_refused(gift, customer, personas):
    grant = grant_for(gift, customer)
    with pytest.raises(ValidationError, match="Unknown"):
        resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="lost")
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.TO_SHIP


def test_a_prize_that_is_not_a_gift_has_no_fulfilment(prize, customer, personas):
    grant = grant_for(prize, customer)
    assert resolution.fulfilment_next(grant) == ()
    with pytest.raises(ValidationError, match="Only a physical gift"):
        resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped")
    assert Grant.objects.get(pk=grant.pk).fulfilment == ""


def test_a_revoked_gift_is_no_longer_tracked(gift, customer, personas):
    grant = grant_for(gift, customer)
    grant = services.grant_revoke(actor=personas.branch_admin, grant=grant, reason="customer left")
    assert resolution.fulfilment_next(grant) == ()
    with pytest.raises(ValidationError, match="revoked"):
        resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped")
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.TO_SHIP


def test_shipping_twice_changes_the_gift_once(gift, customer, personas):
    grant = grant_for(gift, customer)
    resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped")
    with pytest.raises(ValidationError, match="cannot be marked"):
        resolution.grant_fulfilment_set(actor=personas.operator, grant=grant, status="shipped")
    assert audit_of(grant, "grant.fulfilment").count() == 1


@pytest.mark.parametrize("who", ["reviewer", "analyst", "outsider", "sub_admin"])
def test_readers_and_users_out_of_scope_may_not_change_fulfilment(gift, customer, personas, who):
    grant = grant_for(gift, customer)
    with pytest.raises(PermissionDenied):
        resolution.grant_fulfilment_set(actor=getattr(personas, who), grant=grant, status="shipped")
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.TO_SHIP


# --- real concurrency ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with concurrent connections")
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_grant_change_it_once(prize, customer, personas, enqueued):
    grant = fail(grant_for(prize, customer))
    enqueued.clear()  # the grant's own delivery, queued when it was made
    clicks = 8
    barrier = threading.Barrier(clicks)
    outcomes: list[str] = []

    def click(n):
        try:
            barrier.wait()
            resolution.grant_retry(actor=personas.operator, grant=Grant.objects.get(pk=grant.pk), reason=f"click {n}")
            outcomes.append("changed")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click, args=(n,)) for n in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed"] + ["refused"] * (clicks - 1)
    assert audit_of(grant, "grant.retry").count() == 1
    assert enqueued == [[grant.pk]]
