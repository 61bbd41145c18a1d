"""Drag-and-drop configuration in Chromium: an operator drags a lottery slot to a new
place on the wheel, a task-chain task to the top and a landing page block above the
others, and each order is saved on drop (it survives a reload); the arrow buttons do
the same from the keyboard, keeping the focus on the moved item, and a refused drop
snaps back."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect

from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaigns as campaign_services
from rewards import services as reward_services

pytestmark = pytest.mark.e2e


@pytest.fixture
def lottery(personas, tree):
    """A Beijing lottery draft with three prize slots and its "no prize" slot."""
    admin = personas.branch_admin
    pool = reward_services.pool_create(actor=admin, code="BJ-POOL", name="Beijing pool", owner_branch=tree.bj)
    reward_services.budget_add(actor=admin, pool=pool, amount=Decimal("50000"), reason="Q4 budget")
    for code, name, cost, stock in (("GIFT", "Umbrella", "80.00", 50), ("CASH5", "Red packet", "5.00", 1000),
                                    ("PTS", "100 points", "0.50", 5000)):
        prize = reward_services.prize_create(
            actor=admin, pool=pool, code=code, name=name, kind="gift", unit_cost=Decimal(cost)
        )
        reward_services.stock_add(actor=admin, prize=prize, quantity=stock, reason="initial stock")
    return campaign_services.campaign_generate(actor=personas.operator, kind="lottery")


def centre(box):
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, handle: Locator, target: Locator):
    """A real pointer drag of ``handle`` onto the upper part of ``target``, with the
    intermediate moves SortableJS needs to see the pointer pass over the list."""
    handle.scroll_into_view_if_needed()
    x, y = centre(handle.bounding_box())
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 4, steps=4)
    box = target.bounding_box()
    page.mouse.move(x, box["y"] + box["height"] * 0.3, steps=20)
    page.wait_for_timeout(200)  # let the items make room (animation)
    page.mouse.move(x, box["y"] + box["height"] * 0.25, steps=2)
    page.mouse.up()


def settled(page: Page):
    """Wait until htmx has finished swapping (and SortableJS is wired to the new list)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def slot_rows(page: Page) -> Locator:
    return page.locator("#campaign-slots tbody tr[data-slot]")


def slot_order(page: Page) -> list[int]:
    return [int(row.get_attribute("data-slot")) for row in slot_rows(page).all()]


def stored_slots(campaign: Campaign) -> list[int]:
    return list(campaign.slots.order_by("position", "pk").values_list("pk", flat=True))


def phone_blocks(page: Page) -> list[str]:
    return [b.get_attribute("data-block") for b in page.locator("#preview-page > [data-block]").all()]


def test_a_lottery_slot_dragged_to_a_new_place_stays_there_after_a_reload(
    live_server, browser_login, page: Page, personas, lottery
):
    rewards = reverse("campaigns:campaign_edit", args=[lottery.code, "rewards"])
    browser_login("bj_operator", rewards)
    before = slot_order(page)
    assert before == stored_slots(lottery) and len(before) == 4

    # Drag the last slot ("Thanks for playing") to the top of the wheel.
    drag(page, slot_rows(page).last.locator("[data-sortable-handle]"), slot_rows(page).first)
    expected = [before[-1], *before[:-1]]
    expect(page.locator("#slot-order-status")).to_have_text("Saved.")
    assert slot_order(page) == expected
    assert stored_slots(lottery) == expected
    settled(page)

    page.reload()
    assert slot_order(page) == expected

    # The preview's wheel follows the new order, clockwise from the top.
    page.goto(f"{live_server.url}{reverse('campaigns:campaign_preview', args=[lottery.code, 'app'])}")
    sectors = page.locator("#preview-wheel [data-slot]")
    assert [int(s.get_attribute("data-slot")) for s in sectors.all()] == expected


def test_the_arrow_buttons_reorder_slots_from_the_keyboard_and_keep_the_focus(
    live_server, browser_login, page: Page, new_context, personas, lottery
):
    browser_login("bj_operator", reverse("campaigns:campaign_edit", args=[lottery.code, "rewards"]))
    first, second, *rest = slot_order(page)
    page.locator(f"#slot-{first}-down").focus()
    page.keyboard.press("Enter")
    expect(slot_rows(page).first).to_have_attribute("data-slot", str(second))
    settled(page)
    assert stored_slots(lottery) == [second, first, *rest]
    expect(page.locator(f"#slot-{first}-down")).to_be_focused()  # on the moved slot, to press again
    page.keyboard.press("Enter")
    expect(slot_rows(page).nth(2)).to_have_attribute("data-slot", str(first))
    settled(page)
    assert stored_slots(lottery) == [second, rest[0], first, *rest[1:]]

    # Without JavaScript the same buttons post a plain form and reload the page.
    tab = new_context(java_script_enabled=False).new_page()
    browser_login("bj_operator", reverse("campaigns:campaign_edit", args=[lottery.code, "rewards"]), on=tab)
    tab.locator(f"#slot-{first}-up").click()
    expect(tab.locator("#messages")).to_contain_text("Saved.")
    assert stored_slots(lottery) == [second, first, *rest]


def test_a_refused_drop_snaps_back_and_says_why(live_server, browser_login, page: Page, personas, lottery):
    browser_login("bj_operator", reverse("campaigns:campaign_edit", args=[lottery.code, "rewards"]))
    before = slot_order(page)
    # Someone submits the campaign for review while this page is open.
    Campaign.objects.filter(pk=lottery.pk).update(status=CampaignStatus.PENDING_REVIEW)
    drag(page, slot_rows(page).last.locator("[data-sortable-handle]"), slot_rows(page).first)
    expect(page.locator("#slot-order-error")).to_contain_text("waiting for review")
    assert slot_order(page) == before
    assert stored_slots(lottery) == before


def test_a_task_chain_task_dragged_to_the_top_is_saved(live_server, browser_login, page: Page, personas, lottery):
    chain = campaign_services.campaign_generate(actor=personas.operator, kind="task_chain")
    tasks = chain.kind_settings["tasks"]
    browser_login("bj_operator", reverse("campaigns:campaign_edit", args=[chain.code, "settings"]))
    rows = page.locator("#task-rows-saved tr[data-sortable-item]")
    expect(rows).to_have_count(3)
    drag(page, rows.nth(2).locator("[data-sortable-handle]"), rows.first)
    expect(page.locator("#task-order-status")).to_contain_text("Saved.")
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[2], tasks[0], tasks[1]]
    settled(page)
    page.reload()
    expect(page.locator("#id_task_0_event")).to_have_value(tasks[2]["event"])
    # And back one place with the keyboard.
    page.locator("#task-1-down").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_task_0_event")).to_have_value(tasks[0]["event"])
    settled(page)
    expect(page.locator("#task-2-down")).to_be_focused()
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[0], tasks[2], tasks[1]]


def test_landing_page_blocks_are_reordered_by_drag_and_by_keyboard_and_hidden(
    live_server, browser_login, page: Page, personas, lottery
):
    browser_login("bj_operator", reverse("campaigns:campaign_preview", args=[lottery.code, "wechat"]))
    assert phone_blocks(page) == ["banner", "rules", "prizes", "countdown", "cta"]
    items = page.locator("#landing-blocks-shown > li")

    # Drag the call to action above everything: saved, and the phone follows.
    drag(page, items.last.locator("[data-sortable-handle]"), items.first)
    expect(page.locator("#landing-blocks-status")).to_have_text("Saved.")
    expect(page.locator("#preview-page > [data-block]").first).to_have_attribute("data-block", "cta")
    assert phone_blocks(page) == ["cta", "banner", "rules", "prizes", "countdown"]
    settled(page)
    page.reload()
    assert phone_blocks(page) == ["cta", "banner", "rules", "prizes", "countdown"]
    assert Campaign.objects.get(pk=lottery.pk).landing_blocks == ["cta", "banner", "rules", "prizes", "countdown"]

    # The keyboard: countdown one place up, the focus stays on it.
    page.locator("#block-countdown-up").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#preview-page > [data-block]").nth(3)).to_have_attribute("data-block", "countdown")
    settled(page)
    expect(page.locator("#block-countdown-up")).to_be_focused()

    # Hide the rules: gone from the phone, offered to show again.
    page.get_by_role("button", name="Hide “Rules”").click()
    expect(page.locator("#landing-blocks-hidden")).to_contain_text("Rules")
    assert "rules" not in phone_blocks(page)
    settled(page)
    expect(page.locator("#block-rules-show")).to_be_focused()
    assert Campaign.objects.get(pk=lottery.pk).landing_blocks == ["cta", "banner", "countdown", "prizes"]
    expect(page.locator("#preview-countdown")).to_contain_text(re.compile(r"Starts in|Ends in"))
