import pytest
from playwright.sync_api import Page


@pytest.fixture
def browser_login(live_server, page: Page, personas):
    """Log in through the real form (the browser asks for English) and land on ``next_url``."""

    def log_in(username: str, next_url: str = "/", *, on: Page | None = None) -> Page:
        tab = on or page
        tab.goto(f"{live_server.url}/accounts/login/?next={next_url}")
        form = tab.locator("#login-form")
        form.get_by_label("Username").fill(username)
        form.get_by_label("Password").fill(personas.password)
        form.get_by_role("button", name="Log in").click()
        return tab

    return log_in
