"""The analysis page in Chromium, on the hand-computed campaign of
test_analysis_metrics: an analyst of the branch opens it, sees both charts
drawn, and downloads a table as CSV."""

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.campaigns.conftest import pool, prize, prizes  # noqa: F401 - fixtures the story needs
from tests.campaigns.test_analysis_metrics import story  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_an_analyst_opens_the_analysis_sees_the_charts_and_downloads_the_funnel(
    live_server, browser_login, page: Page, story  # noqa: F811 - the fixture
):
    campaign = story.campaign
    browser_login("bj_analyst", reverse("campaigns:campaign_analysis", args=[campaign.code]))
    expect(page.locator("#analysis-title")).to_contain_text(campaign.code)
    # ECharts draws each chart as SVG inside its container.
    expect(page.locator("#chart-funnel svg")).to_have_count(1)
    expect(page.locator("#chart-daily svg")).to_have_count(1)
    expect(page.locator("#uplift-verdict")).to_have_attribute("data-significant", "false")

    with page.expect_download() as download:
        page.locator("#table-funnel a", has_text="CSV").click()
    assert download.value.suggested_filename.endswith("funnel.csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:2] == ["Stage", "Customers"]
    assert [row[:2] for row in rows[1:]] == [
        ["Audience", "10"], ["Reached", "8"], ["Viewed", "8"], ["Joined", "6"], ["Won", "4"], ["Redeemed", "2"],
    ]
