"""API channels in Chromium: a head-office admin creates a channel and sees its
key id and secret once, the channel's page never shows the secret again, a
rotation shows a new one once; a branch admin has no way in."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from campaigns.models import ApiChannel

pytestmark = pytest.mark.e2e


def test_head_office_creates_a_channel_sees_its_secret_once_and_rotates_it(
    live_server, browser_login, page: Page, personas
):
    browser_login("ho_admin", reverse("dashboard"))
    page.locator("#nav-campaigns").click()
    page.locator("#nav-channels").click()
    expect(page.locator("#page-title")).to_have_text("API channels")

    page.locator("#channel-new").click()
    form = page.locator("#channel-form")
    form.get_by_label("Name").fill("Mobile banking app")
    form.get_by_label("Kind").select_option(label="mobile app")
    form.get_by_label("Requests per minute (per customer)").fill("30")
    form.get_by_role("button", name="Create the channel").click()

    expect(page.locator("#secret-once")).to_be_visible()
    channel = ApiChannel.objects.get()
    first = channel.secret
    expect(page.locator("#channel-key-id")).to_have_text(channel.key_id)
    expect(page.locator("#channel-secret")).to_have_text(first)
    assert (channel.name, channel.kind, channel.customer_rate_per_minute) == ("Mobile banking app", "app", 30)

    # Once copied, the channel's page shows the key id and never the secret, reloaded or not.
    page.locator("#secret-done").click()
    expect(page.locator("#page-title")).to_contain_text("Mobile banking app")
    expect(page.locator("#channel-key-id")).to_have_text(channel.key_id)
    expect(page.locator("#channel-signing")).to_contain_text("X-Signature")
    assert first not in page.content()
    page.reload()
    expect(page.locator("#channel-key-id")).to_have_text(channel.key_id)
    assert first not in page.content()

    # Rotation needs the box ticked; then the new secret is shown once.
    rotate = page.locator("#channel-rotate-form")
    rotate.get_by_role("button", name="Rotate the secret").click()
    expect(page.locator("#channel-rotate-form")).to_contain_text("Tick the box to confirm the rotation.")
    channel.refresh_from_db()
    assert channel.secret == first
    page.locator("#channel-rotate-form").get_by_label("I understand", exact=False).check()
    page.locator("#channel-rotate-form").get_by_role("button", name="Rotate the secret").click()
    expect(page.locator("#secret-once")).to_be_visible()
    channel.refresh_from_db()
    assert channel.secret != first and channel.previous_secret == first
    expect(page.locator("#channel-secret")).to_have_text(channel.secret)
    expect(page.locator("#previous-valid-until")).to_be_visible()

    page.locator("#secret-done").click()
    expect(page.locator("#previous-valid-until")).to_be_visible()
    content = page.content()
    assert channel.secret not in content and first not in content

    # Switched off on its page, it shows as inactive in the list, which filters in place.
    page.locator("#channel-update-form").get_by_label("Active").uncheck()
    page.locator("#channel-update-form").get_by_role("button", name="Save").click()
    expect(page.locator("#channel-status")).to_have_text("Inactive")
    page.goto(f"{live_server.url}{reverse('campaigns:channel_list')}")
    expect(page.locator(f"tr[data-channel='{channel.pk}']")).to_contain_text("Inactive")
    page.locator("#channel-filter").get_by_label("Status").select_option("yes")
    expect(page.locator("#channel-table")).to_contain_text("No channels match.")
    assert "active=yes" in page.url


def test_a_branch_admin_gets_403_and_no_channels_link(live_server, browser_login, page: Page, personas):
    browser_login("bj_admin", reverse("dashboard"))
    expect(page.locator("#nav-channels")).to_have_count(0)
    response = page.goto(f"{live_server.url}{reverse('campaigns:channel_list')}")
    assert response is not None and response.status == 403
    response = page.goto(f"{live_server.url}{reverse('campaigns:channel_create')}")
    assert response is not None and response.status == 403
