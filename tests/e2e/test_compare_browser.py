"""The results list and the comparison in Chromium: an analyst sorts the list
by participants (htmx), filters it keeping that order, ticks two campaigns,
compares them and sees the four charts drawn."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from campaigns.services import results
from tests.campaigns.conftest import pool, prize, prizes  # noqa: F401 - fixtures the story needs
from tests.campaigns.test_analysis_metrics import story  # noqa: F401 - the fixture
from tests.campaigns.test_compare import other  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_an_analyst_sorts_the_results_ticks_two_campaigns_and_compares_them(
    live_server, browser_login, page: Page, story, other  # noqa: F811 - the fixtures
):
    results.results_refresh(campaigns=[story.campaign])
    browser_login("bj_analyst", reverse("campaigns:results"))
    expect(page.locator(f'tr[data-campaign="{other.code}"]')).to_contain_text("Not computed yet")

    page.locator('th[data-sort-key="participants"] a').click()
    expect(page.locator('th[data-sort-key="participants"]')).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#result-table tbody tr").first).to_have_attribute("data-campaign", story.campaign.code)
    page.locator("#id_q").fill("ANA")
    expect(page.locator("#result-table tbody tr")).to_have_count(1)
    assert "sort=-participants" in page.url
    page.locator("#id_q").fill("")
    expect(page.locator("#result-table tbody tr")).to_have_count(2)

    page.locator(f"#pick-{story.campaign.code}").check()
    page.locator(f"#pick-{other.code}").check()
    page.locator("#compare-submit").click()
    expect(page.locator("#compare-title")).to_be_visible()
    expect(page.locator('tr[data-kpi="participants"] td[data-best="true"]')).to_contain_text("7")
    for chart in ("funnel", "daily", "uplift", "retention"):
        expect(page.locator(f"#chart-compare-{chart} svg")).to_have_count(1)
