import pytest
from django.urls import reverse

from accounts.models import Role

ACCOUNT_CARDS = {"branches", "users"}


def test_login_with_right_password_lands_on_the_dashboard(client, personas):
    response = client.post(
        reverse("accounts:login"),
        {"username": "bj_admin", "password": personas.password},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert response.context["user"].username == "bj_admin"


def test_login_with_wrong_password_explains_and_stays_anonymous(client, personas):
    response = client.post(reverse("accounts:login"), {"username": "bj_admin", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not response.wsgi_request.user.is_authenticated


def test_logout_is_a_post_and_ends_the_session(login, personas):
    client = login(personas.operator)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and reverse("accounts:login") in response.url


def test_pages_need_a_login(client, db):
    for url in [reverse("dashboard"), reverse("accounts:branch_list"), reverse("accounts:user_list")]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_password_change_checks_the_old_password_and_then_applies(login, personas):
    client = login(personas.operator)
    url = reverse("accounts:password_change")
    bad = client.post(url, {"old_password": "wrong", "new_password1": "N3w-pass-2026!", "new_password2": "N3w-pass-2026!"})
    assert bad.status_code == 200 and "old_password" in bad.context["form"].errors
    good = client.post(url, {"old_password": personas.password, "new_password1": "N3w-pass-2026!", "new_password2": "N3w-pass-2026!"})
    assert good.status_code == 302
    personas.operator.refresh_from_db()
    assert personas.operator.check_password("N3w-pass-2026!")


def test_dashboard_counts_only_what_is_in_scope(login, personas):
    response = login(personas.branch_admin).get(reverse("dashboard"))
    cards = {card.key: card.count for card in response.context["cards"] if card.key in ACCOUNT_CARDS}
    # BJ and BJ-HD; the four BJ personas plus the Haidian admin.
    assert cards == {"branches": 2, "users": 5}
    assert "Beijing" in response.content.decode()


def test_dashboard_of_head_office_counts_the_whole_bank(login, personas):
    response = login(personas.ho_admin).get(reverse("dashboard"))
    cards = {c.key: c.count for c in response.context["cards"] if c.key in ACCOUNT_CARDS}
    assert cards == {"branches": 4, "users": 7}


def test_dashboard_hides_user_counts_from_roles_without_user_management(login, personas):
    cards = {c.key for c in login(personas.analyst).get(reverse("dashboard")).context["cards"]}
    assert "branches" in cards and "users" not in cards


def test_navigation_follows_the_role(login, personas):
    users_url = reverse("accounts:user_list")
    assert users_url in login(personas.branch_admin).get(reverse("dashboard")).content.decode()
    assert users_url not in login(personas.operator).get(reverse("dashboard")).content.decode()


def test_branch_list_shows_the_subtree_only(login, personas):
    page = login(personas.branch_admin).get(reverse("accounts:branch_list"))
    assert [b.code for b in page.context["page_obj"]] == ["BJ", "BJ-HD"]


def test_branch_detail_outside_scope_is_404(login, personas):
    client = login(personas.branch_admin)
    assert client.get(reverse("accounts:branch_detail", args=["BJ-HD"])).status_code == 200
    assert client.get(reverse("accounts:branch_detail", args=["SH"])).status_code == 404
    assert client.get(reverse("accounts:branch_detail", args=["HO"])).status_code == 404
    assert client.get(reverse("accounts:branch_detail", args=["NOPE"])).status_code == 404


def test_user_list_is_scoped_filtered_and_paginated(login, personas, tree):
    from tests.factories import UserFactory

    UserFactory.create_batch(30, branch=tree.hd, role=Role.ANALYST)
    client = login(personas.branch_admin)
    first = client.get(reverse("accounts:user_list"))
    assert first.status_code == 200
    assert first.context["page_obj"].paginator.count == 35
    assert "sh_admin" not in first.content.decode()
    analysts = client.get(reverse("accounts:user_list"), {"role": "analyst", "branch": tree.hd.pk})
    assert analysts.context["page_obj"].paginator.count == 30


def test_user_list_ignores_a_tampered_branch_outside_scope(login, personas, tree):
    response = login(personas.branch_admin).get(reverse("accounts:user_list"), {"branch": tree.sh.pk})
    assert response.status_code == 200
    assert "branch" in response.context["filter"].errors
    usernames = {u.username for u in response.context["page_obj"]}
    assert "sh_admin" not in usernames


def test_user_list_htmx_request_returns_only_the_table_partial(login, personas):
    response = login(personas.branch_admin).get(
        reverse("accounts:user_list"), {"q": "operator"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="user-table">') and "<html" not in body
    assert "bj_operator" in body and "bj_reviewer" not in body


@pytest.mark.parametrize("persona", ["operator", "reviewer", "analyst"])
def test_user_list_is_403_for_roles_without_user_management(login, personas, persona):
    assert login(getattr(personas, persona)).get(reverse("accounts:user_list")).status_code == 403


@pytest.mark.parametrize("name", ["dashboard", "accounts:branch_list", "accounts:user_list"])
def test_read_only_pages_refuse_post_with_405(login, personas, name):
    assert login(personas.ho_admin).post(reverse(name)).status_code == 405


def test_preferences_change_the_time_zone_times_are_shown_in(login, personas):
    client = login(personas.operator)
    bad = client.post(reverse("accounts:preferences"), {"time_zone": "Mars/Olympus"})
    assert bad.status_code == 200 and "time_zone" in bad.context["form"].errors
    client.post(reverse("accounts:preferences"), {"time_zone": "Europe/London"})
    response = client.get(reverse("dashboard"))
    assert "Europe/London" in response.content.decode()


def test_error_pages_use_the_site_layout(login, personas):
    response = login(personas.operator).get("/does-not-exist/")
    assert response.status_code == 404
    assert 'id="error-page"' in response.content.decode()


def test_pages_send_security_headers(login, personas):
    response = login(personas.operator).get(reverse("dashboard"))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "hx-headers" in response.content.decode() and "X-CSRFToken" in response.content.decode()
