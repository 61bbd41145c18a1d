"""Grant pages: the list, one grant and its actions, and the audit per customer and per pool."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from rewards import selectors, services
from rewards.models import Fulfilment, Grant, GrantStatus, StockMovement
from rewards.services import codes, delivery


@pytest.fixture(autouse=True)
def _no_queue(monkeypatch):
    monkeypatch.setattr(delivery, "grants_enqueue", lambda *, grant_ids: None)


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(3, tree.bj)


@pytest.fixture
def sibling(tree, personas, make_customers):
    """A pool, prize, customer and grant of the sibling branch SH: out of BJ's scope."""
    pool = services.pool_create(actor=personas.outsider, code="SH-POOL", name="Shanghai pool", owner_branch=tree.sh)
    services.budget_add(actor=personas.outsider, pool=pool, amount=Decimal("50"), reason="SH budget")
    prize = services.prize_create(
        actor=personas.outsider, pool=pool, code="SH5", name="SH packet", kind="cash", unit_cost=Decimal("5")
    )
    services.stock_add(actor=personas.outsider, prize=prize, quantity=5, reason="SH stock")
    (customer,) = make_customers(1, tree.sh, prefix="S")
    grant = services.grant_create(prize=prize, customer=customer, idempotency_key="sh-1", source="test")
    return SimpleNamespace(pool=pool, prize=prize, customer=customer, grant=Grant.objects.get(pk=grant.pk))


def grant_for(prize, customer, key, source="test", source_ref=""):
    return services.grant_create(prize=prize, customer=customer, idempotency_key=key, source=source, source_ref=source_ref)


def fail(grant, error="HTTP 400: account closed"):
    Grant.objects.filter(pk=grant.pk).update(status=GrantStatus.FAILED, failure_kind="permanent", last_error=error, attempts=3)
    grant.refresh_from_db()
    return grant


def status_of(grant):
    return Grant.objects.get(pk=grant.pk).status


def url(name, *args):
    return reverse(f"rewards:{name}", args=args)


@pytest.fixture
def gift(pool, personas):
    gift = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="MUG", name="Mug", kind="gift", unit_cost=Decimal("8.00")
    )
    services.stock_add(actor=personas.branch_admin, prize=gift, quantity=5, reason="mugs arrived")
    return gift


# --- the list ---------------------------------------------------------------------------


def test_the_list_shows_grants_in_scope_only_with_masked_phones(login, personas, prize, customers, sibling):
    grant_for(prize, customers[0], "a")
    response = login(personas.branch_admin).get(url("grant_list"))
    assert response.status_code == 200
    content = response.content.decode()
    assert customers[0].customer_ref in content
    assert sibling.customer.customer_ref not in content
    assert customers[0].phone not in content and "138****0000" in content


def test_head_office_sees_every_grant_and_full_phones(login, personas, prize, customers, sibling):
    grant_for(prize, customers[0], "a")
    content = login(personas.ho_admin).get(url("grant_list")).content.decode()
    assert customers[0].customer_ref in content and sibling.customer.customer_ref in content
    assert customers[0].phone in content


def _listed(response):
    return set(response.context["page_obj"].object_list)


def test_the_list_filters_by_status_customer_key_source_pool_prize_kind_and_date(
    login, personas, prize, gift, customers, sibling
):
    a = grant_for(prize, customers[0], "key-a", source="lottery", source_ref="CAMP-1")
    b = fail(grant_for(prize, customers[1], "key-b", source="manual"))
    c = grant_for(gift, customers[2], "key-c", source="manual")
    services.grant_revoke(actor=personas.branch_admin, grant=a, reason="mistake")
    client = login(personas.branch_admin)
    get = lambda **params: _listed(client.get(url("grant_list"), params))  # noqa: E731
    assert get() == {a, b, c}
    assert get(status="failed") == {b}
    assert get(status="revoked") == {a}
    assert get(q=customers[1].customer_ref) == {b}
    assert get(q="key-c") == {c}
    assert get(q="CAMP-1") == {a}
    assert get(source="manu") == {b, c}
    assert get(pool=prize.pool_id) == {a, b, c}
    assert get(prize=gift.pk) == {c}
    assert get(kind="gift") == {c}
    assert get(fulfilment="to_ship") == {c}
    today = timezone.localdate()
    assert get(since=today.isoformat(), until=today.isoformat()) == {a, b, c}
    assert get(since=(today + dt.timedelta(days=1)).isoformat()) == set()


def test_a_tampered_pool_or_prize_in_the_list_filter_is_ignored_not_shown(login, personas, prize, customers, sibling):
    grant_for(prize, customers[0], "a")
    response = login(personas.branch_admin).get(url("grant_list"), {"prize": sibling.prize.pk, "pool": sibling.pool.pk})
    assert response.status_code == 200
    assert sibling.customer.customer_ref not in response.content.decode()
    assert "Some filters are not valid" in response.content.decode()


def test_the_status_chips_count_grants_under_the_other_filters(login, personas, prize, gift, customers):
    grant_for(prize, customers[0], "a")
    fail(grant_for(prize, customers[1], "b"))
    grant_for(gift, customers[2], "c")
    response = login(personas.branch_admin).get(url("grant_list"), {"status": "failed", "kind": "cash"})
    chips = {value: count for value, _label, count in response.context["status_chips"]}
    assert chips["pending"] == 1 and chips["failed"] == 1 and chips["delivered"] == 0
    assert response.context["total"] == 2
    content = response.content.decode()
    assert 'href="?status=pending&amp;kind=cash"' in content or 'href="?kind=cash&amp;status=pending"' in content


def test_htmx_gets_only_the_table(login, personas, prize, customers):
    grant_for(prize, customers[0], "a")
    response = login(personas.branch_admin).get(url("grant_list"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.startswith('<div id="grant-table">') or 'id="grant-table"' in content.splitlines()[0]
    assert "<html" not in content


def test_the_list_query_count_does_not_grow_with_its_rows(
    login, personas, prize, pool, gift, tree, make_customers, django_assert_max_num_queries
):
    client = login(personas.branch_admin)
    few = make_customers(2, tree.bj)
    for n, customer in enumerate(few):
        grant_for(prize if n % 2 else gift, customer, f"few-{n}")
    with django_assert_max_num_queries(30) as captured:
        assert client.get(url("grant_list")).status_code == 200
    baseline = len(captured.captured_queries)
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("500"), reason="more")
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=30, reason="more")
    services.stock_add(actor=personas.branch_admin, prize=gift, quantity=30, reason="more")
    for n, customer in enumerate(make_customers(30, tree.bj, start=100)):
        grant_for(prize if n % 2 else gift, customer, f"many-{n}")
    with django_assert_max_num_queries(baseline):
        assert client.get(url("grant_list")).status_code == 200


def test_the_list_answers_405_to_a_post(login, personas):
    assert login(personas.analyst).post(url("grant_list")).status_code == 405


# --- one grant ----------------------------------------------------------------------------


def test_the_grant_page_shows_its_facts_ledger_deliveries_and_audit(login, personas, prize, customers):
    grant = fail(grant_for(prize, customers[0], "key-1", source="lottery", source_ref="CAMP-7"))
    grant.deliveries.create(idempotency_key=grant.idempotency_key, backend="logging", payload={})
    response = login(personas.analyst).get(url("grant_detail", grant.pk))
    assert response.status_code == 200
    content = response.content.decode()
    for text in ("5 yuan red packet", "BJ-POOL", customers[0].customer_ref, "¥5.00", "lottery", "CAMP-7", "key-1",
                 "HTTP 400: account closed", "permanent", "logging", "granted"):
        assert text in content, text
    assert customers[0].phone not in content
    assert response.context["stock_movements"][0].kind == "granted"
    assert response.context["budget_movements"][0].amount == Decimal("-5.00")


def test_a_coupon_code_is_shown_masked_but_for_its_last_four(login, personas, pool, customers):
    coupon = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="CPN", name="Coupon", kind="coupon", unit_cost=Decimal("1")
    )
    upload = SimpleUploadedFile("codes.csv", b"code\r\nSECRET-CODE-9876\r\n", content_type="text/csv")
    assert codes.coupon_codes_add(actor=personas.branch_admin, prize=coupon, uploaded_file=upload).ok
    grant = grant_for(coupon, customers[0], "cpn-1")
    content = login(personas.operator).get(url("grant_detail", grant.pk)).content.decode()
    assert "SECRET-CODE-9876" not in content
    assert "************9876" in content


def test_the_actions_shown_depend_on_the_role_and_the_status(login, personas, prize, gift, customers):
    failed = fail(grant_for(prize, customers[0], "f"))
    parcel = grant_for(gift, customers[1], "g")

    def actions(user, grant):
        return login(user).get(url("grant_detail", grant.pk)).context["actions"]

    assert actions(personas.branch_admin, failed) == {"retry": True, "mark_delivered": True, "revoke": True, "fulfilment": False}
    assert actions(personas.operator, failed) == {"retry": True, "mark_delivered": False, "revoke": False, "fulfilment": False}
    assert actions(personas.analyst, failed) == dict.fromkeys(("retry", "mark_delivered", "revoke", "fulfilment"), False)
    assert actions(personas.operator, parcel) == {"retry": False, "mark_delivered": False, "revoke": False, "fulfilment": True}
    assert actions(personas.branch_admin, parcel)["revoke"] is True
    content = login(personas.operator).get(url("grant_detail", failed.pk)).content.decode()
    assert 'id="retry-form"' in content and 'id="revoke-form"' not in content
    assert 'id="mark-delivered-form"' not in content


def test_a_grant_out_of_scope_is_404_on_every_grant_url(login, personas, prize, customers, sibling):
    grant = fail(grant_for(prize, customers[0], "a"))
    outsider = login(personas.outsider)
    assert outsider.get(url("grant_detail", grant.pk)).status_code == 404
    for name in ("grant_retry", "grant_mark_delivered", "grant_revoke", "grant_fulfilment"):
        assert outsider.post(url(name, grant.pk), {"retry-reason": "x"}).status_code == 404
    assert status_of(grant) == GrantStatus.FAILED


def test_a_sibling_branchs_grant_id_in_the_url_is_404_and_changes_nothing(login, personas, sibling):
    fail(sibling.grant)
    client = login(personas.branch_admin)
    assert client.get(url("grant_detail", sibling.grant.pk)).status_code == 404
    assert client.post(url("grant_retry", sibling.grant.pk), {"retry-reason": "x"}).status_code == 404
    assert client.post(url("grant_mark_delivered", sibling.grant.pk), {"delivered-reason": "x"}).status_code == 404
    assert client.post(url("grant_revoke", sibling.grant.pk), {"revoke-reason": "x"}).status_code == 404
    assert client.post(url("grant_fulfilment", sibling.grant.pk), {"fulfilment-status": "shipped"}).status_code == 404
    assert status_of(sibling.grant) == GrantStatus.FAILED
    assert client.get(url("grant_detail", 999999)).status_code == 404


def test_the_grant_page_answers_405_to_a_post_and_actions_to_a_get(login, personas, prize, customers):
    grant = fail(grant_for(prize, customers[0], "a"))
    client = login(personas.branch_admin)
    assert client.post(url("grant_detail", grant.pk)).status_code == 405
    for name in ("grant_retry", "grant_mark_delivered", "grant_revoke", "grant_fulfilment"):
        assert client.get(url(name, grant.pk)).status_code == 405
    assert status_of(grant) == GrantStatus.FAILED


# --- actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "branch_admin", "ho_admin"])
def test_dispatchers_retry_a_failed_grant(login, personas, prize, customers, who):
    grant = fail(grant_for(prize, customers[0], "a"))
    client = login(getattr(personas, who))
    response = client.post(url("grant_retry", grant.pk), {"retry-reason": "account unblocked"})
    assert response.status_code == 302 and response.url == url("grant_detail", grant.pk)
    assert status_of(grant) == GrantStatus.PENDING
    page = client.get(response.url).content.decode()
    assert "queued for delivery again" in page and "account unblocked" in page


@pytest.mark.parametrize("who", ["reviewer", "analyst"])
def test_readers_may_not_retry(login, personas, prize, customers, who):
    grant = fail(grant_for(prize, customers[0], "a"))
    assert login(getattr(personas, who)).post(url("grant_retry", grant.pk), {"retry-reason": "x"}).status_code == 403
    assert status_of(grant) == GrantStatus.FAILED


def test_a_retry_without_a_reason_is_refused_on_the_form(login, personas, prize, customers):
    grant = fail(grant_for(prize, customers[0], "a"))
    response = login(personas.operator).post(url("grant_retry", grant.pk), {"retry-reason": ""})
    assert response.status_code == 422
    assert response.context["forms"]["retry"].errors["reason"]
    assert status_of(grant) == GrantStatus.FAILED


def test_a_second_click_on_retry_shows_why_it_was_refused(login, personas, prize, customers):
    grant = fail(grant_for(prize, customers[0], "a"))
    client = login(personas.operator)
    assert client.post(url("grant_retry", grant.pk), {"retry-reason": "first"}).status_code == 302
    response = client.post(url("grant_retry", grant.pk), {"retry-reason": "second"})
    assert response.status_code == 422
    assert "Only a failed grant can be resolved; this one is pending." in response.content.decode()
    assert AuditEntry.objects.filter(action="grant.retry", object_id=str(grant.pk)).count() == 1


def test_a_branch_admin_marks_a_failed_grant_delivered(login, personas, prize, customers):
    grant = fail(grant_for(prize, customers[0], "a"))
    response = login(personas.branch_admin).post(url("grant_mark_delivered", grant.pk), {"delivered-reason": "CS-12"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.status == GrantStatus.DELIVERED and grant.delivered_at is not None


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_only_pool_managers_mark_delivered(login, personas, prize, customers, who):
    grant = fail(grant_for(prize, customers[0], "a"))
    response = login(getattr(personas, who)).post(url("grant_mark_delivered", grant.pk), {"delivered-reason": "x"})
    assert response.status_code == 403
    assert status_of(grant) == GrantStatus.FAILED


def test_a_branch_admin_revokes_a_grant_and_its_stock_and_cost_return(login, personas, prize, pool, customers):
    grant = grant_for(prize, customers[0], "a")
    response = login(personas.branch_admin).post(url("grant_revoke", grant.pk), {"revoke-reason": "wrong customer"})
    assert response.status_code == 302
    assert status_of(grant) == GrantStatus.REVOKED
    prize.refresh_from_db()
    pool.refresh_from_db()
    assert prize.stock_available == 10 and pool.budget_available == Decimal("100.00")


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_only_pool_managers_revoke(login, personas, prize, customers, who):
    grant = grant_for(prize, customers[0], "a")
    assert login(getattr(personas, who)).post(url("grant_revoke", grant.pk), {"revoke-reason": "x"}).status_code == 403
    assert status_of(grant) == GrantStatus.PENDING


def test_revoking_a_revoked_grant_is_refused_on_the_page(login, personas, prize, customers):
    grant = grant_for(prize, customers[0], "a")
    client = login(personas.branch_admin)
    client.post(url("grant_revoke", grant.pk), {"revoke-reason": "once"})
    response = client.post(url("grant_revoke", grant.pk), {"revoke-reason": "twice"})
    assert response.status_code == 422
    assert "already revoked" in response.content.decode()
    assert StockMovement.objects.filter(grant=grant, kind="revoked").count() == 1


def test_an_operator_moves_a_gift_along(login, personas, gift, customers):
    grant = grant_for(gift, customers[0], "g")
    client = login(personas.operator)
    response = client.post(url("grant_fulfilment", grant.pk), {"fulfilment-status": "shipped", "fulfilment-reason": "SF1"})
    assert response.status_code == 302
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.SHIPPED
    page = client.get(url("grant_detail", grant.pk))
    assert [value for value, _label in page.context["forms"]["fulfilment"].fields["status"].choices] == ["received", "returned"]


def test_a_tampered_or_out_of_order_fulfilment_changes_nothing(login, personas, gift, prize, customers):
    grant = grant_for(gift, customers[0], "g")
    client = login(personas.operator)
    response = client.post(url("grant_fulfilment", grant.pk), {"fulfilment-status": "lost"})
    assert response.status_code == 422 and response.context["forms"]["fulfilment"].errors["status"]
    response = client.post(url("grant_fulfilment", grant.pk), {"fulfilment-status": "received"})
    assert response.status_code == 422 and "cannot be marked" in response.content.decode()
    # the page offers again only what the gift may do next
    assert [value for value, _label in response.context["forms"]["fulfilment"].fields["status"].choices] == ["shipped"]
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.TO_SHIP
    cash = grant_for(prize, customers[1], "c")
    response = client.post(url("grant_fulfilment", cash.pk), {"fulfilment-status": "shipped"})
    assert response.status_code == 422 and "Only a physical gift" in response.content.decode()


@pytest.mark.parametrize("who", ["reviewer", "analyst"])
def test_readers_may_not_change_fulfilment(login, personas, gift, customers, who):
    grant = grant_for(gift, customers[0], "g")
    response = login(getattr(personas, who)).post(url("grant_fulfilment", grant.pk), {"fulfilment-status": "shipped"})
    assert response.status_code == 403
    assert Grant.objects.get(pk=grant.pk).fulfilment == Fulfilment.TO_SHIP


# --- per customer ---------------------------------------------------------------------------------


@pytest.fixture
def head_office_pool(personas, tree):
    pool = services.pool_create(actor=personas.ho_admin, code="HO-POOL", name="Head office pool", owner_branch=tree.ho)
    services.budget_add(actor=personas.ho_admin, pool=pool, amount=Decimal("100"), reason="HO budget")
    prize = services.prize_create(
        actor=personas.ho_admin, pool=pool, code="HO10", name="HO packet", kind="cash", unit_cost=Decimal("10")
    )
    services.stock_add(actor=personas.ho_admin, prize=prize, quantity=5, reason="HO stock")
    return prize


def test_the_customer_page_shows_only_grants_from_pools_in_scope(login, personas, prize, head_office_pool, customers):
    mine = grant_for(prize, customers[0], "mine")
    theirs = grant_for(head_office_pool, customers[0], "theirs")
    services.grant_revoke(actor=personas.branch_admin, grant=mine, reason="duplicate reward")
    response = login(personas.branch_admin).get(url("customer_rewards", customers[0].customer_ref))
    assert response.status_code == 200
    assert set(response.context["page_obj"].object_list) == {mine}
    content = response.content.decode()
    assert "duplicate reward" in content and "Grant revoked" in content
    assert "HO packet" not in content
    rows = list(response.context["history_page"])
    assert {row.grant_id for row in rows} == {mine.pk}
    head_office = login(personas.ho_admin).get(url("customer_rewards", customers[0].customer_ref))
    assert set(head_office.context["page_obj"].object_list) == {mine, theirs}


def test_a_customer_out_of_scope_is_404(login, personas, sibling, customers):
    client = login(personas.branch_admin)
    assert client.get(url("customer_rewards", sibling.customer.customer_ref)).status_code == 404
    assert client.get(url("customer_rewards", "NOPE")).status_code == 404
    assert login(personas.outsider).get(url("customer_rewards", customers[0].customer_ref)).status_code == 404


def test_the_customer_page_answers_405_to_a_post(login, personas, customers):
    assert login(personas.analyst).post(url("customer_rewards", customers[0].customer_ref)).status_code == 405


def test_the_customer_page_is_linked_from_the_customer(login, personas, customers):
    content = login(personas.analyst).get(reverse("audiences:customer_detail", args=[customers[0].customer_ref])).content.decode()
    assert url("customer_rewards", customers[0].customer_ref) in content


def test_the_customer_page_htmx_parts_come_alone(login, personas, prize, customers):
    grant_for(prize, customers[0], "a")
    client = login(personas.analyst)
    history = client.get(url("customer_rewards", customers[0].customer_ref), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-history")
    assert history.content.decode().startswith('<div id="customer-history">')
    grants = client.get(url("customer_rewards", customers[0].customer_ref), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-grants")
    assert grants.content.decode().startswith('<div id="customer-grants">')


# --- per pool -----------------------------------------------------------------------------------


@pytest.fixture
def busy_pool(personas, tree, pool, prize, customers):
    """A stock add (the fixture's), a transfer, a grant and a revoke, each by someone for a reason."""
    sub_pool = services.pool_create(actor=personas.branch_admin, code="HD-POOL", name="Haidian pool", owner_branch=tree.hd)
    services.stock_transfer(actor=personas.branch_admin, prize=prize, target_pool=sub_pool, quantity=3, reason="Haidian allocation")
    grant = grant_for(prize, customers[0], "busy-1", source="lottery")
    services.grant_revoke(actor=personas.ho_admin, grant=grant, reason="customer complained")
    return SimpleNamespace(pool=pool, sub_pool=sub_pool, grant=grant)


def test_the_pool_history_shows_stock_transfer_grant_and_revoke_with_actor_and_reason(login, personas, busy_pool):
    response = login(personas.analyst).get(url("pool_history", busy_pool.pool.code))
    assert response.status_code == 200
    rows = list(response.context["history_page"])
    seen = {(row.source, row.action_label, row.actor, row.reason) for row in rows}
    admin, ho = personas.branch_admin, personas.ho_admin
    assert ("stock", "added", admin, "initial stock") in seen
    assert ("stock", "transferred out", admin, "Haidian allocation") in seen
    assert ("stock", "granted", None, "lottery") in seen
    assert ("budget", "granted", None, "lottery") in seen
    assert ("audit", "Grant revoked", ho, "customer complained") in seen
    assert ("stock", "revoked / returned", ho, "customer complained") in seen
    assert ("budget", "added", admin, "Q4 budget") in seen
    assert ("audit", "Pool created", admin, "") in seen
    # newest first, and no ledger fact twice
    times = [row.at for row in rows]
    assert times == sorted(times, reverse=True)
    assert not [row for row in rows if row.source == "audit" and row.entry.action in ("stock.add", "budget.add")]
    content = response.content.decode()
    for text in (admin.get_full_name(), ho.get_full_name(), "initial stock", "Haidian allocation", "customer complained", "¥-5.00"):
        assert text in content, text


def test_the_pool_history_filters_by_kind_of_entry_and_date(login, personas, busy_pool):
    client = login(personas.branch_admin)

    def kinds(**params):
        rows = client.get(url("pool_history", busy_pool.pool.code), params).context["history_page"]
        return {(row.kind, row.action_label) for row in rows}

    stock = kinds(kind="stock")
    assert {kind for kind, _ in stock} == {"stock"} and ("stock", "transferred out") in stock
    grant = kinds(kind="grant")
    assert {kind for kind, _ in grant} == {"grant"}
    assert {("grant", "granted"), ("grant", "Grant revoked"), ("grant", "revoked / returned")} <= grant
    assert kinds(kind="budget") == {("budget", "added")}
    admin = kinds(kind="admin")
    assert ("admin", "Pool created") in admin and ("admin", "Stock transferred") in admin
    today = timezone.localdate()
    assert kinds(since=today.isoformat(), until=today.isoformat()) == kinds()
    assert kinds(until=(today - dt.timedelta(days=1)).isoformat()) == set()
    assert kinds(since=(today + dt.timedelta(days=1)).isoformat()) == set()
    assert kinds(kind="bogus") == kinds()  # an invalid filter is ignored


def test_the_receiving_pool_shows_the_transfer_in(login, personas, busy_pool):
    rows = login(personas.branch_admin).get(url("pool_history", busy_pool.sub_pool.code)).context["history_page"]
    assert ("transferred in", personas.branch_admin, "Haidian allocation") in {(r.action_label, r.actor, r.reason) for r in rows}


def test_the_pool_history_of_a_pool_out_of_scope_is_404(login, personas, busy_pool, sibling):
    assert login(personas.outsider).get(url("pool_history", busy_pool.pool.code)).status_code == 404
    assert login(personas.sub_admin).get(url("pool_history", busy_pool.pool.code)).status_code == 404
    assert login(personas.branch_admin).get(url("pool_history", sibling.pool.code)).status_code == 404


def test_the_pool_history_answers_405_to_a_post(login, personas, pool):
    assert login(personas.branch_admin).post(url("pool_history", pool.code)).status_code == 405


def test_the_pool_history_pages_through_every_row_once_in_order(personas, pool, prize, customers):
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=200, reason="more")
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("1000"), reason="more")
    for n in range(60):
        grant_for(prize, customers[n % 3], f"page-{n}")
    history = selectors.pool_history(user=personas.branch_admin, pool=pool)
    total = history.count()
    pages = [history[start:start + 25] for start in range(0, total, 25)]
    rows = [row for page in pages for row in page]
    assert len(rows) == total >= 120
    assert len({(row.source, row.entry.pk) for row in rows}) == total
    assert [row.at for row in rows] == sorted((row.at for row in rows), reverse=True)


def test_the_pool_history_query_count_does_not_grow_with_its_rows(
    login, personas, pool, prize, customers, django_assert_max_num_queries
):
    client = login(personas.branch_admin)
    # A page loads each kind of row in one query: start with every kind on it.
    services.grant_revoke(actor=personas.branch_admin, grant=grant_for(prize, customers[0], "q-0"), reason="first")
    with django_assert_max_num_queries(30) as pool_page:
        assert client.get(url("pool_history", pool.code)).status_code == 200
    with django_assert_max_num_queries(30) as customer_page:
        assert client.get(url("customer_rewards", customers[0].customer_ref)).status_code == 200
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=40, reason="more")
    services.budget_add(actor=personas.branch_admin, pool=pool, amount=Decimal("500"), reason="more")
    for n in range(1, 40):
        grant = grant_for(prize, customers[n % 3], f"q-{n}")
        if n % 4 == 0:
            services.grant_revoke(actor=personas.branch_admin, grant=grant, reason="revoked in bulk")
    with django_assert_max_num_queries(len(pool_page.captured_queries)):
        assert client.get(url("pool_history", pool.code)).status_code == 200
    with django_assert_max_num_queries(len(customer_page.captured_queries)):
        assert client.get(url("customer_rewards", customers[0].customer_ref)).status_code == 200


def test_a_grant_page_links_to_its_pool_history(login, personas, prize, customers):
    grant = grant_for(prize, customers[0], "a")
    content = login(personas.analyst).get(url("grant_detail", grant.pk)).content.decode()
    assert url("pool_history", prize.pool.code) in content
