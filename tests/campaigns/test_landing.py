"""Ordering by drag and drop (reward slots, task-chain tasks, landing page blocks) and the
phone-sized landing page preview per channel: services, then views, per role and scope."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from campaigns import kinds
from campaigns.kinds.base import LANDING_BLOCKS
from campaigns.models import Campaign, CampaignStatus, Material, MaterialKind
from campaigns.selectors import landing as selectors
from campaigns.services import landing as services

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ALL = ["event", "lottery", "flash_sale", "referral", "task_chain"]
CHANNELS = ["app", "sms", "wechat"]


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def slot_ids(campaign):
    return list(campaign.slots.order_by("position", "pk").values_list("pk", flat=True))


def audit_actions(campaign):
    return list(
        AuditEntry.objects.filter(object_type="campaigns.campaign", object_id=str(campaign.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


def stored(campaign):
    campaign = Campaign.objects.get(pk=campaign.pk)
    return (campaign.landing_blocks, campaign.kind_settings, slot_ids(campaign), campaign.has_unapproved_changes)


def blocks_in(html):
    """The landing page blocks the phone shows, in order."""
    return re.findall(r'<section class="h5-block[^"]*" data-block="(\w+)"', html)


def url(name, campaign, *args):
    return reverse(f"campaigns:{name}", args=[campaign.code, *args])


# --- services: reward slots ---------------------------------------------------------------------


def test_slot_order_set_puts_the_slots_in_the_given_order_and_audits_it(campaign, personas):
    ids = slot_ids(campaign)
    wanted = [ids[2], ids[0], *ids[3:], ids[1]]
    services.slot_order_set(actor=personas.operator, campaign=campaign, slot_ids=wanted)
    assert slot_ids(campaign) == wanted
    assert list(campaign.slots.order_by("position").values_list("position", flat=True)) == list(range(len(ids)))
    assert audit_actions(campaign)[-1] == "campaign.slot_order"


def test_the_same_order_again_changes_and_audits_nothing(campaign, personas):
    services.slot_order_set(actor=personas.operator, campaign=campaign, slot_ids=slot_ids(campaign))
    assert audit_actions(campaign) == ["campaign.generate"]


@pytest.mark.parametrize("tamper", ["missing", "extra", "duplicate", "foreign"])
def test_a_slot_order_that_is_not_exactly_the_campaigns_slots_is_refused_and_changes_nothing(
    tamper, campaign, sh_campaign, personas
):
    ids = slot_ids(campaign)
    reversed_ids = ids[::-1]
    posted = {
        "missing": reversed_ids[:-1],
        "extra": [*reversed_ids, max(ids) + 1000],
        "duplicate": [*reversed_ids[:-1], reversed_ids[0]],
        "foreign": [*reversed_ids[:-1], slot_ids(sh_campaign)[0]],
    }[tamper]
    before = stored(campaign)
    with pytest.raises(ValidationError, match="changed since this page was loaded"):
        services.slot_order_set(actor=personas.operator, campaign=campaign, slot_ids=posted)
    assert stored(campaign) == before
    assert stored(sh_campaign)[2] == slot_ids(sh_campaign)


# --- services: the editing rules apply to every order ------------------------------------------------


def _orders(campaign, personas):
    """One change of each order service on ``campaign``, each changing something when run in turn."""
    return [
        lambda: services.slot_order_set(actor=personas.operator, campaign=campaign, slot_ids=slot_ids(campaign)[::-1]),
        lambda: services.landing_blocks_set(actor=personas.operator, campaign=campaign, blocks=["cta", "banner"]),
        lambda: services.landing_block_move(actor=personas.operator, campaign=campaign, block="banner", direction="up"),
        lambda: services.landing_block_show(actor=personas.operator, campaign=campaign, block="rules", visible=True),
    ]


@pytest.mark.parametrize("status", [CampaignStatus.PENDING_REVIEW, CampaignStatus.ENDED])
def test_orders_are_refused_while_pending_review_and_after_the_end(status, campaign, personas, set_status):
    set_status(campaign, status)
    before = stored(campaign)
    for change in _orders(campaign, personas):
        with pytest.raises(ValidationError) as refused:
            change()
        assert refused.value.code == "not_editable"
    assert stored(campaign) == before


def test_orders_of_an_archived_campaign_are_refused(campaign, personas, set_status):
    set_status(campaign, CampaignStatus.DRAFT, is_archived=True)
    with pytest.raises(ValidationError, match="archived"):
        _orders(campaign, personas)[0]()


@pytest.mark.parametrize("status", [CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED])
def test_reordering_an_approved_campaign_marks_it_for_approval_again(status, campaign, personas, set_status):
    for change in _orders(campaign, personas):
        set_status(campaign, status, has_unapproved_changes=False)
        change()
        assert Campaign.objects.get(pk=campaign.pk).has_unapproved_changes


def test_orders_need_the_edit_verb_in_scope(campaign, personas):
    before = stored(campaign)
    for actor in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.slot_order_set(actor=actor, campaign=campaign, slot_ids=slot_ids(campaign)[::-1])
        with pytest.raises(PermissionDenied):
            services.landing_blocks_set(actor=actor, campaign=campaign, blocks=["cta"])
    assert stored(campaign) == before


# --- services: task-chain tasks ------------------------------------------------------------------


def test_task_order_set_reorders_the_tasks_and_leaves_step_rewards_at_their_steps(make_campaign, personas, prizes):
    chain = make_campaign("task_chain")
    tasks = chain.kind_settings["tasks"]
    steps = list(chain.slots.values_list("options", flat=True))
    services.task_order_set(actor=personas.operator, campaign=chain, order=[2, 0, 1])
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[2], tasks[0], tasks[1]]
    assert chain.kind_settings["order"] == "in_order"
    assert list(chain.slots.values_list("options", flat=True)) == steps
    assert audit_actions(chain)[-1] == "campaign.task_order"


@pytest.mark.parametrize("order", [[0, 1], [0, 1, 2, 3], [0, 0, 1], [2, 1, -1], []])
def test_a_task_order_that_is_not_a_reordering_of_the_tasks_is_refused(order, make_campaign, personas):
    chain = make_campaign("task_chain")
    before = stored(chain)
    with pytest.raises(ValidationError, match="changed since this page was loaded"):
        services.task_order_set(actor=personas.operator, campaign=chain, order=order)
    assert stored(chain) == before


def test_a_campaign_without_tasks_has_no_task_order(campaign, personas):
    with pytest.raises(ValidationError, match="no tasks"):
        services.task_order_set(actor=personas.operator, campaign=campaign, order=[])


def test_task_order_follows_the_editing_rules(make_campaign, personas, set_status):
    chain = make_campaign("task_chain")
    set_status(chain, CampaignStatus.PENDING_REVIEW)
    with pytest.raises(ValidationError):
        services.task_order_set(actor=personas.operator, campaign=chain, order=[1, 0, 2])
    set_status(chain, CampaignStatus.LIVE)
    services.task_order_set(actor=personas.operator, campaign=chain, order=[1, 0, 2])
    assert Campaign.objects.get(pk=chain.pk).has_unapproved_changes
    with pytest.raises(PermissionDenied):
        services.task_order_set(actor=personas.analyst, campaign=chain, order=[0, 1, 2])


# --- services: landing page blocks ---------------------------------------------------------------


def test_landing_blocks_are_reordered_hidden_and_shown_again(campaign, personas):
    actor = personas.operator
    services.landing_blocks_set(
        actor=actor, campaign=campaign, blocks=["prizes", "banner", "rules", "countdown", "cta"], reorder_only=True
    )
    assert Campaign.objects.get(pk=campaign.pk).landing_blocks == ["prizes", "banner", "rules", "countdown", "cta"]
    services.landing_block_move(actor=actor, campaign=campaign, block="cta", direction="up")
    services.landing_block_move(actor=actor, campaign=campaign, block="prizes", direction="up")  # at the top: stays
    services.landing_block_show(actor=actor, campaign=campaign, block="rules", visible=False)
    campaign.refresh_from_db()
    assert campaign.landing_blocks == ["prizes", "banner", "cta", "countdown"]
    assert selectors.hidden_blocks(campaign) == ["rules"]
    services.landing_block_show(actor=actor, campaign=campaign, block="rules", visible=True)
    campaign.refresh_from_db()
    assert campaign.landing_blocks == ["prizes", "banner", "cta", "countdown", "rules"]
    assert audit_actions(campaign).count("campaign.landing_blocks") == 4  # the move at the top changed nothing


@pytest.mark.parametrize(
    "blocks, message",
    [
        (["banner", "video"], "not a list of the landing page"),
        (["banner", "banner"], "not a list of the landing page"),
        ([], "at least one block"),
    ],
)
def test_unknown_repeated_or_no_blocks_are_refused(blocks, message, campaign, personas):
    before = stored(campaign)
    with pytest.raises(ValidationError, match=message):
        services.landing_blocks_set(actor=personas.operator, campaign=campaign, blocks=blocks)
    assert stored(campaign) == before


def test_a_drop_must_reorder_exactly_the_shown_blocks(campaign, personas):
    services.landing_block_show(actor=personas.operator, campaign=campaign, block="rules", visible=False)
    before = stored(campaign)
    with pytest.raises(ValidationError, match="changed since this page was loaded"):
        services.landing_blocks_set(
            actor=personas.operator, campaign=campaign, blocks=list(LANDING_BLOCKS)[::-1], reorder_only=True
        )
    assert stored(campaign) == before


def test_the_last_shown_block_cannot_be_hidden_and_unknown_blocks_cannot_be_moved(campaign, personas):
    services.landing_blocks_set(actor=personas.operator, campaign=campaign, blocks=["cta"])
    with pytest.raises(ValidationError, match="at least one block"):
        services.landing_block_show(actor=personas.operator, campaign=campaign, block="cta", visible=False)
    with pytest.raises(ValidationError):
        services.landing_block_move(actor=personas.operator, campaign=campaign, block="rules", direction="up")
    with pytest.raises(ValidationError):
        services.landing_block_show(actor=personas.operator, campaign=campaign, block="video", visible=True)


def test_a_campaign_that_never_set_its_blocks_shows_them_all_and_unknown_names_are_ignored(campaign):
    campaign.landing_blocks = []
    assert selectors.visible_blocks(campaign) == list(LANDING_BLOCKS)
    campaign.landing_blocks = ["cta", "video", "cta", "rules"]
    assert selectors.visible_blocks(campaign) == ["cta", "rules"]
    assert selectors.hidden_blocks(campaign) == ["banner", "prizes", "countdown"]


# --- selectors: countdown, wheel, grid -----------------------------------------------------------------


def test_the_countdown_counts_to_the_start_then_to_the_end(campaign):
    starts = campaign.starts_at
    before = selectors.countdown(campaign, now=starts - dt.timedelta(days=2, hours=3, minutes=4, seconds=5))
    assert (before.phase, before.days, before.hours, before.minutes, before.seconds) == ("before", 2, 3, 4, 5)
    running = selectors.countdown(campaign, now=campaign.ends_at - dt.timedelta(seconds=61))
    assert (running.phase, running.days, running.minutes, running.seconds) == ("running", 0, 1, 1)
    ended = selectors.countdown(campaign, now=campaign.ends_at)
    assert (ended.phase, ended.days, ended.seconds) == ("ended", 0, 0)


def test_the_wheel_has_a_sector_per_slot_in_slot_order_and_the_grid_goes_clockwise(campaign):
    rows = selectors.prize_rows(campaign, kinds.get("lottery"))
    assert [row.pk for row in rows] == slot_ids(campaign)
    wheel = selectors.wheel(rows)
    step = 360 / len(rows)
    assert [s.angle for s in wheel["sectors"]] == [round((i + 0.5) * step, 2) for i in range(len(rows))]
    assert wheel["gradient"].startswith("conic-gradient(") and wheel["gradient"].count("deg") == 2 * len(rows)
    cells = selectors.grid(rows)
    assert len(cells) == 9 and cells[4].row is None
    clockwise = sorted((c for c in cells if c.row), key=lambda c: c.ring)
    assert [c.row.pk for c in clockwise] == [rows[i % len(rows)].pk for i in range(8)]
    assert [cells[i].ring for i in (0, 1, 2, 5, 8, 7, 6, 3)] == list(range(8))


# --- views: the preview ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_preview_renders_every_kind_on_every_channel_with_the_blocks_in_order(
    kind, channel, login, personas, make_campaign, prizes
):
    campaign = make_campaign(kind, landing_blocks=["cta", "prizes", "countdown", "banner"])
    response = login(personas.analyst).get(url("campaign_preview", campaign, channel))
    assert response.status_code == 200
    html = response.content.decode()
    assert blocks_in(html) == ["cta", "prizes", "countdown", "banner"]  # rules hidden: not shown
    assert f'data-channel="{channel}"' in html
    for slot in campaign.slots.all():
        assert slot.label in html
    assert 'id="message-text"' in html


def test_the_sms_preview_shows_the_rendered_message_and_its_length(login, personas, campaign):
    campaign.channels.filter(channel="sms").update(template="{name}, {campaign}: {link}")
    html = login(personas.operator).get(url("campaign_preview", campaign, "sms")).content.decode()
    assert f"张伟, {campaign.name}: https://m.bank.example/c/{campaign.code}" in html
    assert re.search(r"\d+ characters \(UCS-2\): sent as \d+ messages?\.", html)
    assert campaign.code in html[html.index('id="phone-bar"'):]  # the browser's address bar


def test_the_app_and_wechat_previews_show_the_message_card_with_its_material(login, personas, campaign, tree):
    poster = Material.objects.create(
        owner_branch=tree.bj, kind=MaterialKind.POSTER, name="Autumn poster", file="materials/autumn.png",
        created_by=personas.operator,
    )
    campaign.channels.exclude(channel="sms").update(material=poster)
    Campaign.objects.filter(pk=campaign.pk).update(banner=poster)
    client = login(personas.operator)
    for channel in ("app", "wechat"):
        html = client.get(url("campaign_preview", campaign, channel)).content.decode()
        assert re.search(r'<img[^>]+src="/media/materials/autumn.png"[^>]+id="message-image"', html)
        assert re.search(r'<img src="/media/materials/autumn.png" alt="Autumn poster"[^>]+id="preview-banner"', html)


def test_a_disabled_channel_or_a_broken_template_is_explained(login, personas, campaign):
    campaign.channels.filter(channel="wechat").update(enabled=False, template="Hi {nme}")
    html = login(personas.operator).get(url("campaign_preview", campaign, "wechat")).content.decode()
    assert 'id="channel-off"' in html
    assert "Unknown placeholder: {nme}" in html


def test_the_lottery_preview_draws_a_wheel_or_a_grid_in_slot_order(login, personas, campaign):
    client = login(personas.operator)
    html = client.get(url("campaign_preview", campaign, "app")).content.decode()
    wheel = html[html.index('id="preview-wheel"'):html.index('id="preview-prizes"')]
    assert [int(pk) for pk in re.findall(r'data-slot="(\d+)"', wheel)] == slot_ids(campaign)
    assert "conic-gradient(" in wheel
    Campaign.objects.filter(pk=campaign.pk).update(kind_settings={**campaign.kind_settings, "display": "grid"})
    html = client.get(url("campaign_preview", campaign, "app")).content.decode()
    assert 'id="preview-grid"' in html and 'id="preview-wheel"' not in html
    assert "chance" in html  # the odds are shown beside the prizes


def test_the_countdown_block_shows_the_phase_and_the_time_left(login, personas, make_campaign, prizes):
    now = timezone.now()
    campaign = make_campaign("event", starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=3, hours=2))
    html = login(personas.operator).get(url("campaign_preview", campaign, "app")).content.decode()
    box = html[html.index('id="preview-countdown"'):]
    assert re.search(r'<span data-phase="running">Ends in</span>', box)
    assert re.search(r'<b data-unit="days">3</b>', box)
    assert "data-starts-at=" in box and "data-now=" in box
    assert 'src="/static/js/countdown.js"' in html


def test_the_preview_is_linked_from_the_detail_page_for_everyone_in_scope(login, personas, campaign):
    html = login(personas.analyst).get(url("campaign_detail", campaign)).content.decode()
    assert url("campaign_preview", campaign, "app") in html


def test_the_preview_is_404_out_of_scope_or_for_an_unknown_channel_and_405_for_post(login, personas, campaign):
    assert login(personas.outsider).get(url("campaign_preview", campaign, "app")).status_code == 404
    assert login(personas.operator).get(url("campaign_preview", campaign, "fax")).status_code == 404
    assert login(personas.operator).post(url("campaign_preview", campaign, "app")).status_code == 405


def test_analysts_see_the_blocks_but_no_controls_and_makers_get_the_sortable_list(login, personas, campaign):
    html = login(personas.analyst).get(url("campaign_preview", campaign, "app")).content.decode()
    assert 'id="landing-blocks-shown"' in html and "data-sortable" not in html and 'name="move"' not in html
    html = login(personas.operator).get(url("campaign_preview", campaign, "app")).content.decode()
    assert 'data-sortable' in html and 'id="block-rules-up"' in html and 'aria-label="Drag “Rules” to move it"' in html


# --- views: landing page blocks -----------------------------------------------------------------------


def test_a_drop_saves_the_blocks_and_answers_the_list_and_the_phone(login, personas, campaign):
    order = ["countdown", "banner", "rules", "prizes", "cta"]
    response = login(personas.operator).post(
        url("landing_blocks", campaign), {"block": order, "channel": "sms"}, **HTMX
    )
    assert response.status_code == 200
    assert Campaign.objects.get(pk=campaign.pk).landing_blocks == order
    html = response.content.decode()
    assert html.index('id="landing-blocks"') < html.index('id="preview-phone"')
    assert 'hx-swap-oob="true"' in html and blocks_in(html) == order
    assert 'data-channel="sms"' in html and "Saved." in html


def test_the_block_buttons_work_without_javascript(login, personas, campaign):
    client = login(personas.operator)
    response = client.post(url("landing_blocks", campaign), {"move": "cta:up", "channel": "wechat"})
    assert response.status_code == 302
    assert response["Location"] == url("campaign_preview", campaign, "wechat") + "#landing-blocks"
    client.post(url("landing_blocks", campaign), {"hide": "banner"})
    assert Campaign.objects.get(pk=campaign.pk).landing_blocks == ["rules", "prizes", "cta", "countdown"]
    client.post(url("landing_blocks", campaign), {"show": "banner"})
    assert Campaign.objects.get(pk=campaign.pk).landing_blocks == ["rules", "prizes", "cta", "countdown", "banner"]


def test_a_refused_drop_answers_422_with_the_stored_order(login, personas, campaign, set_status):
    client = login(personas.operator)
    response = client.post(url("landing_blocks", campaign), {"block": ["cta", "video"]}, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="landing-blocks-error"' in html and blocks_in(html) == list(LANDING_BLOCKS)
    set_status(campaign, CampaignStatus.PENDING_REVIEW)
    response = client.post(url("landing_blocks", campaign), {"block": list(LANDING_BLOCKS)[::-1]}, **HTMX)
    assert response.status_code == 422 and "Withdraw it from review" in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).landing_blocks == list(LANDING_BLOCKS)


# --- views: reward slots ------------------------------------------------------------------------------


def test_a_slot_drop_saves_the_order_and_answers_the_table(login, personas, campaign):
    wanted = slot_ids(campaign)[::-1]
    response = login(personas.operator).post(url("slot_order", campaign), {"slot": wanted}, **HTMX)
    assert response.status_code == 200
    assert slot_ids(campaign) == wanted
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="slot-table">')
    assert [int(pk) for pk in re.findall(r'<tr data-slot="(\d+)"', html)] == wanted


def test_a_tampered_slot_drop_answers_422_and_changes_nothing(login, personas, campaign, sh_campaign):
    ids = slot_ids(campaign)
    before = stored(campaign)
    client = login(personas.operator)
    for posted in ([*ids[1:], slot_ids(sh_campaign)[0]], ["x", *ids[1:]], ids[1:]):
        response = client.post(url("slot_order", campaign), {"slot": posted}, **HTMX)
        assert response.status_code == 422
        html = response.content.decode()
        assert 'id="slot-order-error"' in html
        assert [int(pk) for pk in re.findall(r'<tr data-slot="(\d+)"', html)] == ids
    assert stored(campaign) == before


def test_the_slot_arrows_move_in_place_with_htmx_and_redirect_without(login, personas, campaign, sh_campaign):
    first, second = slot_ids(campaign)[:2]
    client = login(personas.operator)
    response = client.post(url("slot_order", campaign), {"move": first, "direction": "down"}, **HTMX)
    assert response.status_code == 200 and slot_ids(campaign)[:2] == [second, first]
    response = client.post(url("slot_order", campaign), {"move": first, "direction": "up"})
    assert response.status_code == 302 and response["Location"] == url("campaign_edit", campaign, "rewards")
    assert slot_ids(campaign)[:2] == [first, second]
    theirs = slot_ids(sh_campaign)[0]
    assert client.post(url("slot_order", campaign), {"move": theirs, "direction": "up"}, **HTMX).status_code == 404


def test_the_rewards_tab_offers_drag_handles_and_in_place_arrows(login, personas, campaign):
    html = login(personas.operator).get(url("campaign_edit", campaign, "rewards")).content.decode()
    assert 'id="slot-rows" data-sortable' in html and "data-sortable-handle" in html
    assert f'hx-post="{url("slot_order", campaign)}"' in html
    assert f'action="{reverse("campaigns:slot_move", args=[campaign.code, slot_ids(campaign)[0]])}"' in html
    assert 'src="/static/js/sortable-lists.js"' in html and "vendor/sortablejs/Sortable.min.js" in html


def test_the_detail_page_slot_table_is_not_sortable(login, personas, campaign):
    html = login(personas.operator).get(url("campaign_detail", campaign)).content.decode()
    assert 'id="campaign-slots"' in html and "data-sortable" not in html


# --- views: task-chain tasks --------------------------------------------------------------------------


def test_a_task_drop_saves_the_order_and_keeps_unsaved_edits_in_the_rows(login, personas, make_campaign):
    chain = make_campaign("task_chain")
    tasks = chain.kind_settings["tasks"]
    form = {
        "order": "in_order", "task_order": ["2", "0", "1"],
        "task_0_event": "login", "task_0_count": "7",  # edited, not saved
        "task_1_event": "fund_purchase", "task_1_count": "1", "task_1_amount": "1000.00",
        "task_2_event": "card_spend", "task_2_count": "5",
    }
    response = login(personas.operator).post(url("task_order", chain), form, **HTMX)
    assert response.status_code == 200
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[2], tasks[0], tasks[1]]
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="task-rows-box">')
    assert re.search(r'name="task_0_event"[^>]*>.*?<option value="card_spend" selected', html, re.S)
    assert re.search(r'name="task_1_count" value="7"', html)  # the unsaved edit moved with its row


def test_the_task_arrows_work_with_and_without_javascript(login, personas, make_campaign):
    chain = make_campaign("task_chain")
    tasks = chain.kind_settings["tasks"]
    client = login(personas.operator)
    response = client.post(url("task_order", chain), {"task_order": ["0", "1", "2"], "task_move": "0:down"})
    assert response.status_code == 302 and response["Location"] == url("campaign_edit", chain, "settings")
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[1], tasks[0], tasks[2]]
    response = client.post(url("task_order", chain), {"task_order": ["0", "1", "2"], "task_move": "2:up"}, **HTMX)
    assert response.status_code == 200
    chain.refresh_from_db()
    assert chain.kind_settings["tasks"] == [tasks[1], tasks[2], tasks[0]]


def test_a_stale_task_order_answers_422_with_the_stored_rows(login, personas, make_campaign):
    chain = make_campaign("task_chain")
    before = stored(chain)
    response = login(personas.operator).post(url("task_order", chain), {"task_order": ["1", "0"]}, **HTMX)
    assert response.status_code == 422 and 'id="task-order-error"' in response.content.decode()
    assert stored(chain) == before


def test_the_settings_tab_of_a_task_chain_offers_drag_handles_and_arrow_buttons(login, personas, make_campaign):
    chain = make_campaign("task_chain")
    html = login(personas.operator).get(url("campaign_edit", chain, "settings")).content.decode()
    assert 'id="task-rows-saved" data-sortable' in html
    assert html.count('name="task_order"') == 3
    assert f'formaction="{url("task_order", chain)}"' in html and 'id="task-1-up"' in html


def test_a_campaign_without_tasks_has_no_task_order_page(login, personas, campaign):
    assert login(personas.operator).post(url("task_order", campaign), {"task_order": []}).status_code == 404


# --- views: roles, scope and methods -------------------------------------------------------------


@pytest.mark.parametrize("name", ["landing_blocks", "slot_order", "task_order"])
def test_order_views_are_403_for_analysts_404_for_outsiders_and_405_for_get(name, login, personas, make_campaign):
    chain = make_campaign("task_chain")
    data = {"block": list(LANDING_BLOCKS)[::-1], "slot": slot_ids(chain)[::-1], "task_order": ["2", "1", "0"]}
    before = stored(chain)
    assert login(personas.analyst).post(url(name, chain), data, **HTMX).status_code == 403
    assert login(personas.reviewer).post(url(name, chain), data, **HTMX).status_code == 403
    assert login(personas.outsider).post(url(name, chain), data, **HTMX).status_code == 404
    assert login(personas.operator).get(url(name, chain)).status_code == 405
    assert stored(chain) == before
