"""API channels: the services that make, rotate and change them (secret shown
once, previous secret kept for the grace period, audited without the secret,
head office only), their pages (success, 403 for branch roles, 404, 405, the
secret page never cached, list filters and pages), ``manage.py
channel_create`` and the read-only admin pages of the runtime."""

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import execute_from_command_line
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import campaigns.admin_runtime  # noqa: F401 -- registers the runtime's admin pages until campaigns.admin imports it
from accounts.models import AuditEntry, User
from campaigns.models import ApiChannel, ApiChannelKind
from campaigns.runtime import counters
from campaigns.services import channels as services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def superuser(tree):
    return User.objects.create_superuser("root", "root@example.com", "pw-root-2026", branch=tree.ho)


@pytest.fixture
def app(personas):
    """The mobile app's channel and its secret in clear."""
    return services.channel_create(actor=personas.ho_admin, name="Mobile app", kind=ApiChannelKind.APP)


def channel_audit():
    return list(AuditEntry.objects.filter(object_type="campaigns.apichannel").order_by("pk"))


def names_on(response):
    return [c.name for c in response.context["page_obj"]]


def snapshot():
    return list(ApiChannel.objects.order_by("pk").values()), len(channel_audit())


def channels_version() -> int:
    return int(counters.connection().get(counters.CHANNELS_VERSION) or 0)


# --- services ----------------------------------------------------------------------------------


def test_a_new_channel_gets_a_key_id_and_a_secret_returned_once_in_clear(personas, tree):
    channel, secret = services.channel_create(
        actor=personas.ho_admin, name="  SMS gateway ", kind=ApiChannelKind.SMS,
        rate_per_minute=600, customer_rate_per_minute=10,
    )
    stored = ApiChannel.objects.get(pk=channel.pk)
    assert stored.name == "SMS gateway" and stored.kind == "sms"
    assert re.fullmatch(r"cs_[0-9a-f]{16}", stored.key_id)
    assert HEX64.match(secret) and stored.secret == secret
    assert stored.previous_secret == "" and stored.previous_valid_until is None and stored.rotated_at is None
    assert (stored.rate_per_minute, stored.customer_rate_per_minute) == (600, 10)
    assert stored.is_active and stored.created_by == personas.ho_admin
    [entry] = channel_audit()
    assert entry.action == "channel.create" and entry.actor == personas.ho_admin and entry.branch == tree.ho
    assert entry.changes["key_id"] == stored.key_id


def test_rates_left_out_take_the_models_defaults(personas):
    channel, _secret = services.channel_create(actor=personas.ho_admin, name="WeChat", kind=ApiChannelKind.WECHAT)
    assert (channel.rate_per_minute, channel.customer_rate_per_minute) == (60_000, 120)


def test_every_channel_gets_its_own_key_id_and_secret(personas):
    made = [services.channel_create(actor=personas.ho_admin, name=f"Channel {i}", kind="app") for i in range(5)]
    assert len({c.key_id for c, _s in made}) == 5 and len({s for _c, s in made}) == 5


def test_a_duplicate_name_is_a_clear_error_on_the_name_and_writes_nothing(personas, app):
    before = snapshot()
    with pytest.raises(ValidationError) as exc:
        services.channel_create(actor=personas.ho_admin, name="Mobile app", kind=ApiChannelKind.CORE)
    assert exc.value.message_dict == {"name": ["A channel named “Mobile app” already exists."]}
    assert snapshot() == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"kind": "fax"}, "kind"),
        ({"rate_per_minute": 0}, "rate_per_minute"),
        ({"customer_rate_per_minute": 0}, "customer_rate_per_minute"),
    ],
)
def test_a_bad_name_kind_or_rate_is_refused_and_writes_nothing(personas, fields, field):
    with pytest.raises(ValidationError) as exc:
        services.channel_create(actor=personas.ho_admin, **{"name": "Core", "kind": "core", **fields})
    assert field in exc.value.message_dict
    assert snapshot() == ([], 0)


@pytest.mark.parametrize("persona", ["branch_admin", "operator", "reviewer", "analyst", "sub_admin", "outsider"])
def test_only_head_office_manages_channels(personas, app, persona):
    actor = getattr(personas, persona)
    channel, _secret = app
    before = snapshot()
    with pytest.raises(PermissionDenied):
        services.channel_create(actor=actor, name="Mine", kind="app")
    with pytest.raises(PermissionDenied):
        services.channel_rotate(actor=actor, channel=channel)
    with pytest.raises(PermissionDenied):
        services.channel_update(
            actor=actor, channel=channel, is_active=False, rate_per_minute=1, customer_rate_per_minute=1
        )
    assert snapshot() == before


def test_a_superuser_manages_channels_too(superuser):
    channel, _secret = services.channel_create(actor=superuser, name="Core", kind="core")
    services.channel_rotate(actor=superuser, channel=channel)
    assert [e.actor for e in channel_audit()] == [superuser, superuser]


def test_the_server_operator_creates_without_an_actor(tree):
    channel, secret = services.channel_create(actor=None, name="Core", kind="core")
    assert channel.created_by is None and ApiChannel.objects.get(pk=channel.pk).secret == secret
    [entry] = channel_audit()
    assert entry.actor is None and entry.branch == tree.ho and entry.reason == "manage.py channel_create"


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_valid_for_the_grace_period(personas, app, settings):
    settings.CAMPAIGNS_SECRET_GRACE_HOURS = 6
    channel, first = app
    before = timezone.now()
    second = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    after = timezone.now()
    assert HEX64.match(second) and second != first
    stored = ApiChannel.objects.get(pk=channel.pk)
    assert stored.secret == second and stored.previous_secret == first
    assert before + dt.timedelta(hours=6) <= stored.previous_valid_until <= after + dt.timedelta(hours=6)
    assert before <= stored.rotated_at <= after
    assert stored.key_id == channel.key_id  # the key id stays: only the secret changes
    assert channel.secret == second  # the caller's object is refreshed
    assert channel_audit()[-1].action == "channel.rotate"


def test_rotating_again_ends_the_first_secrets_grace(personas, app):
    channel, first = app
    second = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    third = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    stored = ApiChannel.objects.get(pk=channel.pk)
    assert (stored.secret, stored.previous_secret) == (third, second)
    assert first not in {stored.secret, stored.previous_secret}


def test_an_update_switches_the_channel_and_sets_its_rates_and_records_what_changed(personas, app):
    channel, _secret = app
    services.channel_update(
        actor=personas.ho_admin, channel=channel, is_active=False, rate_per_minute=300, customer_rate_per_minute=120
    )
    stored = ApiChannel.objects.get(pk=channel.pk)
    assert (stored.is_active, stored.rate_per_minute, stored.customer_rate_per_minute) == (False, 300, 120)
    entry = channel_audit()[-1]
    assert entry.action == "channel.update"
    assert entry.changes == {"is_active": [True, False], "rate_per_minute": [60_000, 300]}


def test_an_update_that_changes_nothing_records_nothing(personas, app):
    channel, _secret = app
    before = snapshot()
    services.channel_update(
        actor=personas.ho_admin, channel=channel, is_active=True, rate_per_minute=60_000, customer_rate_per_minute=120
    )
    assert snapshot() == before


def test_a_refused_update_leaves_the_channel_as_it_was(personas, app):
    channel, _secret = app
    before = snapshot()
    with pytest.raises(ValidationError):
        services.channel_update(
            actor=personas.ho_admin, channel=channel, is_active=False, rate_per_minute=0, customer_rate_per_minute=5
        )
    assert snapshot() == before
    assert channel.is_active and channel.rate_per_minute == 60_000


def test_no_audit_entry_ever_holds_a_secret(personas, app):
    channel, first = app
    second = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    services.channel_update(
        actor=personas.ho_admin, channel=channel, is_active=False, rate_per_minute=5, customer_rate_per_minute=5
    )
    entries = channel_audit()
    assert [e.action for e in entries] == ["channel.create", "channel.rotate", "channel.update"]
    written = json.dumps([[e.changes, e.reason, e.object_repr] for e in entries])
    assert first not in written and second not in written


def test_each_change_tells_the_api_processes_once_committed(personas, django_capture_on_commit_callbacks):
    start = channels_version()
    with django_capture_on_commit_callbacks(execute=False) as pending:
        channel, _secret = services.channel_create(actor=personas.ho_admin, name="App", kind="app")
    assert channels_version() == start  # nothing before the commit
    with django_capture_on_commit_callbacks(execute=True):
        services.channel_rotate(actor=personas.ho_admin, channel=channel)
        services.channel_update(
            actor=personas.ho_admin, channel=channel, is_active=False, rate_per_minute=5, customer_rate_per_minute=5
        )
    assert pending == [counters.channels_changed]
    assert channels_version() == start + 2


def test_a_refused_change_tells_nobody(personas, app, django_capture_on_commit_callbacks):
    channel, _secret = app
    with django_capture_on_commit_callbacks() as pending:
        with pytest.raises(ValidationError):
            services.channel_create(actor=personas.ho_admin, name="Mobile app", kind="app")
        with pytest.raises(PermissionDenied):
            services.channel_rotate(actor=personas.operator, channel=channel)
        services.channel_update(
            actor=personas.ho_admin, channel=channel, is_active=True, rate_per_minute=60_000, customer_rate_per_minute=120
        )
    assert pending == []


# --- list ----------------------------------------------------------------------------------------


@pytest.fixture
def several(personas):
    made = {}
    for name, kind in [("App iOS", "app"), ("App Android", "app"), ("SMS gateway", "sms"), ("WeChat", "wechat"), ("Core", "core")]:
        made[name], _secret = services.channel_create(actor=personas.ho_admin, name=name, kind=kind)
    services.channel_update(
        actor=personas.ho_admin, channel=made["App Android"], is_active=False, rate_per_minute=10, customer_rate_per_minute=10
    )
    return made


def test_head_office_lists_every_channel_by_name_without_secrets(login, personas, several):
    response = login(personas.ho_admin).get(reverse("campaigns:channel_list"))
    assert response.status_code == 200
    assert names_on(response) == ["App Android", "App iOS", "Core", "SMS gateway", "WeChat"]
    page = response.content.decode()
    for channel in several.values():
        assert channel.key_id in page and channel.secret not in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind": "app"}, ["App Android", "App iOS"]),
        ({"active": "no"}, ["App Android"]),
        ({"active": "yes", "kind": "app"}, ["App iOS"]),
        ({"q": "gate"}, ["SMS gateway"]),
        ({"q": "nothing like it"}, []),
    ],
)
def test_the_list_filters_by_kind_status_and_name(login, personas, several, query, expected):
    assert names_on(login(personas.ho_admin).get(reverse("campaigns:channel_list"), query)) == expected


def test_the_list_searches_by_key_id(login, personas, several):
    key_id = several["Core"].key_id
    assert names_on(login(personas.ho_admin).get(reverse("campaigns:channel_list"), {"q": key_id})) == ["Core"]


def test_a_bad_filter_is_reported_and_ignored(login, personas, several):
    response = login(personas.ho_admin).get(reverse("campaigns:channel_list"), {"kind": "fax"})
    assert response.context["filter"].errors and "Some filters are not valid" in response.content.decode()


def test_the_list_pages_by_25_and_htmx_gets_only_the_table(login, personas):
    for i in range(30):
        services.channel_create(actor=personas.ho_admin, name=f"Channel {i:02d}", kind="app")
    client = login(personas.ho_admin)
    first = client.get(reverse("campaigns:channel_list"))
    second = client.get(reverse("campaigns:channel_list"), {"page": 2}, **HTMX)
    assert len(first.context["page_obj"]) == 25 and len(second.context["page_obj"]) == 5
    assert set(names_on(first)).isdisjoint(names_on(second))
    assert "Page 1 of 2" in first.content.decode()
    fragment = second.content.decode()
    assert fragment.startswith('<div id="channel-table">') and 'id="main-nav"' not in fragment


def test_the_lists_query_count_does_not_grow_with_its_rows(login, personas):
    client = login(personas.ho_admin)
    services.channel_create(actor=personas.ho_admin, name="One", kind="app")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("campaigns:channel_list")).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(8):
        services.channel_create(actor=personas.ho_admin, name=f"More {i}", kind="sms")
    assert queries() == few


@pytest.mark.parametrize("persona", ["branch_admin", "operator", "reviewer", "analyst"])
def test_branch_roles_get_403_on_every_channel_page(login, personas, app, persona):
    channel, _secret = app
    client = login(getattr(personas, persona))
    before = snapshot()
    assert client.get(reverse("campaigns:channel_list")).status_code == 403
    assert client.get(reverse("campaigns:channel_create")).status_code == 403
    assert client.post(reverse("campaigns:channel_create"), {"name": "Mine", "kind": "app", "rate_per_minute": 1, "customer_rate_per_minute": 1}).status_code == 403
    assert client.get(reverse("campaigns:channel_detail", args=[channel.pk])).status_code == 403
    assert client.post(reverse("campaigns:channel_detail", args=[channel.pk]), {"rate_per_minute": 1, "customer_rate_per_minute": 1}).status_code == 403
    assert client.post(reverse("campaigns:channel_rotate", args=[channel.pk]), {"confirm": "on"}).status_code == 403
    assert snapshot() == before


def test_the_pages_need_a_login(client, app):
    channel, _secret = app
    for url in (reverse("campaigns:channel_list"), reverse("campaigns:channel_detail", args=[channel.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_nav_offers_channels_to_head_office_only(login, personas):
    assert 'id="nav-channels"' in login(personas.ho_admin).get(reverse("dashboard")).content.decode()
    assert 'id="nav-channels"' not in login(personas.branch_admin).get(reverse("dashboard")).content.decode()


def test_the_list_answers_405_to_a_post(login, personas):
    assert login(personas.ho_admin).post(reverse("campaigns:channel_list")).status_code == 405


# --- create ----------------------------------------------------------------------------------------


def test_a_new_channel_shows_its_key_id_and_secret_once_and_never_cached(login, personas):
    client = login(personas.ho_admin)
    form = client.get(reverse("campaigns:channel_create"))
    assert form.status_code == 200 and form.context["form"]["rate_per_minute"].value() == 60_000
    response = client.post(
        reverse("campaigns:channel_create"),
        {"name": "WeChat backend", "kind": "wechat", "rate_per_minute": 900, "customer_rate_per_minute": 30},
    )
    assert response.status_code == 200
    channel = ApiChannel.objects.get()
    assert (channel.name, channel.kind, channel.rate_per_minute, channel.customer_rate_per_minute) == ("WeChat backend", "wechat", 900, 30)
    page = response.content.decode()
    assert channel.key_id in page and channel.secret in page and "shown only this once" in page
    assert "no-store" in response["Cache-Control"]
    assert channel.created_by == personas.ho_admin

    detail = client.get(reverse("campaigns:channel_detail", args=[channel.pk]))
    assert channel.key_id in detail.content.decode() and channel.secret not in detail.content.decode()


def test_a_duplicate_name_is_shown_on_the_form_and_creates_nothing(login, personas, app):
    before = snapshot()
    response = login(personas.ho_admin).post(
        reverse("campaigns:channel_create"),
        {"name": "Mobile app", "kind": "sms", "rate_per_minute": 5, "customer_rate_per_minute": 5},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["A channel named “Mobile app” already exists."]}
    assert snapshot() == before


def test_a_rate_below_one_is_a_form_error(login, personas):
    response = login(personas.ho_admin).post(
        reverse("campaigns:channel_create"), {"name": "SMS", "kind": "sms", "rate_per_minute": 0, "customer_rate_per_minute": 5}
    )
    assert "rate_per_minute" in response.context["form"].errors and not ApiChannel.objects.exists()


def test_the_create_page_answers_405_to_a_put(login, personas):
    assert login(personas.ho_admin).put(reverse("campaigns:channel_create")).status_code == 405


# --- detail and edit -------------------------------------------------------------------------------


def test_the_channel_page_shows_its_facts_and_how_to_sign_but_never_the_secret(login, personas, app):
    channel, secret = app
    response = login(personas.ho_admin).get(reverse("campaigns:channel_detail", args=[channel.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert channel.key_id in page and secret not in page
    for header in ("X-Channel-Key", "X-Timestamp", "X-Signature", "Idempotency-Key"):
        assert header in page
    assert "HMAC-SHA256" in page


def test_the_channel_page_shows_until_when_the_previous_secret_works(login, personas, app):
    channel, first = app
    second = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    page = login(personas.ho_admin).get(reverse("campaigns:channel_detail", args=[channel.pk])).content.decode()
    assert 'id="previous-valid-until"' in page and first not in page and second not in page
    ApiChannel.objects.filter(pk=channel.pk).update(previous_valid_until=timezone.now() - dt.timedelta(minutes=1))
    page = login(personas.ho_admin).get(reverse("campaigns:channel_detail", args=[channel.pk])).content.decode()
    assert 'id="previous-valid-until"' not in page


def test_head_office_switches_a_channel_off_and_changes_its_rates(login, personas, app):
    channel, _secret = app
    client = login(personas.ho_admin)
    response = client.post(
        reverse("campaigns:channel_detail", args=[channel.pk]), {"rate_per_minute": 100, "customer_rate_per_minute": 7}
    )
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:channel_detail", args=[channel.pk])
    channel.refresh_from_db()
    assert (channel.is_active, channel.rate_per_minute, channel.customer_rate_per_minute) == (False, 100, 7)
    assert "Inactive" in client.get(response["Location"]).content.decode()


def test_a_bad_rate_on_the_channel_page_is_a_form_error_and_changes_nothing(login, personas, app):
    channel, _secret = app
    before = snapshot()
    response = login(personas.ho_admin).post(
        reverse("campaigns:channel_detail", args=[channel.pk]),
        {"is_active": "on", "rate_per_minute": "lots", "customer_rate_per_minute": 7},
    )
    assert response.status_code == 200 and "rate_per_minute" in response.context["form"].errors
    assert snapshot() == before


def test_an_unknown_channel_is_404(login, personas, app):
    channel, _secret = app
    client = login(personas.ho_admin)
    missing = channel.pk + 1000
    assert client.get(reverse("campaigns:channel_detail", args=[missing])).status_code == 404
    assert client.post(reverse("campaigns:channel_detail", args=[missing]), {"rate_per_minute": 1, "customer_rate_per_minute": 1}).status_code == 404
    assert client.post(reverse("campaigns:channel_rotate", args=[missing]), {"confirm": "on"}).status_code == 404


def test_the_channel_page_answers_405_to_a_delete(login, personas, app):
    channel, _secret = app
    assert login(personas.ho_admin).delete(reverse("campaigns:channel_detail", args=[channel.pk])).status_code == 405


# --- rotate ---------------------------------------------------------------------------------------


def test_a_confirmed_rotation_shows_the_new_secret_once_and_never_cached(login, personas, app):
    channel, first = app
    response = login(personas.ho_admin).post(reverse("campaigns:channel_rotate", args=[channel.pk]), {"confirm": "on"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    channel.refresh_from_db()
    assert channel.secret != first and channel.previous_secret == first
    page = response.content.decode()
    assert channel.secret in page and first not in page and 'id="previous-valid-until"' in page


def test_an_unconfirmed_rotation_changes_nothing_and_asks_again(login, personas, app):
    channel, first = app
    before = snapshot()
    response = login(personas.ho_admin).post(reverse("campaigns:channel_rotate", args=[channel.pk]))
    assert response.status_code == 200 and "confirm" in response.context["rotate_form"].errors
    assert "Tick the box to confirm the rotation." in response.content.decode()
    assert snapshot() == before and first not in response.content.decode()


def test_rotation_is_post_only(login, personas, app):
    channel, _secret = app
    before = snapshot()
    assert login(personas.ho_admin).get(reverse("campaigns:channel_rotate", args=[channel.pk])).status_code == 405
    assert snapshot() == before


# --- manage.py channel_create ------------------------------------------------------------------------


@pytest.fixture
def run_command(monkeypatch, capsys):
    """``manage.py channel_create …`` in this process (its test database), exit code and all."""
    # The command closes every connection when it ends; the test's transaction must stay open.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def run(*argv):
        code = 0
        try:
            execute_from_command_line(["manage.py", "channel_create", *argv])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_command_prints_the_key_id_and_the_secret(tree, run_command):
    code, out, _err = run_command("Core banking", "--kind", "core", "--rate", "3000", "--customer-rate", "50")
    assert code == 0
    channel = ApiChannel.objects.get()
    assert f"key id: {channel.key_id}\n" in out and f"secret: {channel.secret}\n" in out
    assert (channel.name, channel.kind, channel.rate_per_minute, channel.customer_rate_per_minute) == ("Core banking", "core", 3000, 50)
    assert channel.created_by is None


def test_the_command_refuses_a_duplicate_name_with_exit_code_1(tree, run_command):
    assert run_command("Core banking")[0] == 0
    before = snapshot()
    code, out, err = run_command("Core banking", "--kind", "sms")
    assert code == 1 and "already exists" in err and "secret" not in out
    assert snapshot() == before


def test_the_command_refuses_a_rate_below_one(tree, run_command):
    code, _out, err = run_command("SMS", "--rate", "0")
    assert code == 2 and "--rate" in err and not ApiChannel.objects.exists()


# --- admin ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["apichannel", "apirequest", "activity", "award", "draw", "invite", "referral", "taskprogress", "businessevent"]
)
def test_the_runtime_has_read_only_admin_pages_for_superusers(client, superuser, personas, model):
    client.force_login(superuser)
    assert client.get(reverse(f"admin:campaigns_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:campaigns_{model}_add")).status_code == 403
    client.force_login(personas.ho_admin)
    assert client.get(reverse(f"admin:campaigns_{model}_changelist")).status_code == 302


def test_the_channel_admin_pages_never_show_a_secret(client, superuser, personas, app):
    channel, first = app
    second = services.channel_rotate(actor=personas.ho_admin, channel=channel)
    client.force_login(superuser)
    for url in (reverse("admin:campaigns_apichannel_changelist"), reverse("admin:campaigns_apichannel_change", args=[channel.pk])):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200 and channel.key_id in page
        assert first not in page and second not in page
