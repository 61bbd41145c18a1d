"""Campaign pages: the list, the Generate gallery, the detail page, each edit tab,
slots, clone, archive and delete — per role and scope, with tampered ids."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus, RewardSlot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ALL = ["event", "lottery", "flash_sale", "referral", "task_chain"]
TABS = ["basics", "audience", "rewards", "channels", "rules", "budget", "settings"]


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def edit_url(campaign, tab):
    return reverse("campaigns:campaign_edit", args=[campaign.code, tab])


def codes_on(response):
    return [c.code for c in response.context["page_obj"]]


def snapshot(campaign):
    """Everything an edit tab may write."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    return (
        Campaign.objects.filter(pk=campaign.pk).values().get(),
        sorted(campaign.segments_in.values_list("pk", flat=True)),
        sorted(campaign.blacklist_tags.values_list("pk", flat=True)),
        sorted(campaign.target_branches.values_list("pk", flat=True)),
        list(campaign.slots.order_by("position").values_list("pk", "label", "prize", "quantity", "weight", "options")),
        list(campaign.channels.order_by("channel").values_list("enabled", "template", "material")),
    )


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


# --- list ---------------------------------------------------------------------------------------


def test_the_list_shows_campaigns_in_scope_only(login, personas, campaign, sh_campaign, make_campaign, tree):
    hd = make_campaign("event", actor=personas.sub_admin)
    page = login(personas.analyst).get(reverse("campaigns:campaign_list"))
    assert page.status_code == 200
    assert set(codes_on(page)) == {campaign.code, hd.code}
    html = page.content.decode()
    assert sh_campaign.code not in html and "Lottery" in html and "¥10,000.00" in html


def test_the_list_filters_by_kind_status_branch_dates_search_and_archive(
    login, personas, tree, make_campaign, set_status
):
    lottery = make_campaign("lottery")
    event = make_campaign("event", name="Payday bonus")
    hd = make_campaign("referral", actor=personas.sub_admin)
    live = set_status(make_campaign("flash_sale"), CampaignStatus.LIVE)
    old = make_campaign(
        "task_chain", starts_at=timezone.now() - dt.timedelta(days=40), ends_at=timezone.now() - dt.timedelta(days=30)
    )
    archived = make_campaign("event", is_archived=True)
    client = login(personas.operator)
    url = reverse("campaigns:campaign_list")

    def codes(**query):
        return set(codes_on(client.get(url, query)))

    assert codes() == {lottery.code, event.code, hd.code, live.code, old.code}
    assert codes(kind="lottery") == {lottery.code}
    assert codes(status="live") == {live.code}
    assert codes(owner_branch=tree.hd.pk) == {hd.code}
    assert codes(q="payday") == {event.code}
    assert codes(q=hd.code.lower()) == {hd.code}
    today = timezone.localdate()
    assert old.code not in codes(since=today.isoformat())
    assert codes(until=(today - dt.timedelta(days=20)).isoformat()) == {old.code}
    assert codes(archived="yes") == {archived.code}
    assert archived.code in codes(archived="all")


def test_a_tampered_branch_filter_is_ignored_with_a_warning(login, personas, tree, campaign):
    page = login(personas.operator).get(reverse("campaigns:campaign_list"), {"owner_branch": tree.sh.pk})
    assert page.status_code == 200
    assert "Some filters are not valid" in page.content.decode()
    assert codes_on(page) == [campaign.code]


def test_the_list_is_paginated_and_htmx_gets_only_the_table(login, personas, make_campaign):
    for _i in range(27):
        make_campaign("event")
    client = login(personas.operator)
    first = client.get(reverse("campaigns:campaign_list"))
    assert len(codes_on(first)) == 25 and "Page 1 of 2" in first.content.decode()
    second = client.get(reverse("campaigns:campaign_list"), {"page": 2}, **HTMX)
    assert len(codes_on(second)) == 2
    html = second.content.decode()
    assert html.startswith('<div id="campaign-table">') and "<html" not in html


def test_the_list_query_count_does_not_grow_with_its_rows(login, personas, make_campaign):
    client = login(personas.operator)
    make_campaign("event")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("campaigns:campaign_list"))
    for kind in ALL * 3:
        make_campaign(kind, actor=personas.sub_admin)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("campaigns:campaign_list"))
    assert len(codes_on(page)) == 16
    assert len(many) == len(few)


def test_the_list_answers_only_get(login, personas):
    assert login(personas.operator).post(reverse("campaigns:campaign_list")).status_code == 405


# --- generate -------------------------------------------------------------------------------------


def test_the_gallery_lists_every_kind_with_a_generate_button(login, personas):
    page = login(personas.operator).get(reverse("campaigns:campaign_generate"))
    assert page.status_code == 200
    html = page.content.decode()
    for kind in ALL:
        assert f'data-generate="{kind}"' in html
    assert "Generate Task chain" in html and "A chain of tasks" in html


@pytest.mark.parametrize("kind", ALL)
def test_generate_makes_a_draft_and_goes_to_it(kind, login, personas, prizes, tree):
    response = login(personas.operator).post(reverse("campaigns:campaign_generate"), {"kind": kind})
    campaign = Campaign.objects.get(kind=kind)
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:campaign_detail", args=[campaign.code])
    assert campaign.owner_branch == tree.bj and campaign.status == CampaignStatus.DRAFT
    page = login(personas.operator).get(response["Location"])
    assert "generated" in page.content.decode()


def test_head_office_chooses_the_owner_branch_but_not_one_outside_its_scope(login, personas, tree):
    client = login(personas.ho_admin)
    assert 'name="owner_branch"' in client.get(reverse("campaigns:campaign_generate")).content.decode()
    assert client.post(reverse("campaigns:campaign_generate"), {"kind": "event", "owner_branch": tree.sh.pk}).status_code == 302
    assert Campaign.objects.get().owner_branch == tree.sh
    response = login(personas.operator).post(
        reverse("campaigns:campaign_generate"), {"kind": "event", "owner_branch": tree.sh.pk}
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert Campaign.objects.count() == 1


def test_generate_from_a_template_in_scope_but_not_from_another_branchs(login, personas, tree):
    from campaigns.models import CampaignTemplate

    mine = CampaignTemplate.objects.create(
        kind="referral", name="Bring a friend", owner_branch=tree.bj, created_by=personas.operator, config={}
    )
    theirs = CampaignTemplate.objects.create(
        kind="event", name="Shanghai secret", owner_branch=tree.sh, created_by=personas.outsider, config={}
    )
    client = login(personas.operator)
    html = client.get(reverse("campaigns:campaign_generate")).content.decode()
    assert "Bring a friend" in html and "Shanghai secret" not in html
    assert client.post(reverse("campaigns:campaign_generate"), {"template": mine.pk}).status_code == 302
    assert Campaign.objects.get().template == mine
    assert client.post(reverse("campaigns:campaign_generate"), {"template": theirs.pk}).status_code == 400
    assert Campaign.objects.count() == 1


def test_an_unknown_kind_is_a_form_error(login, personas):
    response = login(personas.operator).post(reverse("campaigns:campaign_generate"), {"kind": "bingo"})
    assert response.status_code == 400 and not Campaign.objects.exists()


def test_generate_is_refused_to_analysts_and_answers_get_and_post_only(login, personas):
    client = login(personas.analyst)
    assert client.get(reverse("campaigns:campaign_generate")).status_code == 403
    assert client.post(reverse("campaigns:campaign_generate"), {"kind": "event"}).status_code == 403
    assert login(personas.operator).put(reverse("campaigns:campaign_generate")).status_code == 405
    assert not Campaign.objects.exists()


# --- detail ----------------------------------------------------------------------------------------


def test_the_detail_page_shows_the_whole_campaign(login, personas, campaign, prizes):
    page = login(personas.operator).get(reverse("campaigns:campaign_detail", args=[campaign.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert campaign.name in html and prizes[0].name in html and "Thanks for playing" in html
    assert 'id="lifecycle-panel"' in html and 'id="campaign-tabs"' in html and 'id="campaign-delete"' in html
    assert "Draws per customer per day" in html and "{name}, {campaign} is on now" in html


def test_analysts_read_the_detail_page_without_edit_buttons(login, personas, campaign):
    html = login(personas.analyst).get(reverse("campaigns:campaign_detail", args=[campaign.code])).content.decode()
    assert campaign.code in html
    assert 'id="campaign-edit"' not in html and 'id="campaign-delete"' not in html and 'id="campaign-clone"' not in html


def test_the_detail_page_is_404_out_of_scope_and_405_for_post(login, personas, campaign):
    url = reverse("campaigns:campaign_detail", args=[campaign.code])
    assert login(personas.outsider).get(url).status_code == 404
    assert login(personas.operator).post(url).status_code == 405
    assert login(personas.operator).get(reverse("campaigns:campaign_detail", args=["LOT-20000101-NONE"])).status_code == 404


# --- edit tabs: pages and access ------------------------------------------------------------------


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_shows_its_form(tab, login, personas, campaign):
    page = login(personas.operator).get(edit_url(campaign, tab))
    assert page.status_code == 200
    assert f'data-tab="{tab}"' in page.content.decode() and page.context["tab"] == tab


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_is_403_for_analysts_404_for_outsiders_and_405_for_put(tab, login, personas, campaign):
    before = snapshot(campaign)
    assert login(personas.analyst).get(edit_url(campaign, tab)).status_code == 403
    assert login(personas.analyst).post(edit_url(campaign, tab), {"name": "x"}).status_code == 403
    assert login(personas.reviewer).post(edit_url(campaign, tab), {"name": "x"}).status_code == 403
    assert login(personas.outsider).get(edit_url(campaign, tab)).status_code == 404
    assert login(personas.outsider).post(edit_url(campaign, tab), {"name": "x"}).status_code == 404
    assert login(personas.operator).put(edit_url(campaign, tab)).status_code == 405
    assert snapshot(campaign) == before


def test_an_unknown_tab_is_404(login, personas, campaign):
    assert login(personas.operator).get(edit_url(campaign, "secrets")).status_code == 404


def test_a_campaign_pending_review_shows_why_and_refuses_the_change(login, personas, campaign, set_status):
    set_status(campaign, CampaignStatus.PENDING_REVIEW)
    client = login(personas.operator)
    page = client.get(edit_url(campaign, "basics"))
    assert "Withdraw it from review" in page.content.decode() and "<fieldset disabled>" in page.content.decode()
    before = snapshot(campaign)
    data = {"name": "Sneaky", "starts_at": local(campaign.starts_at), "ends_at": local(campaign.ends_at)}
    response = client.post(edit_url(campaign, "basics"), data)
    assert response.status_code == 400 and "Withdraw it from review" in response.content.decode()
    assert snapshot(campaign) == before


def test_changing_a_live_campaign_says_it_needs_approval_again(login, personas, campaign, set_status):
    set_status(campaign, CampaignStatus.LIVE)
    client = login(personas.operator)
    response = client.post(edit_url(campaign, "budget"), {"budget_total": "8000", "budget_daily": "800"}, follow=True)
    assert "takes effect once the campaign is approved again" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.has_unapproved_changes and campaign.budget_total == Decimal("8000")


# --- edit tabs: success and tampering -------------------------------------------------------------


def test_basics_tab_saves_name_window_and_banner(login, personas, campaign, tree, make_material):
    poster = make_material("Banner", tree.bj, personas.operator)
    sh_poster = make_material("SH banner", tree.sh, personas.outsider)
    client = login(personas.operator)
    starts = campaign.starts_at + dt.timedelta(hours=10)
    data = {"name": "Double eleven", "starts_at": local(starts), "ends_at": local(campaign.ends_at), "banner": poster.pk}
    response = client.post(edit_url(campaign, "basics"), data)
    assert response.status_code == 302 and response["Location"] == edit_url(campaign, "basics")
    campaign.refresh_from_db()
    assert (campaign.name, campaign.starts_at, campaign.banner) == ("Double eleven", starts, poster)
    before = snapshot(campaign)
    tampered = client.post(edit_url(campaign, "basics"), {**data, "banner": sh_poster.pk})
    backwards = client.post(edit_url(campaign, "basics"), {**data, "ends_at": local(starts - dt.timedelta(days=1))})
    assert tampered.status_code == backwards.status_code == 400
    assert "Select a valid choice" in tampered.content.decode()
    assert "must end after it starts" in backwards.content.decode()
    assert snapshot(campaign) == before


def test_audience_tab_saves_segments_and_refuses_a_tampered_one(login, personas, campaign, tree, make_segment):
    mine = make_segment("Savers", tree.bj, personas.operator)
    theirs = make_segment("Shanghai savers", tree.sh, personas.outsider)
    client = login(personas.operator)
    assert client.post(edit_url(campaign, "audience"), {"segments_in": [mine.pk], "control_percent": 10}).status_code == 302
    campaign.refresh_from_db()
    assert list(campaign.segments_in.all()) == [mine] and campaign.control_percent == 10
    before = snapshot(campaign)
    tampered = client.post(edit_url(campaign, "audience"), {"segments_in": [theirs.pk], "control_percent": 10})
    both = client.post(edit_url(campaign, "audience"), {"segments_in": [mine.pk], "segments_out": [mine.pk], "control_percent": 5})
    assert tampered.status_code == both.status_code == 400
    assert "Select a valid choice" in tampered.content.decode()
    assert "both included and excluded" in both.content.decode()
    assert snapshot(campaign) == before


def test_rules_tab_saves_limits_tags_and_target_branches_and_refuses_tampered_ones(
    login, personas, campaign, tree, make_tag
):
    vip = make_tag("vip")
    sh_tag = make_tag("sh_vip", owner=tree.sh)
    client = login(personas.operator)
    data = {
        "limit_per_day": "2", "limit_total": "6", "new_customers_only": "on", "new_customer_days": "90",
        "blacklist_tags": [vip.pk], "target_branches": [tree.hd.pk], "rules_text": "Play fair.",
    }
    assert client.post(edit_url(campaign, "rules"), data).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.limit_per_day, campaign.limit_total, campaign.new_customers_only) == (2, 6, True)
    assert list(campaign.blacklist_tags.all()) == [vip] and list(campaign.target_branches.all()) == [tree.hd]
    before = snapshot(campaign)
    for tampered in ({"target_branches": [tree.sh.pk]}, {"target_branches": [tree.ho.pk]}, {"blacklist_tags": [sh_tag.pk]}):
        response = client.post(edit_url(campaign, "rules"), {**data, **tampered})
        assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert snapshot(campaign) == before


def test_budget_tab_saves_and_explains_a_daily_budget_above_the_total(login, personas, campaign):
    client = login(personas.operator)
    assert client.post(edit_url(campaign, "budget"), {"budget_total": "3000", "budget_daily": ""}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.budget_total == Decimal("3000") and campaign.budget_daily is None
    response = client.post(edit_url(campaign, "budget"), {"budget_total": "3000", "budget_daily": "4000"})
    assert response.status_code == 400 and "daily budget cannot be more" in response.content.decode()


def test_settings_tab_uses_the_kinds_form(login, personas, campaign, make_campaign):
    client = login(personas.operator)
    response = client.post(edit_url(campaign, "settings"), {"draws_per_day": "2", "draws_total": "4", "display": "grid"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.kind_settings == {"draws_per_day": 2, "draws_total": 4, "display": "grid"}
    refused = client.post(edit_url(campaign, "settings"), {"draws_per_day": "5", "draws_total": "4", "display": "grid"})
    assert refused.status_code == 400 and "cannot be less than the draws per day" in refused.content.decode()


def test_settings_tab_of_a_task_chain_edits_its_task_rows(login, personas, make_campaign):
    chain = make_campaign("task_chain")
    client = login(personas.operator)
    page = client.get(edit_url(chain, "settings"))
    assert 'id="task-rows"' in page.content.decode()
    data = {"order": "any_order", "task_0_event": "login", "task_0_count": "2", "task_1_event": "card_spend", "task_1_amount": "300"}
    assert client.post(edit_url(chain, "settings"), data).status_code == 302
    chain.refresh_from_db()
    assert chain.kind_settings["order"] == "any_order" and len(chain.kind_settings["tasks"]) == 2
    assert chain.kind_settings["tasks"][1]["target_amount"] == "300.00"


def test_rewards_tab_adds_a_slot_and_refuses_a_tampered_prize(login, personas, campaign, prizes, sh_prize):
    client = login(personas.operator)
    page = client.get(edit_url(campaign, "rewards"))
    assert "Weight (of 10,000)" in page.content.decode() and "8000" in page.content.decode()
    data = {"role": "prize", "label": "Lucky points", "prize": prizes[2].pk, "quantity": "100", "weight": "500"}
    assert client.post(edit_url(campaign, "rewards"), data).status_code == 302
    added = campaign.slots.get(label="Lucky points")
    assert (added.prize, added.quantity, added.weight, added.position) == (prizes[2], 100, 500, 4)
    before = snapshot(campaign)
    tampered = client.post(edit_url(campaign, "rewards"), {**data, "prize": sh_prize.pk})
    too_many = client.post(edit_url(campaign, "rewards"), {**data, "quantity": "999999"})
    too_likely = client.post(edit_url(campaign, "rewards"), {**data, "weight": "9000"})
    assert tampered.status_code == too_many.status_code == too_likely.status_code == 400
    assert "Select a valid choice" in tampered.content.decode()
    assert "are in stock" in too_many.content.decode()
    assert "more than 100 %" in too_likely.content.decode()
    assert snapshot(campaign) == before


def test_a_flash_sale_slot_takes_its_price_in_the_sale_currency(login, personas, make_campaign, prizes):
    sale = make_campaign("flash_sale")
    client = login(personas.operator)
    data = {"role": "item", "label": "Umbrella deal", "prize": prizes[0].pk, "quantity": "5"}
    missing = client.post(edit_url(sale, "rewards"), data)
    assert missing.status_code == 400 and "This field is required" in missing.content.decode()
    assert client.post(edit_url(sale, "rewards"), {**data, "price_points": "800"}).status_code == 302
    assert sale.slots.get(label="Umbrella deal").options == {"price_points": 800}


def test_a_task_chain_step_must_name_a_task_of_the_chain(login, personas, make_campaign, prizes):
    chain = make_campaign("task_chain")
    client = login(personas.operator)
    data = {"role": "step", "label": "Step 3 reward", "prize": prizes[2].pk, "quantity": "10", "step": "7"}
    response = client.post(edit_url(chain, "rewards"), data)
    assert response.status_code == 400 and "The chain has 3 tasks." in response.content.decode()
    assert client.post(edit_url(chain, "rewards"), {**data, "step": "3"}).status_code == 302
    assert chain.slots.get(label="Step 3 reward").options == {"step": 3}


def test_channels_tab_saves_one_channel_and_refuses_a_tampered_material(login, personas, campaign, tree, make_material):
    poster = make_material("Poster", tree.bj, personas.operator)
    sh_poster = make_material("SH poster", tree.sh, personas.outsider)
    client = login(personas.operator)
    page = client.get(edit_url(campaign, "channels")).content.decode()
    assert page.count('class="message-counter') == 3 and 'id="id_sms-template-counter"' in page
    data = {"channel": "sms", "sms-enabled": "on", "sms-template": "Hi {name}, join {campaign}: {link}", "sms-material": poster.pk}
    assert client.post(edit_url(campaign, "channels"), data).status_code == 302
    sms = campaign.channels.get(channel="sms")
    assert (sms.template, sms.material) == ("Hi {name}, join {campaign}: {link}", poster)
    before = snapshot(campaign)
    tampered = client.post(edit_url(campaign, "channels"), {**data, "sms-material": sh_poster.pk})
    bad_placeholder = client.post(edit_url(campaign, "channels"), {**data, "sms-template": "Hi {nmae}"})
    empty = client.post(edit_url(campaign, "channels"), {**data, "sms-template": ""})
    assert tampered.status_code == bad_placeholder.status_code == empty.status_code == 400
    assert "Select a valid choice" in tampered.content.decode()
    assert "nmae" in bad_placeholder.content.decode()
    assert "An enabled channel needs a message." in empty.content.decode()
    assert client.post(edit_url(campaign, "channels"), {**data, "channel": "fax"}).status_code == 404
    assert snapshot(campaign) == before


# --- slots ---------------------------------------------------------------------------------------


def test_a_slot_is_edited_on_its_page(login, personas, campaign, prizes):
    slot = campaign.slots.get(position=0)
    url = reverse("campaigns:slot_edit", args=[campaign.code, slot.pk])
    client = login(personas.operator)
    assert client.get(url).status_code == 200
    data = {"role": "prize", "label": "Grand prize", "prize": prizes[0].pk, "quantity": "5", "weight": "50"}
    assert client.post(url, data).status_code == 302
    slot.refresh_from_db()
    assert (slot.label, slot.quantity, slot.weight) == ("Grand prize", 5, 50)


def test_slots_move_and_go_without_javascript(login, personas, campaign):
    client = login(personas.operator)
    first, second = campaign.slots.order_by("position")[:2]
    response = client.post(reverse("campaigns:slot_move", args=[campaign.code, first.pk]), {"direction": "down"})
    assert response.status_code == 302
    assert list(campaign.slots.order_by("position").values_list("pk", flat=True)[:2]) == [second.pk, first.pk]
    client.post(reverse("campaigns:slot_move", args=[campaign.code, first.pk]), {"position": "3"})
    assert campaign.slots.order_by("position").last() == first
    assert client.post(reverse("campaigns:slot_remove", args=[campaign.code, first.pk])).status_code == 302
    assert not RewardSlot.objects.filter(pk=first.pk).exists()


def test_slot_pages_are_scoped_to_their_campaign_and_role(login, personas, campaign, sh_campaign):
    slot = campaign.slots.first()
    theirs = sh_campaign.slots.first()
    urls = [
        reverse("campaigns:slot_edit", args=[campaign.code, slot.pk]),
        reverse("campaigns:slot_move", args=[campaign.code, slot.pk]),
        reverse("campaigns:slot_remove", args=[campaign.code, slot.pk]),
    ]
    before = snapshot(campaign)
    for url in urls:
        assert login(personas.analyst).post(url, {"direction": "down"}).status_code == 403
        assert login(personas.outsider).post(url, {"direction": "down"}).status_code == 404
    # Another campaign's slot under this campaign's address: not found.
    assert login(personas.operator).post(reverse("campaigns:slot_remove", args=[campaign.code, theirs.pk])).status_code == 404
    assert login(personas.operator).get(urls[2]).status_code == 405
    assert login(personas.operator).get(urls[1]).status_code == 405
    assert snapshot(campaign) == before
    assert RewardSlot.objects.filter(pk=theirs.pk).exists()


# --- clone, archive, restore, delete ----------------------------------------------------------------


def test_clone_goes_to_the_new_draft(login, personas, campaign):
    response = login(personas.operator).post(reverse("campaigns:campaign_clone", args=[campaign.code]))
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:campaign_detail", args=[copy.code])
    assert copy.name.endswith("(copy)")


def test_archive_and_restore_from_the_detail_page(login, personas, campaign, set_status):
    client = login(personas.operator)
    client.post(reverse("campaigns:campaign_archive", args=[campaign.code]))
    campaign.refresh_from_db()
    assert campaign.is_archived
    client.post(reverse("campaigns:campaign_restore", args=[campaign.code]))
    campaign.refresh_from_db()
    assert not campaign.is_archived
    set_status(campaign, CampaignStatus.LIVE)
    page = client.post(reverse("campaigns:campaign_archive", args=[campaign.code]), follow=True)
    assert "Only a draft or an ended campaign can be archived." in page.content.decode()
    campaign.refresh_from_db()
    assert not campaign.is_archived


def test_delete_removes_a_draft_and_explains_why_it_keeps_others(login, personas, campaign, make_campaign, set_status):
    client = login(personas.operator)
    response = client.post(reverse("campaigns:campaign_delete", args=[campaign.code]))
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:campaign_list")
    assert not Campaign.objects.filter(pk=campaign.pk).exists()
    live = set_status(make_campaign("event"), CampaignStatus.LIVE)
    page = client.post(reverse("campaigns:campaign_delete", args=[live.code]), follow=True)
    assert "Only a draft that was never approved can be deleted" in page.content.decode()
    assert Campaign.objects.filter(pk=live.pk).exists()


@pytest.mark.parametrize("action", ["campaign_clone", "campaign_archive", "campaign_restore", "campaign_delete"])
def test_campaign_actions_are_403_for_analysts_404_for_outsiders_and_405_for_get(action, login, personas, campaign):
    url = reverse(f"campaigns:{action}", args=[campaign.code])
    before = snapshot(campaign)
    assert login(personas.analyst).post(url).status_code == 403
    assert login(personas.outsider).post(url).status_code == 404
    assert login(personas.operator).get(url).status_code == 405
    assert snapshot(campaign) == before and Campaign.objects.count() == 1
