"""Prize-pool and prize pages: list, detail with both ledgers, the forms that change
pools, prizes, stock and budget, and coupon-code uploads — per role and scope."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from rewards import selectors, services
from rewards.models import BudgetMovement, CouponCode, Grant, Prize, PrizePool, StockMovement

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def world(pool, prize, personas, tree):
    """BJ-POOL (fixture) with CASH5; a Haidian pool below it; Shanghai and head-office pools beside and above."""
    hd_pool = services.pool_create(actor=personas.branch_admin, code="HD-POOL", name="Haidian pool", owner_branch=tree.hd)
    sh_pool = services.pool_create(actor=personas.outsider, code="SH-POOL", name="Shanghai pool", owner_branch=tree.sh)
    ho_pool = services.pool_create(actor=personas.ho_admin, code="HO-POOL", name="Head-office pool", owner_branch=tree.ho)
    sh_prize = services.prize_create(
        actor=personas.outsider, pool=sh_pool, code="SH-GIFT", name="Shanghai gift", kind="gift", unit_cost=Decimal("9")
    )
    return {"bj": pool, "hd": hd_pool, "sh": sh_pool, "ho": ho_pool, "prize": prize, "sh_prize": sh_prize}


def refresh(*objs):
    for obj in objs:
        obj.refresh_from_db()


def codes_on(response):
    return [p.code for p in response.context["page_obj"]]


def snapshot():
    """Every row a form may write, to check that a refused one wrote nothing."""
    return (
        list(PrizePool.objects.order_by("pk").values_list("code", "name", "budget_available", "valid_until")),
        list(Prize.objects.order_by("pk").values_list("pool_id", "code", "name", "unit_cost", "stock_available")),
        StockMovement.objects.count(),
        BudgetMovement.objects.count(),
        CouponCode.objects.count(),
    )


# --- list ----------------------------------------------------------------------------


def test_the_list_shows_pools_in_scope_with_budget_prizes_and_total_stock(login, personas, world):
    services.prize_create(actor=personas.branch_admin, pool=world["bj"], code="GIFT", name="Gift", kind="gift", unit_cost=Decimal("3"))
    services.stock_add(actor=personas.branch_admin, prize=Prize.objects.get(code="GIFT"), quantity=4, reason="bought")
    page = login(personas.branch_admin).get(reverse("rewards:pool_list"))
    assert page.status_code == 200
    assert codes_on(page) == ["BJ-POOL", "HD-POOL"]
    bj = page.context["page_obj"][0]
    assert (bj.budget_available, bj.prize_count, bj.stock_total) == (Decimal("100.00"), 2, 14)
    html = page.content.decode()
    assert "Shanghai pool" not in html and "Head-office pool" not in html
    assert "¥100.00" in html and 'id="pool-new"' in html


def test_head_office_sees_every_pool(login, personas, world):
    page = login(personas.ho_admin).get(reverse("rewards:pool_list"))
    assert codes_on(page) == ["BJ-POOL", "HD-POOL", "HO-POOL", "SH-POOL"]


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_roles_that_cannot_manage_pools_read_the_list_without_the_new_pool_button(login, personas, world, who):
    page = login(getattr(personas, who)).get(reverse("rewards:pool_list"))
    assert codes_on(page) == ["BJ-POOL", "HD-POOL"]
    assert 'id="pool-new"' not in page.content.decode()


def test_the_list_filters_by_code_or_name_owner_branch_and_validity(login, personas, tree, world):
    today = timezone.localdate()
    services.pool_update(actor=personas.branch_admin, pool=world["hd"], name="Haidian pool", valid_until=today - dt.timedelta(days=1))
    services.pool_create(
        actor=personas.branch_admin, code="BJ-NEXT", name="Next year", owner_branch=tree.bj, valid_from=today + dt.timedelta(days=30)
    )
    client = login(personas.branch_admin)

    def codes(**params):
        return codes_on(client.get(reverse("rewards:pool_list"), params))

    assert codes(q="haidian") == ["HD-POOL"]
    assert codes(q="bj-") == ["BJ-NEXT", "BJ-POOL"]
    assert codes(owner_branch=tree.hd.pk) == ["HD-POOL"]
    assert codes(validity="current") == ["BJ-POOL"]
    assert codes(validity="expired") == ["HD-POOL"]
    assert codes(validity="future") == ["BJ-NEXT"]
    tampered = client.get(reverse("rewards:pool_list"), {"owner_branch": tree.sh.pk})
    assert tampered.context["filter"].errors and "SH-POOL" not in codes_on(tampered)
    assert "Some filters are not valid" in tampered.content.decode()


def test_the_list_answers_htmx_with_the_table_only(login, personas, world):
    page = login(personas.branch_admin).get(reverse("rewards:pool_list"), {"q": "HD"}, **HTMX)
    html = page.content.decode()
    assert html.startswith('<div id="pool-table">') and "<html" not in html
    assert "HD-POOL" in html and "BJ-POOL" not in html


def test_the_list_paginates(login, personas, tree, world):
    for i in range(30):
        services.pool_create(actor=personas.branch_admin, code=f"BJ-{i:02d}", name=f"Pool {i}", owner_branch=tree.bj)
    client = login(personas.branch_admin)
    first = client.get(reverse("rewards:pool_list"))
    second = client.get(reverse("rewards:pool_list"), {"page": 2})
    assert len(first.context["page_obj"]) == 25 and len(second.context["page_obj"]) == 7
    assert "page=2" in first.content.decode()


def test_the_lists_query_count_does_not_grow_with_its_rows(login, personas, tree, world):
    client = login(personas.branch_admin)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("rewards:pool_list")).status_code == 200
        return len(captured)

    few = queries()
    for i in range(12):
        pool = services.pool_create(actor=personas.branch_admin, code=f"BJ-{i:02d}", name=f"Pool {i}", owner_branch=tree.bj)
        for kind in ("cash", "gift"):
            prize = services.prize_create(actor=personas.branch_admin, pool=pool, code=kind, name=kind, kind=kind, unit_cost=Decimal("1"))
            services.stock_add(actor=personas.branch_admin, prize=prize, quantity=3, reason="x")
    assert queries() == few


def test_the_list_answers_405_to_a_post(login, personas, world):
    assert login(personas.ho_admin).post(reverse("rewards:pool_list")).status_code == 405


# --- new and edit pool ------------------------------------------------------------------


def pool_data(**overrides):
    return {"code": "BJ-NEW", "name": "New pool", "valid_from": "", "valid_until": "", **overrides}


def test_a_branch_admin_creates_a_pool_owned_in_their_subtree(login, personas, tree, world):
    client = login(personas.branch_admin)
    form = client.get(reverse("rewards:pool_new")).context["form"]
    assert set(form.fields["owner_branch"].queryset) == {tree.bj, tree.hd}
    response = client.post(reverse("rewards:pool_new"), pool_data(owner_branch=tree.hd.pk, valid_from="2026-01-01", valid_until="2026-12-31"))
    assert response.status_code == 302 and response.url == reverse("rewards:pool_detail", args=["BJ-NEW"])
    pool = PrizePool.objects.get(code="BJ-NEW")
    assert (pool.owner_branch, pool.valid_until) == (tree.hd, dt.date(2026, 12, 31))
    assert AuditEntry.objects.filter(action="pool.create", actor=personas.branch_admin, object_id=str(pool.pk)).exists()


@pytest.mark.parametrize("branch", ["sh", "ho"])
def test_a_tampered_owner_branch_outside_the_scope_is_a_form_error(login, personas, tree, world, branch):
    before = snapshot()
    response = login(personas.branch_admin).post(reverse("rewards:pool_new"), pool_data(owner_branch=getattr(tree, branch).pk))
    assert response.status_code == 200 and "owner_branch" in response.context["form"].errors
    assert snapshot() == before


def test_head_office_may_own_a_pool_at_any_branch(login, personas, tree, world):
    client = login(personas.ho_admin)
    assert client.get(reverse("rewards:pool_new")).context["form"].fields["owner_branch"].queryset.count() == 4
    client.post(reverse("rewards:pool_new"), pool_data(code="SH-NEW", owner_branch=tree.sh.pk))
    assert PrizePool.objects.get(code="SH-NEW").owner_branch == tree.sh


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (pool_data(code="BJ-POOL"), "code", "already exists"),
        (pool_data(code="bad code!"), "code", "Use letters, digits"),
        (pool_data(code="new"), "code", "reserved"),
        (pool_data(valid_from="2026-03-01", valid_until="2026-02-01"), "valid_until", "before its start"),
    ],
)
def test_a_refused_pool_says_why_and_writes_nothing(login, personas, tree, world, data, field, message):
    before = snapshot()
    response = login(personas.branch_admin).post(reverse("rewards:pool_new"), {**data, "owner_branch": tree.bj.pk})
    assert message in " ".join(response.context["form"].errors[field])
    assert snapshot() == before


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_roles_without_pool_management_get_403_on_pool_forms(login, personas, tree, world, who):
    client = login(getattr(personas, who))
    before = snapshot()
    assert client.get(reverse("rewards:pool_new")).status_code == 403
    assert client.post(reverse("rewards:pool_new"), pool_data(owner_branch=tree.bj.pk)).status_code == 403
    assert client.post(reverse("rewards:pool_edit", args=["BJ-POOL"]), {"name": "x"}).status_code == 403
    assert snapshot() == before


def test_a_pool_is_renamed_and_its_validity_changed(login, personas, world):
    url = reverse("rewards:pool_edit", args=["BJ-POOL"])
    client = login(personas.branch_admin)
    assert client.get(url).context["form"].initial["name"] == "Beijing pool"
    response = client.post(url, {"name": "Beijing 2026", "valid_from": "2026-01-01", "valid_until": ""})
    assert response.status_code == 302
    refresh(world["bj"])
    assert (world["bj"].name, world["bj"].valid_from, world["bj"].code) == ("Beijing 2026", dt.date(2026, 1, 1), "BJ-POOL")


def test_pool_forms_outside_the_scope_answer_404(login, personas, world):
    client = login(personas.outsider)
    before = snapshot()
    for name in ("pool_detail", "pool_edit", "prize_new", "budget_add", "budget_transfer"):
        assert client.get(reverse(f"rewards:{name}", args=["BJ-POOL"])).status_code == 404, name
        assert client.get(reverse(f"rewards:{name}", args=["NO-SUCH"])).status_code == 404, name
    assert client.post(reverse("rewards:budget_add", args=["BJ-POOL"]), {"amount": "5", "reason": "x"}).status_code == 404
    assert client.post(reverse("rewards:pool_edit", args=["BJ-POOL"]), {"name": "Mine"}).status_code == 404
    assert snapshot() == before


def test_pool_forms_answer_405_to_other_methods(login, personas, world):
    client = login(personas.branch_admin)
    assert client.put(reverse("rewards:pool_new")).status_code == 405
    assert client.delete(reverse("rewards:pool_edit", args=["BJ-POOL"])).status_code == 405
    assert client.post(reverse("rewards:pool_detail", args=["BJ-POOL"])).status_code == 405


# --- pool detail and its ledgers ----------------------------------------------------------


def test_the_pool_page_shows_facts_prizes_and_both_ledgers(login, personas, tree, world, make_customers):
    prize = world["prize"]
    services.reservation_create(actor=personas.reviewer, prize=prize, quantity=3, source_ref="campaign:SPRING")
    for i, customer in enumerate(make_customers(2, tree.bj)):
        services.grant_create(prize=prize, customer=customer, idempotency_key=f"g{i}", source="test")
    page = login(personas.branch_admin).get(reverse("rewards:pool_detail", args=["BJ-POOL"]))
    assert page.status_code == 200
    (row,) = page.context["prizes"]
    assert (row.stock_available, row.reserved, row.granted) == (5, 3, 2)
    html = page.content.decode()
    assert "Beijing" in html and "¥90.00" in html  # 100 budget, two grants of 5
    assert [m.kind for m in page.context["stock_ledger"]["page_obj"]] == ["granted", "granted", "reserved", "added"]
    assert [m.kind for m in page.context["budget_ledger"]["page_obj"]] == ["granted", "granted", "added"]
    assert [(str(label), total) for label, total in page.context["budget_rows"]] == [
        ("added", Decimal("100.00")), ("granted", Decimal("-10.00"))
    ]
    for button in ("prize-new", "budget-add", "budget-transfer", "pool-edit"):
        assert f'id="{button}"' in html, button


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_readers_see_the_pool_page_without_stock_or_budget_buttons(login, personas, world, who):
    page = login(getattr(personas, who)).get(reverse("rewards:pool_detail", args=["BJ-POOL"]))
    html = page.content.decode()
    assert page.status_code == 200 and "CASH5" in html
    for button in ("prize-new", "budget-add", "budget-transfer", "pool-edit"):
        assert f'id="{button}"' not in html, button


def test_the_sub_branch_admin_has_nowhere_to_transfer_to(login, personas, world):
    html = login(personas.sub_admin).get(reverse("rewards:pool_detail", args=["HD-POOL"])).content.decode()
    assert 'id="budget-add"' in html and 'id="budget-transfer"' not in html


def test_the_stock_ledger_filters_by_prize_kind_and_date(login, personas, world):
    bj, prize = world["bj"], world["prize"]
    gift = services.prize_create(actor=personas.branch_admin, pool=bj, code="GIFT", name="Gift", kind="gift", unit_cost=Decimal("1"))
    services.stock_add(actor=personas.branch_admin, prize=gift, quantity=5, reason="bought")
    services.stock_adjust(actor=personas.branch_admin, prize=gift, delta=-1, reason="broken", kind="expired")
    old = StockMovement.objects.get(prize=prize)
    StockMovement.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=40))
    client = login(personas.branch_admin)
    url = reverse("rewards:pool_detail", args=["BJ-POOL"])

    def ledger(**params):
        return [(m.prize.code, m.kind, m.delta) for m in client.get(url, params).context["stock_ledger"]["page_obj"]]

    assert ledger() == [("GIFT", "expired", -1), ("GIFT", "added", 5), ("CASH5", "added", 10)]
    assert ledger(**{"stock-prize": prize.pk}) == [("CASH5", "added", 10)]
    assert ledger(**{"stock-kind": "expired"}) == [("GIFT", "expired", -1)]
    since = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert ledger(**{"stock-since": since}) == [("GIFT", "expired", -1), ("GIFT", "added", 5)]
    until = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    assert ledger(**{"stock-until": until}) == [("CASH5", "added", 10)]
    # Another pool's prize is not a choice: the filter is ignored, nothing of that pool shows.
    tampered = client.get(url, {"stock-prize": world["sh_prize"].pk})
    assert tampered.context["stock_ledger"]["filter"].errors
    assert all(m.prize.pool_id == bj.pk for m in tampered.context["stock_ledger"]["page_obj"])


def test_the_ledgers_answer_htmx_with_their_own_fragment_and_page(login, personas, world):
    prize = world["prize"]
    for i in range(25):
        services.stock_add(actor=personas.branch_admin, prize=prize, quantity=1, reason=f"restock {i}")
    client = login(personas.branch_admin)
    url = reverse("rewards:pool_detail", args=["BJ-POOL"])
    stock = client.get(url, {"stock_page": 2}, HTTP_HX_TARGET="stock-ledger", **HTMX)
    html = stock.content.decode()
    assert html.startswith('<div id="stock-ledger">') and "budget-ledger" not in html
    assert len(stock.context["ledger"]["page_obj"]) == 6  # 26 movements, 20 a page
    assert "stock_page=1" in html and 'hx-target="#stock-ledger"' in html
    budget = client.get(url, {"budget-kind": "added"}, HTTP_HX_TARGET="budget-ledger", **HTMX)
    assert budget.content.decode().startswith('<div id="budget-ledger">')
    assert [m.amount for m in budget.context["ledger"]["page_obj"]] == [Decimal("100.00")]
    page = client.get(url, {"stock_page": 2})
    assert "<html" in page.content.decode() and len(page.context["stock_ledger"]["page_obj"]) == 6


def test_the_budget_ledger_filters_by_kind(login, personas, world):
    services.budget_transfer(actor=personas.branch_admin, source=world["bj"], target=world["hd"], amount=Decimal("30"), reason="Q1")
    client = login(personas.branch_admin)
    url = reverse("rewards:pool_detail", args=["BJ-POOL"])
    page = client.get(url, {"budget-kind": "transfer_out"})
    movements = page.context["budget_ledger"]["page_obj"]
    assert [(m.kind, m.amount) for m in movements] == [("transfer_out", Decimal("-30.00"))]
    assert "\u2212¥30.00" in page.content.decode()  # a minus sign before the currency


def test_the_pool_and_its_prizes_link_the_pool_history(login, personas, world):
    client = login(personas.analyst)
    history = reverse("rewards:pool_history", args=["BJ-POOL"])
    assert f'href="{history}"' in client.get(reverse("rewards:pool_detail", args=["BJ-POOL"])).content.decode()
    assert f'href="{history}"' in client.get(reverse("rewards:prize_detail", args=[world["prize"].pk])).content.decode()


# --- budget -----------------------------------------------------------------------------------


def test_a_branch_admin_adds_budget_with_a_reason(login, personas, world):
    response = login(personas.branch_admin).post(reverse("rewards:budget_add", args=["BJ-POOL"]), {"amount": "250.50", "reason": "Q2"})
    assert response.status_code == 302
    refresh(world["bj"])
    assert world["bj"].budget_available == Decimal("350.50")
    movement = BudgetMovement.objects.filter(pool=world["bj"]).first()
    assert (movement.amount, movement.reason, movement.actor) == (Decimal("250.50"), "Q2", personas.branch_admin)


@pytest.mark.parametrize("data", [{"amount": "0", "reason": "x"}, {"amount": "-5", "reason": "x"}, {"amount": "5", "reason": ""}, {"amount": "1.234", "reason": "x"}])
def test_a_bad_budget_amount_or_missing_reason_is_a_form_error(login, personas, world, data):
    before = snapshot()
    response = login(personas.branch_admin).post(reverse("rewards:budget_add", args=["BJ-POOL"]), data)
    assert response.status_code == 200 and response.context["form"].errors
    assert snapshot() == before


def test_budget_moves_down_to_a_pool_below(login, personas, world):
    client = login(personas.branch_admin)
    url = reverse("rewards:budget_transfer", args=["BJ-POOL"])
    assert list(client.get(url).context["form"].fields["target_pool"].queryset) == [world["hd"]]
    response = client.post(url, {"target_pool": "HD-POOL", "amount": "40", "reason": "Haidian Q2"})
    assert response.status_code == 302
    refresh(world["bj"], world["hd"])
    assert (world["bj"].budget_available, world["hd"].budget_available) == (Decimal("60.00"), Decimal("40.00"))
    assert selectors.reconcile() == []


@pytest.mark.parametrize("target", ["SH-POOL", "HO-POOL", "BJ-POOL", "NO-SUCH"])
def test_a_tampered_budget_target_is_a_form_error(login, personas, world, target):
    before = snapshot()
    response = login(personas.branch_admin).post(
        reverse("rewards:budget_transfer", args=["BJ-POOL"]), {"target_pool": target, "amount": "10", "reason": "x"}
    )
    assert response.status_code == 200 and "target_pool" in response.context["form"].errors
    assert snapshot() == before


def test_moving_more_budget_than_there_is_says_so_and_changes_nothing(login, personas, world):
    before = snapshot()
    response = login(personas.branch_admin).post(
        reverse("rewards:budget_transfer", args=["BJ-POOL"]), {"target_pool": "HD-POOL", "amount": "100.01", "reason": "x"}
    )
    assert response.context["form"].non_field_errors() == ["Not enough budget available."]
    assert snapshot() == before


@pytest.mark.parametrize("who", ["operator", "analyst", "reviewer"])
def test_readers_get_403_on_budget_forms(login, personas, world, who):
    client = login(getattr(personas, who))
    before = snapshot()
    assert client.get(reverse("rewards:budget_add", args=["BJ-POOL"])).status_code == 403
    assert client.post(reverse("rewards:budget_add", args=["BJ-POOL"]), {"amount": "5", "reason": "x"}).status_code == 403
    data = {"target_pool": "HD-POOL", "amount": "5", "reason": "x"}
    assert client.post(reverse("rewards:budget_transfer", args=["BJ-POOL"]), data).status_code == 403
    assert snapshot() == before


# --- prizes ---------------------------------------------------------------------------------


def prize_data(**overrides):
    return {"code": "GIFT", "name": "Umbrella", "kind": "gift", "unit_cost": "35.00", **overrides}


def test_a_prize_is_added_to_a_pool_and_a_coupon_goes_on_to_its_codes(login, personas, world):
    client = login(personas.branch_admin)
    response = client.post(reverse("rewards:prize_new", args=["BJ-POOL"]), prize_data())
    gift = Prize.objects.get(pool=world["bj"], code="GIFT")
    assert response.url == reverse("rewards:prize_detail", args=[gift.pk])
    assert (gift.kind, gift.unit_cost, gift.stock_available) == ("gift", Decimal("35.00"), 0)
    response = client.post(reverse("rewards:prize_new", args=["BJ-POOL"]), prize_data(code="CPN", kind="coupon"))
    coupon = Prize.objects.get(code="CPN")
    assert response.url == reverse("rewards:coupon_upload", args=[coupon.pk])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (prize_data(code="CASH5"), None),  # already in the pool
        (prize_data(kind="lottery-ticket"), "kind"),
        (prize_data(unit_cost="-1"), "unit_cost"),
        (prize_data(code="no spaces"), "code"),
    ],
)
def test_a_refused_prize_says_why_and_writes_nothing(login, personas, world, data, field):
    before = snapshot()
    response = login(personas.branch_admin).post(reverse("rewards:prize_new", args=["BJ-POOL"]), data)
    form = response.context["form"]
    assert response.status_code == 200 and (form.errors[field] if field else form.non_field_errors())
    assert snapshot() == before


def test_the_prize_page_shows_stock_reserved_and_granted(login, personas, tree, world, make_customers):
    prize = world["prize"]
    services.reservation_create(actor=personas.reviewer, prize=prize, quantity=2, source_ref="campaign:X")
    (customer,) = make_customers(1, tree.bj)
    services.grant_create(prize=prize, customer=customer, idempotency_key="one", source="test")
    page = login(personas.branch_admin).get(reverse("rewards:prize_detail", args=[prize.pk]))
    shown = page.context["prize"]
    assert (shown.stock_available, shown.reserved, shown.granted) == (7, 2, 1)
    html = page.content.decode()
    for button in ("stock-add", "stock-adjust", "stock-transfer", "prize-edit"):
        assert f'id="{button}"' in html, button
    assert 'id="coupon-upload"' not in html and page.context["codes"] is None


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_readers_see_the_prize_page_without_buttons(login, personas, world, who):
    page = login(getattr(personas, who)).get(reverse("rewards:prize_detail", args=[world["prize"].pk]))
    html = page.content.decode()
    assert page.status_code == 200
    for button in ("stock-add", "stock-adjust", "stock-transfer", "prize-edit", "coupon-upload"):
        assert f'id="{button}"' not in html, button


def test_a_gift_shows_its_grants_per_fulfilment_step(login, personas, tree, world, make_customers):
    gift = services.prize_create(actor=personas.branch_admin, pool=world["bj"], code="GIFT", name="Gift", kind="gift", unit_cost=Decimal("1"))
    services.stock_add(actor=personas.branch_admin, prize=gift, quantity=5, reason="bought")
    grants = [
        services.grant_create(prize=gift, customer=c, idempotency_key=f"gift{i}", source="test")
        for i, c in enumerate(make_customers(3, tree.bj))
    ]
    Grant.objects.filter(pk=grants[0].pk).update(fulfilment="shipped")
    page = login(personas.analyst).get(reverse("rewards:prize_detail", args=[gift.pk]))
    assert [(value, count) for value, _label, count in page.context["fulfilment"]] == [
        ("to_ship", 2), ("shipped", 1), ("received", 0), ("returned", 0)
    ]
    html = page.content.decode()
    assert f"{reverse('rewards:grant_list')}?prize={gift.pk}&amp;fulfilment=shipped" in html


def test_a_coupon_shows_its_codes_available_and_issued(login, personas, tree, world, make_customers):
    coupon = services.prize_create(actor=personas.branch_admin, pool=world["bj"], code="CPN", name="Coupon", kind="coupon", unit_cost=Decimal("1"))
    client = login(personas.branch_admin)
    client.post(reverse("rewards:coupon_upload", args=[coupon.pk]), {"file": SimpleUploadedFile("c.csv", b"code\nA\nB\nC\n")})
    (customer,) = make_customers(1, tree.bj)
    services.grant_create(prize=coupon, customer=customer, idempotency_key="cpn", source="test")
    page = client.get(reverse("rewards:prize_detail", args=[coupon.pk]))
    assert page.context["codes"] == {"available": 2, "issued": 1}
    html = page.content.decode()
    assert 'id="coupon-upload"' in html and 'id="stock-add"' not in html


def test_transferred_stock_names_its_source_only_when_that_is_in_scope(login, personas, tree, world):
    ho_gift = services.prize_create(actor=personas.ho_admin, pool=world["ho"], code="UMB", name="Umbrella", kind="gift", unit_cost=Decimal("3"))
    services.stock_add(actor=personas.ho_admin, prize=ho_gift, quantity=10, reason="bought")
    bj_gift = services.stock_transfer(actor=personas.ho_admin, prize=ho_gift, target_pool=world["bj"], quantity=4, reason="Q1")
    url = reverse("rewards:prize_detail", args=[bj_gift.pk])
    assert login(personas.ho_admin).get(url).context["source_visible"]
    page = login(personas.branch_admin).get(url)
    assert not page.context["source_visible"] and "Head-office pool" not in page.content.decode()


def test_a_prize_is_renamed_and_repriced(login, personas, world):
    prize = world["prize"]
    response = login(personas.branch_admin).post(reverse("rewards:prize_edit", args=[prize.pk]), {"name": "Red packet", "unit_cost": "6"})
    assert response.status_code == 302
    refresh(prize)
    assert (prize.name, prize.unit_cost, prize.kind, prize.code) == ("Red packet", Decimal("6.00"), "cash", "CASH5")


def test_prize_pages_outside_the_scope_answer_404(login, personas, world):
    client = login(personas.branch_admin)
    sh_prize = world["sh_prize"]
    before = snapshot()
    for name in ("prize_detail", "prize_edit", "stock_add", "stock_adjust", "stock_transfer", "coupon_upload"):
        assert client.get(reverse(f"rewards:{name}", args=[sh_prize.pk])).status_code == 404, name
        assert client.get(reverse(f"rewards:{name}", args=[999999])).status_code == 404, name
    assert client.post(reverse("rewards:stock_add", args=[sh_prize.pk]), {"quantity": 5, "reason": "x"}).status_code == 404
    assert client.post(reverse("rewards:prize_edit", args=[sh_prize.pk]), {"name": "x", "unit_cost": "0"}).status_code == 404
    assert client.get(reverse("rewards:prize_new", args=["SH-POOL"])).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("who", ["operator", "reviewer", "analyst"])
def test_readers_get_403_on_prize_and_stock_forms(login, personas, world, who):
    client = login(getattr(personas, who))
    pk = world["prize"].pk
    before = snapshot()
    assert client.get(reverse("rewards:prize_new", args=["BJ-POOL"])).status_code == 403
    assert client.post(reverse("rewards:prize_new", args=["BJ-POOL"]), prize_data()).status_code == 403
    assert client.post(reverse("rewards:prize_edit", args=[pk]), {"name": "x", "unit_cost": "1"}).status_code == 403
    assert client.post(reverse("rewards:stock_add", args=[pk]), {"quantity": 5, "reason": "x"}).status_code == 403
    assert client.post(reverse("rewards:stock_adjust", args=[pk]), {"kind": "adjusted", "change": -1, "reason": "x"}).status_code == 403
    data = {"target_pool": "HD-POOL", "quantity": 1, "reason": "x"}
    assert client.post(reverse("rewards:stock_transfer", args=[pk]), data).status_code == 403
    assert snapshot() == before


def test_prize_pages_answer_405_to_other_methods(login, personas, world):
    client = login(personas.branch_admin)
    pk = world["prize"].pk
    assert client.post(reverse("rewards:prize_detail", args=[pk])).status_code == 405
    for name in ("prize_edit", "stock_add", "stock_adjust", "stock_transfer", "coupon_upload"):
        assert client.put(reverse(f"rewards:{name}", args=[pk])).status_code == 405, name
    assert client.post(reverse("rewards:coupon_sample")).status_code == 405


# --- stock ------------------------------------------------------------------------------------


def test_a_branch_admin_adds_stock_with_a_reason(login, personas, world):
    prize = world["prize"]
    response = login(personas.branch_admin).post(reverse("rewards:stock_add", args=[prize.pk]), {"quantity": 15, "reason": "June delivery"})
    assert response.status_code == 302
    refresh(prize)
    assert prize.stock_available == 25
    movement = StockMovement.objects.filter(prize=prize).first()
    assert (movement.kind, movement.delta, movement.reason, movement.actor) == ("added", 15, "June delivery", personas.branch_admin)


def test_coupon_stock_comes_only_with_codes(login, personas, world):
    coupon = services.prize_create(actor=personas.branch_admin, pool=world["bj"], code="CPN", name="Coupon", kind="coupon", unit_cost=Decimal("1"))
    client = login(personas.branch_admin)
    assert client.get(reverse("rewards:stock_add", args=[coupon.pk])).url == reverse("rewards:coupon_upload", args=[coupon.pk])
    before = snapshot()
    response = client.post(reverse("rewards:stock_add", args=[coupon.pk]), {"quantity": 5, "reason": "x"})
    assert "upload codes" in response.context["form"].non_field_errors()[0]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("data", "stock"),
    [
        ({"kind": "adjusted", "change": -3, "reason": "stock count"}, 7),
        ({"kind": "adjusted", "change": 2, "reason": "found in the safe"}, 12),
        ({"kind": "expired", "change": -10, "reason": "end of season"}, 0),
    ],
)
def test_stock_is_adjusted_or_expired_with_a_reason(login, personas, world, data, stock):
    prize = world["prize"]
    assert login(personas.branch_admin).post(reverse("rewards:stock_adjust", args=[prize.pk]), data).status_code == 302
    refresh(prize)
    assert prize.stock_available == stock
    movement = StockMovement.objects.filter(prize=prize).first()
    assert (movement.kind, movement.delta, movement.reason) == (data["kind"], data["change"], data["reason"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "adjusted", "change": -11, "reason": "x"}, "Not enough stock available."),
        ({"kind": "expired", "change": 3, "reason": "x"}, "Expired units leave the stock"),
        ({"kind": "adjusted", "change": 0, "reason": "x"}, "must not be zero"),
        ({"kind": "adjusted", "change": -1, "reason": ""}, "This field is required."),
        ({"kind": "granted", "change": -1, "reason": "x"}, "Select a valid choice"),
    ],
)
def test_a_refused_adjustment_says_why_and_changes_nothing(login, personas, world, data, message):
    before = snapshot()
    response = login(personas.branch_admin).post(reverse("rewards:stock_adjust", args=[world["prize"].pk]), data)
    assert response.status_code == 200
    assert message in str(response.context["form"].errors)
    assert snapshot() == before


def test_head_office_transfers_stock_to_a_branch_pool(login, personas, world):
    ho_gift = services.prize_create(actor=personas.ho_admin, pool=world["ho"], code="UMB", name="Umbrella", kind="gift", unit_cost=Decimal("3"))
    services.stock_add(actor=personas.ho_admin, prize=ho_gift, quantity=10, reason="bought")
    client = login(personas.ho_admin)
    url = reverse("rewards:stock_transfer", args=[ho_gift.pk])
    choices = [p.code for p in client.get(url).context["form"].fields["target_pool"].queryset]
    assert sorted(choices) == ["BJ-POOL", "HD-POOL", "SH-POOL"]
    response = client.post(url, {"target_pool": "SH-POOL", "quantity": 4, "reason": "Shanghai Q1"})
    assert response.status_code == 302
    target = Prize.objects.get(pool=world["sh"], code="UMB")
    refresh(ho_gift)
    assert (ho_gift.stock_available, target.stock_available, target.source_prize) == (6, 4, ho_gift)
    assert selectors.reconcile() == []


@pytest.mark.parametrize("target", ["SH-POOL", "HO-POOL", "BJ-POOL", "NO-SUCH"])
def test_a_tampered_stock_target_is_a_form_error(login, personas, world, target):
    before = snapshot()
    response = login(personas.branch_admin).post(
        reverse("rewards:stock_transfer", args=[world["prize"].pk]), {"target_pool": target, "quantity": 1, "reason": "x"}
    )
    assert response.status_code == 200 and "target_pool" in response.context["form"].errors
    assert snapshot() == before


def test_moving_more_stock_than_there_is_says_so_and_changes_nothing(login, personas, world):
    before = snapshot()
    response = login(personas.branch_admin).post(
        reverse("rewards:stock_transfer", args=[world["prize"].pk]), {"target_pool": "HD-POOL", "quantity": 11, "reason": "x"}
    )
    assert response.context["form"].non_field_errors() == ["Not enough stock available."]
    assert snapshot() == before


# --- coupon codes -------------------------------------------------------------------------------


@pytest.fixture
def coupon(world, personas):
    return services.prize_create(actor=personas.branch_admin, pool=world["bj"], code="CPN", name="Coupon", kind="coupon", unit_cost=Decimal("1"))


def test_uploading_codes_adds_stock_and_goes_back_to_the_prize(login, personas, coupon):
    client = login(personas.branch_admin)
    page = client.get(reverse("rewards:coupon_upload", args=[coupon.pk]))
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.content.decode()
    upload = SimpleUploadedFile("codes.csv", "code\nA-1\nA-2\n".encode("gb18030"))
    response = client.post(reverse("rewards:coupon_upload", args=[coupon.pk]), {"file": upload}, follow=True)
    assert response.redirect_chain == [(reverse("rewards:prize_detail", args=[coupon.pk]), 302)]
    assert "2 coupon codes added; the stock is now 2." in response.content.decode()
    refresh(coupon)
    assert coupon.stock_available == 2


def test_a_file_with_row_errors_shows_them_and_adds_nothing(login, personas, coupon):
    before = snapshot()
    upload = SimpleUploadedFile("codes.csv", b"code\nA-1\nA-2\nA-1\n")
    response = login(personas.branch_admin).post(reverse("rewards:coupon_upload", args=[coupon.pk]), {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 row has an error; no code was added." in html and 'data-row="4"' in html and "A-1 is also on row 2." in html
    assert snapshot() == before


def test_a_file_that_is_not_a_table_is_an_error_on_the_form(login, personas, coupon):
    before = snapshot()
    upload = SimpleUploadedFile("codes.csv", b"voucher\nA-1\n")
    response = login(personas.branch_admin).post(reverse("rewards:coupon_upload", args=[coupon.pk]), {"file": upload})
    assert "Missing columns: code." in " ".join(response.context["form"].errors["file"])
    assert snapshot() == before


def test_a_prize_that_is_not_a_coupon_has_no_upload_page(login, personas, world):
    assert login(personas.branch_admin).get(reverse("rewards:coupon_upload", args=[world["prize"].pk])).status_code == 404


def test_readers_get_403_and_outsiders_404_on_the_upload(login, personas, coupon):
    url = reverse("rewards:coupon_upload", args=[coupon.pk])
    for who in ("operator", "analyst"):
        client = login(getattr(personas, who))
        assert client.get(url).status_code == 403
        assert client.post(url, {"file": SimpleUploadedFile("c.csv", b"code\nA\n")}).status_code == 403
    assert login(personas.outsider).post(url, {"file": SimpleUploadedFile("c.csv", b"code\nA\n")}).status_code == 404
    assert not CouponCode.objects.exists()


def test_the_sample_file_is_a_csv_with_the_code_column(login, personas, world):
    response = login(personas.analyst).get(reverse("rewards:coupon_sample"))
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0] == "code"


# --- demo data ------------------------------------------------------------------------------------


def test_the_demo_pools_reconcile_and_seeding_twice_changes_nothing(db):
    call_command("seed_demo", customers=0, stdout=io.StringIO())
    counts = (PrizePool.objects.count(), Prize.objects.count(), StockMovement.objects.count(), BudgetMovement.objects.count(), CouponCode.objects.count())
    call_command("seed_demo", customers=0, stdout=io.StringIO())
    assert (PrizePool.objects.count(), Prize.objects.count(), StockMovement.objects.count(), BudgetMovement.objects.count(), CouponCode.objects.count()) == counts
    assert selectors.reconcile() == []
    out = io.StringIO()
    call_command("rewards_reconcile", stdout=out)
    assert "0 difference(s)" in out.getvalue()
    kinds = set(Prize.objects.filter(pool__code="HO-BENEFITS").values_list("kind", flat=True))
    assert kinds == {"points", "coupon", "cash", "rate_coupon", "fee_waiver", "gift"}
    assert CouponCode.objects.filter(prize__code="CPN-COFFEE").count() == 500
    bj_coupon = Prize.objects.get(pool__code="BJ-BENEFITS", code="CPN-COFFEE")
    assert bj_coupon.stock_available == bj_coupon.coupon_codes.count() == 100
    assert Prize.objects.get(pool__code="BJ-HD-BENEFITS", code="CASH-5").source_prize.pool.code == "BJ-BENEFITS"
