"""Campaigns in Chromium: an operator generates a lottery in one click,
reorders its slots and submits it; they cannot approve it themselves, a
reviewer does (stock is reserved); tampered branch and prize ids and a fake
image are refused with a clear error and change nothing."""

import io
import json
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from campaigns.models import Campaign, CampaignStatus, Material, MaterialKind
from campaigns.services import campaigns as campaign_services
from campaigns.services import materials
from rewards import services as reward_services
from rewards.models import Prize, Reservation
from tests.campaigns.lifecycle_helpers import forget_scheduled_jobs

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _no_scheduled_jobs_left():
    # Approval schedules go-live and end jobs in Redis; their ids repeat across test databases.
    yield
    forget_scheduled_jobs()


def _prize(actor, pool, code, name, kind, unit_cost, stock):
    prize = reward_services.prize_create(
        actor=actor, pool=pool, code=code, name=name, kind=kind, unit_cost=Decimal(unit_cost)
    )
    reward_services.stock_add(actor=actor, prize=prize, quantity=stock, reason="initial stock")
    return prize


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), (25, 70, 140)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def beijing(settings, tmp_path, personas, tree, make_customers):
    """What a Beijing lottery needs to be submitted: customers, a pool with three
    prizes and a poster for the app and WeChat channels."""
    settings.MEDIA_ROOT = tmp_path / "media"
    admin = personas.branch_admin
    pool = reward_services.pool_create(actor=admin, code="BJ-POOL", name="Beijing pool", owner_branch=tree.bj)
    reward_services.budget_add(actor=admin, pool=pool, amount=Decimal("50000"), reason="Q4 budget")
    _prize(admin, pool, "GIFT", "Umbrella", "gift", "80.00", 50)
    _prize(admin, pool, "CASH5", "5 yuan red packet", "cash", "5.00", 1000)
    _prize(admin, pool, "PTS", "100 points", "points", "0.50", 5000)
    materials.material_upload(
        actor=personas.operator, kind=MaterialKind.POSTER, name="Autumn poster",
        uploaded_file=SimpleUploadedFile("autumn.png", _png(), content_type="image/png"),
    )
    make_customers(5, tree.bj)
    return pool


def csrf_token(page: Page) -> str:
    return json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]


def slot_labels(page: Page) -> list[str]:
    return [row.locator("td").nth(2).inner_text().strip() for row in page.locator("#campaign-slots tbody tr[data-slot]").all()]


def test_an_operator_generates_reorders_and_submits_a_lottery_and_a_reviewer_approves_it(
    live_server, browser_login, page: Page, new_context, personas, beijing
):
    # One click in the gallery makes a complete draft.
    browser_login("bj_operator", reverse("campaigns:campaign_generate"))
    page.locator("[data-generate=lottery]").click()
    expect(page).to_have_url(re.compile(r"/campaigns/LOT-\d{8}-[A-Z]{4}/$"))
    campaign = Campaign.objects.get()
    detail_url = f"{live_server.url}{reverse('campaigns:campaign_detail', args=[campaign.code])}"
    expect(page.locator("#campaign-title")).to_contain_text(campaign.code)
    expect(page.locator("#campaign-slots tbody tr[data-slot]")).to_have_count(4)
    expect(page.locator("#campaign-slots")).to_contain_text("Umbrella")
    expect(page.locator("#campaign-channels tbody tr[data-channel]")).to_have_count(3)
    expect(page.locator("#campaign-channels")).to_contain_text("Autumn poster")
    expect(page.locator("#summary-budget")).to_contain_text("¥")
    expect(page.locator("#lifecycle-panel")).to_have_attribute("data-status", "draft")

    # The keyboard way to reorder: the first prize moves one place down.
    page.locator("#campaign-tabs [data-tab=rewards]").click()
    before = slot_labels(page)
    page.get_by_role("button", name=f"Move “{before[0]}” down").click()
    expected = [before[1], before[0], *before[2:]]
    expect(page.locator("#campaign-slots tbody tr[data-slot]").first).to_contain_text(before[1])
    assert slot_labels(page) == expected
    assert list(campaign.slots.order_by("position").values_list("label", flat=True)) == expected

    page.goto(detail_url)
    page.locator("#submit-form button").click()
    panel = page.locator("#lifecycle-panel")
    expect(panel).to_have_attribute("data-status", "pending_review")
    expect(panel.locator("#waiting-for-other")).to_be_visible()

    # No approving one's own submission: no button, and a forged POST is refused.
    expect(page.locator("#approve-form")).to_have_count(0)
    response = page.request.post(
        f"{live_server.url}{reverse('campaigns:campaign_approve', args=[campaign.code])}",
        form={"reason": "looks fine to me"}, headers={"X-CSRFToken": csrf_token(page)},
    )
    assert response.status == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING_REVIEW and campaign.live_revision is None
    assert not Reservation.objects.exists()

    # A reviewer finds it in the queue and approves it.
    reviewer = new_context().new_page()
    browser_login("bj_reviewer", reverse("campaigns:review_queue"), on=reviewer)
    reviewer.locator(f"tr[data-code='{campaign.code}'] a").first.click()
    expect(reviewer).to_have_url(detail_url)
    reviewer.locator("#approve-form").get_by_role("button", name="Approve").click()
    expect(reviewer.locator("#lifecycle-panel")).to_have_attribute("data-status", "approved")

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED and campaign.live_revision.decided_by == personas.reviewer
    for slot in campaign.slots.exclude(prize=None).select_related("reservation", "prize"):
        assert slot.reservation is not None and slot.reservation.remaining == slot.quantity, slot.label
    for prize in Prize.objects.filter(pool=beijing):
        reserved = sum(campaign.slots.filter(prize=prize).values_list("quantity", flat=True))
        assert prize.stock_available == {"GIFT": 50, "CASH5": 1000, "PTS": 5000}[prize.code] - reserved


def snapshot(campaign):
    campaign = Campaign.objects.get(pk=campaign.pk)
    return (
        Campaign.objects.filter(pk=campaign.pk).values().get(),
        sorted(campaign.target_branches.values_list("pk", flat=True)),
        list(campaign.slots.order_by("position").values_list("pk", "label", "prize", "quantity", "weight")),
    )


def retarget_selected_option(page: Page, select: str, value: int) -> None:
    """What a tampering user does: point the chosen option of a select at another id."""
    page.evaluate(
        """([selector, value]) => {
            const select = document.querySelector(selector);
            const option = select.selectedOptions[0] || select.options[0];
            option.value = value;
            option.selected = true;
        }""",
        [select, str(value)],
    )


def test_tampered_branch_and_prize_ids_are_refused_with_a_form_error_and_change_nothing(
    live_server, browser_login, page: Page, personas, tree, beijing
):
    sh_pool = reward_services.pool_create(
        actor=personas.outsider, code="SH-POOL", name="Shanghai pool", owner_branch=tree.sh
    )
    sh_prize = _prize(personas.outsider, sh_pool, "SH-GIFT", "Shanghai gift", "gift", "9.00", 100)
    campaign = campaign_services.campaign_generate(actor=personas.operator, kind="lottery")
    before = snapshot(campaign)

    # The owner branch of a new draft: Shanghai is outside the operator's scope.
    browser_login("bj_operator", reverse("campaigns:campaign_generate"))
    retarget_selected_option(page, "#owner-lottery", tree.sh.pk)
    page.locator("[data-generate=lottery]").click()
    expect(page.locator("#generate-errors")).to_contain_text("Select a valid choice")
    assert Campaign.objects.count() == 1 and not Campaign.objects.filter(owner_branch=tree.sh).exists()

    # A target branch outside the owner branch.
    page.goto(f"{live_server.url}{reverse('campaigns:campaign_edit', args=[campaign.code, 'rules'])}")
    retarget_selected_option(page, "#id_target_branches", tree.sh.pk)
    page.locator("#tab-form").get_by_role("button", name="Save").click()
    expect(page.locator("#tab-form .invalid-feedback")).to_contain_text("Select a valid choice")

    # A prize from another branch's pool.
    slot = campaign.slots.exclude(prize=None).order_by("position").first()
    page.goto(f"{live_server.url}{reverse('campaigns:slot_edit', args=[campaign.code, slot.pk])}")
    retarget_selected_option(page, "#id_prize", sh_prize.pk)
    page.locator("#slot-form").get_by_role("button", name="Save").click()
    expect(page.locator("#slot-form .invalid-feedback")).to_contain_text("Select a valid choice")

    assert snapshot(campaign) == before


def test_a_text_file_named_like_a_poster_is_refused_with_a_clear_error(
    live_server, browser_login, page: Page, personas, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    browser_login("bj_operator", reverse("campaigns:material_upload"))
    form = page.locator("#material-upload-form")
    form.get_by_label("Kind").select_option(MaterialKind.POSTER)
    form.get_by_label("Name").fill("Autumn poster")
    form.get_by_label("File").set_input_files(
        files=[{"name": "poster.png", "mimeType": "image/png", "buffer": b"Not an image at all, just text.\n"}]
    )
    form.get_by_role("button", name="Upload").click()
    expect(form.locator(".invalid-feedback")).to_contain_text(
        "This file is not a PNG, JPEG or WebP image (its content was checked, not its name)."
    )
    assert not Material.objects.exists()
    assert not (tmp_path / "media").exists() or not any(p.is_file() for p in (tmp_path / "media").rglob("*"))
