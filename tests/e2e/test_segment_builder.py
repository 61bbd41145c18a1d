"""The segment builder in Chromium: build a two-group segment by drag and drop and watch the count."""

import re

import pytest
from playwright.sync_api import Page, expect

from audiences import rule_edit
from audiences.models import Segment

pytestmark = pytest.mark.e2e


@pytest.fixture
def customers(tree, make_tag, make_customers):
    """In Beijing: 5 VIP only, 3 VIP and FUND, 4 FUND only, 2 neither; Shanghai's VIPs are out of scope."""
    vip, fund = make_tag("VIP"), make_tag("FUND")
    make_customers(5, tree.bj, prefix="A", tags=[vip])
    make_customers(3, tree.hd, prefix="B", tags=[vip, fund])
    make_customers(4, tree.bj, prefix="C", tags=[fund])
    make_customers(2, tree.bj, prefix="D")
    make_customers(6, tree.sh, prefix="E", tags=[vip])
    return {"vip": vip, "fund": fund}


def size(page: Page):
    return page.locator("#segment-size")


def root(page: Page):
    return page.locator("#segment-tree .rule-root")


def top_level(page: Page):
    """The root group's direct children."""
    return root(page).locator(":scope > ul.rule-children > li.rule-node")


def settled(page: Page):
    """Wait until htmx has wired up the tree it just swapped in (it does so after a short settle)."""
    expect(page.locator("#segment-tree.htmx-added")).to_have_count(0)


def add_group(page: Page, op_label: str, empty_hint: str):
    count = top_level(page).count()
    root(page).locator(":scope > .rule-add .rule-add-group").click()
    expect(top_level(page)).to_have_count(count + 1)
    settled(page)
    group = top_level(page).nth(count)
    group.locator(":scope > .rule-head select[name=op]").select_option(label=op_label)
    # The server saved it once the re-drawn group explains what it matches when empty.
    expect(group.locator(":scope > ul.rule-children")).to_have_attribute(
        "data-empty-text", re.compile(empty_hint)
    )
    settled(page)


def add_tag_condition(page: Page, code: str):
    count = top_level(page).count()
    root(page).locator(":scope > .rule-add select[name=add]").select_option("tag")
    root(page).locator(":scope > .rule-add .rule-add-condition").click()
    form = page.locator("#rule-form")
    expect(form).to_be_visible()
    settled(page)
    form.get_by_label("Tag").select_option(label=code)
    form.get_by_role("button", name="Add").click()
    expect(top_level(page)).to_have_count(count + 1)
    expect(page.locator("#rule-form")).to_have_count(0)
    settled(page)


def centre(box):
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, handle, target_list):
    """A real pointer drag with intermediate moves, as SortableJS expects.

    Items make room for the dragged one while it passes, so the target list
    moves during the drag: follow it until the placeholder is inside, then drop.
    """
    handle.scroll_into_view_if_needed()
    x, y = centre(handle.bounding_box())
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5, steps=5)
    for _attempt in range(10):
        page.mouse.move(*centre(target_list.bounding_box()), steps=10)
        if target_list.locator(":scope > .sortable-ghost").count():
            break
        page.wait_for_timeout(100)
    page.mouse.up()


def condition(page: Page, text: str):
    return page.locator("#segment-tree li.rule-node:not(.rule-group)").filter(has_text=text)


def test_operator_builds_a_two_group_segment_by_drag_and_sees_the_count_change(
    browser_login, page: Page, personas, customers
):
    browser_login("bj_operator", "/audiences/segments/new/")
    page.get_by_label("Name").fill("VIP without funds")
    page.get_by_role("button", name="Create and add conditions").click()
    expect(page.locator("#page-title")).to_have_text("VIP without funds")
    segment = Segment.objects.get(name="VIP without funds")
    expect(size(page)).to_have_text("14")  # everyone in Beijing's subtree

    add_group(page, "any of", "no customer matches")
    expect(size(page)).to_have_text("0")  # an empty "any of" matches nobody
    add_group(page, "none of", "excludes nobody")
    add_tag_condition(page, "VIP")
    add_tag_condition(page, "FUND")
    expect(size(page)).to_have_text("0")
    # By id: while an item is dragged the others make room, so positions change.
    first_group, second_group = (
        page.locator(f"#node-{top_level(page).nth(i).get_attribute('data-node-id')}")
        for i in (0, 1)
    )

    # Drag "has VIP" into the "any of" group: all of [any of [VIP], none of [], FUND].
    drag(
        page,
        condition(page, "has tag “VIP”").locator(".rule-handle"),
        first_group.locator(":scope > ul.rule-children"),
    )
    expect(first_group.locator(":scope > ul.rule-children")).to_contain_text("has tag “VIP”")
    expect(size(page)).to_have_text("3")
    settled(page)

    # Drag "has FUND" into the "none of" group: VIP customers without FUND.
    drag(
        page,
        condition(page, "has tag “FUND”").locator(".rule-handle"),
        second_group.locator(":scope > ul.rule-children"),
    )
    expect(second_group.locator(":scope > ul.rule-children")).to_contain_text("has tag “FUND”")
    expect(size(page)).to_have_text("5")

    rule = Segment.objects.get(pk=segment.pk).rule
    groups = rule["children"]
    assert [(g["type"], g["op"]) for g in groups] == [("group", "or"), ("group", "not")]
    assert [c["tag"] for c in groups[0]["children"]] == ["VIP"]
    assert [c["tag"] for c in groups[1]["children"]] == ["FUND"]
    expect(page.locator("#segment-by-branch")).to_contain_text("Beijing")
    expect(page.locator("#segment-sample tbody tr")).to_have_count(5)
    expect(page.locator("#segment-sample")).to_contain_text("138****")


def test_keyboard_buttons_move_a_condition_without_dragging(
    browser_login, page: Page, personas, customers
):
    segment = Segment.objects.create(
        name="Keyboard",
        owner_branch=personas.operator.branch,
        created_by=personas.operator,
        rule={
            "id": "root",
            "type": "group",
            "op": "and",
            "children": [
                {"id": "g1", "type": "group", "op": "not", "children": []},
                {"id": "vip", "type": "tag", "op": "has", "tag": "VIP"},
                {"id": "fund", "type": "tag", "op": "has", "tag": "FUND"},
            ],
        },
    )
    browser_login("bj_operator", f"/audiences/segments/{segment.pk}/")
    expect(size(page)).to_have_text("3")
    fund_into = page.locator("#node-fund > .rule-head button[value=into]")
    expect(fund_into).to_be_disabled()  # "has VIP" above it is not a group
    page.locator("#node-fund > .rule-head button[value=up]").focus()
    page.keyboard.press("Enter")
    expect(top_level(page).nth(1)).to_have_attribute("data-node-id", "fund")
    settled(page)
    expect(
        page.locator("#node-fund > .rule-head button[value=up]")
    ).to_be_focused()  # focus survives the redraw
    page.keyboard.press("Tab")  # to "down"
    page.keyboard.press("Tab")  # "out" is disabled: skipped; to "into"
    expect(page.locator("#node-fund > .rule-head button[value=into]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#node-g1 > ul.rule-children")).to_contain_text("has tag “FUND”")
    expect(size(page)).to_have_text("5")
    stored = Segment.objects.get(pk=segment.pk).rule
    assert rule_edit.find(stored, "g1")["children"][0]["id"] == "fund"


def test_an_edit_from_a_stale_page_explains_and_shows_the_saved_tree(
    browser_login, page: Page, personas, customers
):
    segment = Segment.objects.create(
        name="Deep",
        owner_branch=personas.operator.branch,
        created_by=personas.operator,
        rule={
            "id": "root",
            "type": "group",
            "op": "and",
            "children": [{"id": "vip", "type": "tag", "op": "has", "tag": "VIP"}],
        },
    )
    browser_login("bj_operator", f"/audiences/segments/{segment.pk}/")
    expect(size(page)).to_have_text("8")
    # The page was opened before someone else removed the condition.
    Segment.objects.filter(pk=segment.pk).update(
        rule={"id": "root", "type": "group", "op": "and", "children": []}
    )
    page.locator("#node-vip > .rule-head button[aria-label='Delete']").click()
    expect(page.locator("#segment-error")).to_contain_text("no longer exists")
    expect(page.locator("#node-vip")).to_have_count(0)  # the tree shows what is really saved


def test_the_builder_works_without_javascript(browser_login, browser, personas, customers):
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    segment = Segment.objects.create(
        name="No script",
        owner_branch=personas.operator.branch,
        created_by=personas.operator,
        rule={
            "id": "root",
            "type": "group",
            "op": "and",
            "children": [{"id": "g1", "type": "group", "op": "or", "children": []}],
        },
    )
    browser_login("bj_operator", f"/audiences/segments/{segment.pk}/", on=page)
    expect(page.locator("#segment-preview")).to_contain_text("Open the preview")
    # Open the "tag" form under the root group: a plain GET that re-renders the page with it.
    page.locator("#node-root > .rule-add select[name=add]").select_option("tag")
    page.locator("#node-root > .rule-add .rule-add-condition").click()
    page.locator("#rule-form").get_by_label("Tag").select_option(label="VIP")
    page.locator("#rule-form").get_by_role("button", name="Add").click()
    expect(page.locator("#node-root > ul.rule-children")).to_contain_text("has tag “VIP”")
    # The condition is last in the root group; the button moves it into "any of" just above.
    page.locator("#segment-tree li.rule-node:not(.rule-group) button[value=into]").click()
    expect(page.locator("#node-g1 > ul.rule-children")).to_contain_text("has tag “VIP”")
    assert (
        rule_edit.find(Segment.objects.get(pk=segment.pk).rule, "g1")["children"][0]["tag"] == "VIP"
    )
    page.get_by_role("link", name="Open the preview").click()
    expect(page.locator("#segment-size")).to_have_text("8")
    context.close()
