"""The shell end to end in Debian's Chromium: log in, dashboard, switch to Chinese."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_branch_admin_logs_in_sees_dashboard_and_switches_to_chinese(browser_login, page: Page, personas):
    browser_login("bj_admin")  # the browser asks for English; Chinese is one click away

    expect(page.locator("#page-title")).to_have_text("Dashboard")
    expect(page.locator("#user-branch")).to_have_text("Beijing")
    expect(page.locator('[data-card="branches"] .card-count')).to_have_text("2")
    expect(page.locator("#nav-links")).to_contain_text("Users")

    page.locator("#language-switch button[lang='zh-hans']").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#page-title")).to_have_text("仪表盘")
    expect(page.locator("#nav-links")).to_contain_text("分支机构")
    expect(page.locator("#nav-links")).to_contain_text("用户")


def test_user_filter_updates_the_table_in_place(browser_login, page: Page, personas):
    browser_login("bj_admin", "/accounts/users/")
    expect(page.locator("#user-table")).to_contain_text("bj_reviewer")
    page.select_option("#id_role", "operator")
    expect(page.locator("#user-table")).not_to_contain_text("bj_reviewer")
    expect(page.locator("#user-table")).to_contain_text("bj_operator")
    assert "role=operator" in page.url  # hx-push-url keeps the filter in the address bar


def test_operator_sees_no_user_management_and_logs_out(browser_login, page: Page, personas):
    browser_login("bj_operator")
    expect(page.locator("#nav-links")).not_to_contain_text("Users")
    page.locator("#user-menu").click()
    page.locator("#logout").click()
    expect(page.locator("#login-form")).to_be_visible()
