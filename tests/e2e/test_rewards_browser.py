"""Rewards in Chromium, with a real rq worker: a branch admin sets up a prize
pool, stocks a cash and a coupon prize, dispatches the coupon by hand to three
customers and watches the batch grant and deliver them; an operator may
dispatch but change no stock or budget."""

import csv
import json
import signal

import django_rq
import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from rq import SimpleWorker
from rq.job import Job, JobStatus

from rewards import services
from rewards.models import (
    BatchStatus,
    CouponCode,
    DeliveryRecord,
    DispatchBatch,
    Grant,
    GrantStatus,
    Prize,
    PrizePool,
    StockMovement,
)

pytestmark = pytest.mark.e2e

COUPON_CODES = ["SPRING-0001", "SPRING-0002", "SPRING-0003", "SPRING-0004", "SPRING-0005"]


@pytest.fixture
def queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Jobs wait in the real Redis (REDIS_URL) until the test runs a worker.
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 600}}
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.logging.LoggingBackend"
    queue = django_rq.get_queue("default")

    # Jobs another test left behind would run in this test's worker.
    queue.empty()
    yield queue
    queue.empty()


def run_worker(queue, job_id: str) -> None:
    """``rqworker --burst`` in this thread (which shares the live server's
    database): it runs the batch's job and then the delivery jobs that the
    grants queue after commit, until the queue is empty."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    failed = queue.failed_job_registry
    assert failed.count == 0, [Job.fetch(i, connection=queue.connection).latest_result() for i in failed.get_job_ids()]
    assert Job.fetch(job_id, connection=queue.connection).get_status() == JobStatus.FINISHED


def codes_csv() -> bytes:
    return ("code\r\n" + "\r\n".join(COUPON_CODES) + "\r\n").encode("utf-8")


def test_branch_admin_sets_up_a_pool_and_dispatches_coupons_to_three_customers(
    live_server, browser_login, page: Page, personas, tree, make_customers, queue
):
    customers = make_customers(3, tree.bj, prefix="VIP")
    make_customers(1, tree.sh, start=3, prefix="VIP")  # a namesake out of scope: never offered

    # A new pool owned by the admin's branch.
    browser_login("bj_admin", reverse("rewards:pool_list"))
    page.locator("#pool-new").click()
    form = page.locator("#pool-form")
    form.get_by_label("Code").fill("BJ-SPRING")
    form.get_by_label("Name").fill("Beijing spring rewards")
    form.get_by_label("Owner branch").select_option(label="Beijing (BJ)")
    form.get_by_role("button", name="Save").click()
    pool_url = f"{live_server.url}{reverse('rewards:pool_detail', args=['BJ-SPRING'])}"
    expect(page).to_have_url(pool_url)
    expect(page.locator("h1")).to_contain_text("Beijing spring rewards")

    # Its budget.
    page.locator("#budget-add").click()
    form = page.locator("#budget-form")
    form.get_by_label("Amount (CNY)").fill("500")
    form.get_by_label("Reason").fill("Spring campaign budget")
    form.get_by_role("button", name="Save").click()
    expect(page).to_have_url(pool_url)
    expect(page.locator("#pool-budget")).to_have_text("¥500.00")

    # A cash prize and its stock.
    page.locator("#prize-new").click()
    form = page.locator("#prize-form")
    form.get_by_label("Code").fill("CASH5")
    form.get_by_label("Name").fill("5 yuan red packet")
    form.get_by_label("Kind").select_option("cash")
    form.get_by_label("Unit cost (CNY)").fill("5")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_contain_text("5 yuan red packet")
    page.locator("#stock-add").click()
    form = page.locator("#stock-form")
    form.get_by_label("Quantity").fill("10")
    form.get_by_label("Reason").fill("Initial stock")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#stock-available")).to_have_text("10")

    # A coupon prize, whose stock is the codes uploaded for it.
    page.goto(pool_url)
    page.locator("#prize-new").click()
    form = page.locator("#prize-form")
    form.get_by_label("Code").fill("COUPON20")
    form.get_by_label("Name").fill("20 yuan coupon")
    form.get_by_label("Kind").select_option("coupon")
    form.get_by_label("Unit cost (CNY)").fill("20")
    form.get_by_role("button", name="Save").click()
    coupon = Prize.objects.get(code="COUPON20")
    expect(page).to_have_url(f"{live_server.url}{reverse('rewards:coupon_upload', args=[coupon.pk])}")
    form = page.locator("#coupon-form")
    form.get_by_label("File").set_input_files(
        files=[{"name": "codes.csv", "mimeType": "text/csv", "buffer": codes_csv()}]
    )
    form.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(f"{live_server.url}{reverse('rewards:prize_detail', args=[coupon.pk])}")
    expect(page.locator("#stock-available")).to_have_text("5")
    expect(page.locator("#codes-available")).to_have_text("5")

    # Manual dispatch of the coupon, to three customers found by search.
    page.locator("#prize-dispatch").click()
    expect(page).to_have_url(f"{live_server.url}{reverse('rewards:batch_new')}?prize={coupon.pk}")
    form = page.locator("#batch-form")
    expect(form.get_by_label("Prize")).to_have_value(str(coupon.pk))
    form.get_by_label("Reason").fill("Spring thank-you")
    form.get_by_label("Customer number or name").fill("VIP")
    page.locator("#search-button").click()
    results = page.locator("#customer-results")
    expect(results.locator("input[name=customers]")).to_have_count(3)
    for customer in customers:
        results.get_by_label(customer.customer_ref).check()
    page.locator("#preview-button").click()

    expect(page).to_have_url(f"{live_server.url}{reverse('rewards:batch_preview')}")
    numbers = page.locator("#preview-numbers")
    expect(numbers.locator("[data-value=count]")).to_have_text("3")
    expect(numbers.locator("[data-value=total_cost]")).to_have_text("CNY 60.00")
    expect(numbers.locator("[data-value=stock]")).to_have_text("3 / 5")
    expect(page.locator("#blocking-errors")).to_have_count(0)
    assert not DispatchBatch.objects.exists()
    page.locator("#confirm-button").click()

    batch = DispatchBatch.objects.get()
    expect(page).to_have_url(f"{live_server.url}{reverse('rewards:batch_detail', args=[batch.pk])}")
    expect(page.get_by_role("progressbar", name="Dispatch progress")).to_be_visible()
    expect(page.locator("#batch-progress-bar")).to_have_text("Waiting for a worker…")
    # From here on the page must change by htmx polling alone, never by loading again.
    page.evaluate("window.notReloaded = true")

    run_worker(queue, batch.job_id)
    expect(page.locator("#batch-result [data-result=granted]")).to_have_text("3", timeout=10_000)
    delivered = page.locator("#batch-delivery [data-delivery=delivered]")
    expect(delivered).to_have_text("3", timeout=10_000)
    expect(page.locator("#batch-delivery [data-delivery=pending]")).to_have_text("0")
    expect(page.locator("#batch-delivery [data-delivery=failed]")).to_have_text("0")
    expect(page.locator("#report-link")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True

    with page.expect_download() as download_info:
        page.locator("#report-link").click()
    with open(download_info.value.path(), encoding="utf-8-sig", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert sorted((r["customer_ref"], r["outcome"]) for r in report) == [
        (c.customer_ref, "granted") for c in customers
    ]

    # The grants list shows the batch's three grants, delivered.
    page.locator("#batch-delivery").get_by_role("link", name="See these grants").click()
    rows = page.locator("#grant-table tbody tr[data-grant]")
    expect(rows).to_have_count(3)
    expect(rows.locator("[data-status=delivered]")).to_have_count(3)

    # And the database agrees: one delivery each, one code each, stock and budget spent.
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    grants = Grant.objects.filter(prize=coupon)
    assert sorted(grants.values_list("customer_id", flat=True)) == [c.pk for c in customers]
    assert all(g.status == GrantStatus.DELIVERED for g in grants)
    for grant in grants:
        assert list(DeliveryRecord.objects.filter(grant=grant).values_list("idempotency_key", flat=True)) == [
            grant.idempotency_key
        ]
    assert CouponCode.objects.filter(prize=coupon, grant__isnull=False).count() == 3
    coupon.refresh_from_db()
    assert coupon.stock_available == 2
    assert PrizePool.objects.get(code="BJ-SPRING").budget_available == 440


def test_operator_sees_no_stock_or_budget_actions_and_is_refused_a_stock_change(
    live_server, browser_login, page: Page, personas, tree
):
    admin = personas.branch_admin
    pool = services.pool_create(actor=admin, code="BJ-POOL", name="Beijing pool", owner_branch=tree.bj)
    services.budget_add(actor=admin, pool=pool, amount=100, reason="Q4 budget")
    prize = services.prize_create(
        actor=admin, pool=pool, code="CASH5", name="5 yuan red packet", kind="cash", unit_cost=5
    )
    services.stock_add(actor=admin, prize=prize, quantity=10, reason="initial stock")

    browser_login("bj_operator", reverse("rewards:pool_detail", args=[pool.code]))
    expect(page.locator("h1")).to_contain_text("Beijing pool")
    for button in ("#prize-new", "#budget-add", "#budget-transfer", "#pool-edit"):
        expect(page.locator(button)).to_have_count(0)
    # Dispatching is the operator's: that link is there.
    expect(page.locator(f"#pool-prizes [data-dispatch={prize.code}]")).to_be_visible()

    page.locator("#pool-prizes").get_by_role("link", name="5 yuan red packet").click()
    expect(page.locator("#stock-available")).to_have_text("10")
    for button in ("#stock-add", "#stock-adjust", "#stock-transfer", "#prize-edit"):
        expect(page.locator(button)).to_have_count(0)
    expect(page.locator("#prize-dispatch")).to_be_visible()

    # A hand-made POST with a valid CSRF token: refused for the role, not for CSRF.
    token = json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]
    response = page.request.post(
        f"{live_server.url}{reverse('rewards:stock_add', args=[prize.pk])}",
        form={"quantity": "5", "reason": "more"},
        headers={"X-CSRFToken": token},
    )
    assert response.status == 403
    assert "Your role does not allow this action." in response.text()
    prize.refresh_from_db()
    assert prize.stock_available == 10
    assert StockMovement.objects.filter(prize=prize).count() == 1
