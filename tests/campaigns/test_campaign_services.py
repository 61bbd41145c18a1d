"""Campaign services: the one-click draft, edits under the editing rules, slots,
channels, clone, archive and delete — with scope and verbs."""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEntry
from audiences.models import Tag
from campaigns import kinds
from campaigns.kinds.base import LANDING_BLOCKS
from campaigns.models import Campaign, CampaignChannel, CampaignStatus, CampaignTemplate, RewardSlot
from campaigns.services import campaigns as services

pytestmark = pytest.mark.django_db

ALL = ["event", "lottery", "flash_sale", "referral", "task_chain"]
CODE = re.compile(r"^(EVT|LOT|FS|REF|TSK)-\d{8}-[A-Z]{4}$")


def audit_actions(campaign):
    return list(
        AuditEntry.objects.filter(object_type="campaigns.campaign", object_id=str(campaign.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )


def state(campaign):
    """Every field an edit may write, to check that a refused one wrote nothing."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    return (
        Campaign.objects.filter(pk=campaign.pk).values().get(),
        sorted(campaign.segments_in.values_list("pk", flat=True)),
        sorted(campaign.segments_out.values_list("pk", flat=True)),
        sorted(campaign.blacklist_tags.values_list("pk", flat=True)),
        sorted(campaign.target_branches.values_list("pk", flat=True)),
        list(campaign.slots.order_by("position").values_list("position", "role", "label", "prize", "quantity", "weight")),
        list(campaign.channels.order_by("channel").values_list("channel", "enabled", "template", "material")),
    )


# --- generate ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_generate_makes_a_complete_valid_draft_in_the_actors_branch(name, make_campaign, personas, tree, prizes):
    campaign = make_campaign(name)
    kind = kinds.get(name)
    assert CODE.match(campaign.code) and campaign.code.startswith(kind.code_prefix + "-")
    assert campaign.status == CampaignStatus.DRAFT and campaign.kind == name
    assert campaign.owner_branch == tree.bj and campaign.created_by == personas.operator
    assert campaign.name == f"{kind.label} — {timezone.localtime(campaign.starts_at).date().isoformat()}"
    assert campaign.budget_total >= Decimal("10000.00") and campaign.budget_daily == Decimal("1000.00")
    assert campaign.landing_blocks == list(LANDING_BLOCKS)
    assert campaign.rules_text == kind.default_rules_text() and campaign.kind_settings == kind.default_settings()
    assert not campaign.segments_in.exists() and not campaign.target_branches.exists()
    channels = {c.channel: c for c in campaign.channels.all()}
    assert set(channels) == {"app", "sms", "wechat"}
    assert all(c.enabled and "{link}" in c.template for c in channels.values())
    slots = list(campaign.slots.select_related("prize__pool"))
    assert slots and all(s.prize is None or s.prize.pool.owner_branch == tree.bj for s in slots)
    assert all(s.prize is None or s.quantity <= s.prize.stock_available for s in slots)
    assert kind.validate(campaign) == []
    assert audit_actions(campaign) == ["campaign.generate"]


def test_generated_window_is_next_monday_to_sunday_in_the_actors_time_zone(make_campaign, personas):
    personas.operator.time_zone = "America/New_York"
    personas.operator.save()
    campaign = make_campaign("event")
    zone = zoneinfo.ZoneInfo("America/New_York")
    starts, ends = campaign.starts_at.astimezone(zone), campaign.ends_at.astimezone(zone)
    today = timezone.now().astimezone(zone).date()
    assert starts.weekday() == 0 and today < starts.date() <= today + dt.timedelta(days=7)
    assert (starts.hour, starts.minute) == (0, 0)
    assert ends.date() == starts.date() + dt.timedelta(days=6) and (ends.hour, ends.minute) == (23, 59)


def test_generate_takes_prizes_only_from_pools_the_owner_branch_may_use(make_campaign, sh_prize, personas, tree):
    # The only stocked prize is in Shanghai: the Beijing draft waits for prizes instead.
    campaign = make_campaign("lottery")
    assert not campaign.slots.filter(prize__isnull=False).exists()
    mine = make_campaign("lottery", actor=personas.outsider)
    assert set(mine.slots.exclude(prize=None).values_list("prize", flat=True)) == {sh_prize.pk}


def test_generate_shares_a_small_stock_between_the_slots_that_use_the_same_prize(make_campaign, pool, personas):
    from tests.campaigns.conftest import _prize

    only = _prize(personas.branch_admin, pool, "FEW", "Rare gift", "gift", "10.00", 3)
    campaign = make_campaign("referral")
    assert sorted(campaign.slots.values_list("prize", "quantity")) == [(only.pk, 1), (only.pk, 1)]
    assert sum(campaign.slots.values_list("quantity", flat=True)) <= only.stock_available


def test_generate_raises_the_budget_to_cover_costly_prizes(make_campaign, pool, personas):
    from tests.campaigns.conftest import _prize

    _prize(personas.branch_admin, pool, "PHONE", "Phone", "gift", "3000.00", 20)
    campaign = make_campaign("event")  # 20 phones reserved: CNY 60,000
    assert campaign.budget_total == Decimal("60000.00") and campaign.budget_daily == Decimal("6000.00")


def test_head_office_generates_for_a_branch_and_nobody_for_a_branch_outside_their_scope(make_campaign, personas, tree):
    assert make_campaign("event", actor=personas.ho_admin, owner_branch=tree.bj).owner_branch == tree.bj
    with pytest.raises(PermissionDenied):
        make_campaign("event", actor=personas.operator, owner_branch=tree.sh)
    with pytest.raises(PermissionDenied):
        make_campaign("event", actor=personas.analyst)
    with pytest.raises(ValidationError):
        make_campaign("bingo")
    assert not Campaign.objects.filter(owner_branch=tree.sh).exists()


def test_generate_from_a_template_keeps_only_choices_in_scope(personas, tree, prizes, sh_prize):
    template = CampaignTemplate.objects.create(
        kind="event", name="Payday bonus", owner_branch=tree.bj, created_by=personas.operator,
        config={
            "kind_settings": {"event_type": "salary_credit", "min_amount": "5000.00", "product": ""},
            "limit_total": 2, "budget_total": "20000.00", "budget_daily": None,
            "slots": [
                {"role": "reward", "label": "Cash", "prize": {"id": prizes[1].pk, "label": "x"}, "quantity": 5, "weight": 0, "options": {}},
                {"role": "reward", "label": "Stolen", "prize": {"id": sh_prize.pk, "label": "x"}, "quantity": 5, "weight": 0, "options": {}},
            ],
            "target_branches": [{"id": tree.sh.pk, "label": "SH"}, {"id": tree.hd.pk, "label": "HD"}],
        },
    )
    campaign = services.campaign_generate(actor=personas.operator, template=template)
    assert campaign.name == "Payday bonus" and campaign.template == template and campaign.kind == "event"
    assert campaign.kind_settings["event_type"] == "salary_credit" and campaign.limit_total == 2
    assert campaign.budget_total == Decimal("20000.00") and campaign.budget_daily is None
    assert list(campaign.slots.order_by("position").values_list("label", "prize")) == [("Cash", prizes[1].pk), ("Stolen", None)]
    assert list(campaign.target_branches.all()) == [tree.hd]


# --- the editing rules ----------------------------------------------------------------------


def test_a_draft_is_edited_freely_and_every_edit_is_audited(campaign, personas):
    services.campaign_update_basics(
        actor=personas.operator, campaign=campaign, name="Autumn wheel", starts_at=campaign.starts_at,
        ends_at=campaign.ends_at + dt.timedelta(days=1),
    )
    services.campaign_update_budget(actor=personas.operator, campaign=campaign, budget_total=Decimal("5000"), budget_daily=None)
    campaign.refresh_from_db()
    assert campaign.name == "Autumn wheel" and campaign.budget_total == Decimal("5000") and campaign.budget_daily is None
    assert not campaign.has_unapproved_changes
    entry = AuditEntry.objects.get(action="campaign.update_budget")
    assert entry.actor == personas.operator and entry.changes["budget_total"][1] == "5000"
    assert audit_actions(campaign)[-2:] == ["campaign.update_basics", "campaign.update_budget"]


def test_an_edit_that_changes_nothing_is_not_recorded(campaign, personas):
    services.campaign_update_budget(
        actor=personas.operator, campaign=campaign, budget_total=campaign.budget_total, budget_daily=campaign.budget_daily
    )
    assert audit_actions(campaign) == ["campaign.generate"]


@pytest.mark.parametrize("status", [CampaignStatus.APPROVED, CampaignStatus.LIVE, CampaignStatus.PAUSED])
def test_changing_an_approved_campaign_marks_it_for_approval_again(status, campaign, personas, set_status):
    set_status(campaign, status)
    services.campaign_update_rules(
        actor=personas.operator, campaign=campaign, limit_per_day=2, limit_total=4, new_customers_only=True,
        new_customer_days=60, blacklist_tags=[], target_branches=[], rules_text="New rules",
    )
    campaign.refresh_from_db()
    assert campaign.status == status and campaign.has_unapproved_changes
    assert (campaign.limit_per_day, campaign.new_customers_only, campaign.rules_text) == (2, True, "New rules")


@pytest.mark.parametrize(
    ("status", "archived", "message"),
    [
        (CampaignStatus.PENDING_REVIEW, False, "Withdraw it from review"),
        (CampaignStatus.ENDED, False, "has ended"),
        (CampaignStatus.DRAFT, True, "archived"),
    ],
)
def test_edits_are_refused_while_pending_review_after_the_end_and_when_archived(
    status, archived, message, campaign, personas, set_status
):
    set_status(campaign, status, is_archived=archived)
    before = state(campaign)
    slot = campaign.slots.first()
    channel = campaign.channels.first()
    edits = [
        lambda: services.campaign_update_budget(actor=personas.operator, campaign=campaign, budget_total=Decimal("1"), budget_daily=None),
        lambda: services.campaign_update_kind_settings(actor=personas.operator, campaign=campaign, kind_settings={}),
        lambda: services.slot_add(actor=personas.operator, campaign=campaign, role="prize", label="More"),
        lambda: services.slot_remove(actor=personas.operator, slot=slot),
        lambda: services.slot_move(actor=personas.operator, slot=slot, position=2),
        lambda: services.channel_update(actor=personas.operator, channel=channel, enabled=False, template="Hi"),
        lambda: services.campaign_update_audience(actor=personas.operator, campaign=campaign, segments_in=[], segments_out=[], control_percent=10),
    ]
    for edit in edits:
        with pytest.raises(ValidationError, match=message):
            edit()
    assert state(campaign) == before


def test_roles_without_edit_cannot_change_a_campaign_and_others_cannot_reach_it(campaign, personas):
    for actor in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.campaign_update_budget(actor=actor, campaign=campaign, budget_total=Decimal("1"), budget_daily=None)
    services.campaign_update_budget(actor=personas.branch_admin, campaign=campaign, budget_total=Decimal("2"), budget_daily=None)
    services.campaign_update_budget(actor=personas.ho_admin, campaign=campaign, budget_total=Decimal("3"), budget_daily=None)


# --- audience, rules, budget, settings -------------------------------------------------------


def test_audience_takes_segments_of_the_owner_subtree_and_refuses_others(campaign, personas, tree, make_segment):
    bj = make_segment("Savers", tree.bj, personas.operator)
    hd = make_segment("Haidian youth", tree.hd, personas.operator)
    sh = make_segment("Shanghai", tree.sh, personas.outsider)
    services.campaign_update_audience(
        actor=personas.operator, campaign=campaign, segments_in=[bj], segments_out=[hd], control_percent=10
    )
    assert list(campaign.segments_in.all()) == [bj] and list(campaign.segments_out.all()) == [hd]
    before = state(campaign)
    with pytest.raises(ValidationError, match="not available"):
        services.campaign_update_audience(
            actor=personas.ho_admin, campaign=campaign, segments_in=[sh], segments_out=[], control_percent=10
        )
    with pytest.raises(ValidationError, match="both included and excluded"):
        services.campaign_update_audience(
            actor=personas.operator, campaign=campaign, segments_in=[bj], segments_out=[bj], control_percent=10
        )
    with pytest.raises(ValidationError):
        services.campaign_update_audience(
            actor=personas.operator, campaign=campaign, segments_in=[], segments_out=[], control_percent=60
        )
    assert state(campaign) == before


def test_rules_keep_target_branches_within_the_owner_subtree_and_tags_in_scope(campaign, personas, tree, make_tag):
    vip = make_tag("vip", owner=tree.ho)
    sh_tag = make_tag("sh_only", owner=tree.sh)
    kwargs = {"limit_per_day": 1, "limit_total": 2, "new_customers_only": False, "new_customer_days": 30, "rules_text": "r"}
    services.campaign_update_rules(
        actor=personas.operator, campaign=campaign, blacklist_tags=[vip], target_branches=[tree.hd], **kwargs
    )
    assert list(campaign.blacklist_tags.all()) == [vip] and list(campaign.target_branches.all()) == [tree.hd]
    before = state(campaign)
    for branches, tags in (([tree.sh], []), ([tree.ho], []), ([], [sh_tag])):
        with pytest.raises(ValidationError):
            services.campaign_update_rules(
                actor=personas.ho_admin, campaign=campaign, blacklist_tags=tags, target_branches=branches, **kwargs
            )
    with pytest.raises(ValidationError, match="cannot be less than the limit per day"):
        services.campaign_update_rules(
            actor=personas.operator, campaign=campaign, blacklist_tags=[], target_branches=[],
            **{**kwargs, "limit_per_day": 3},
        )
    assert state(campaign) == before
    assert Tag.objects.filter(code="sh_only").exists()


def test_budget_refuses_a_daily_budget_above_the_total(campaign, personas):
    with pytest.raises(ValidationError, match="daily budget cannot be more"):
        services.campaign_update_budget(
            actor=personas.operator, campaign=campaign, budget_total=Decimal("100"), budget_daily=Decimal("200")
        )


def test_kind_settings_are_stored_as_json_or_refused(campaign, personas):
    services.campaign_update_kind_settings(
        actor=personas.operator, campaign=campaign, kind_settings={"draws_per_day": 1, "draws_total": 2, "display": "grid"}
    )
    campaign.refresh_from_db()
    assert campaign.kind_settings["display"] == "grid"
    with pytest.raises(ValidationError):
        services.campaign_update_kind_settings(actor=personas.operator, campaign=campaign, kind_settings={"x": Decimal("1")})


# --- slots and channels -----------------------------------------------------------------------------


def positions(campaign):
    return list(campaign.slots.order_by("position").values_list("label", flat=True))


def test_slots_are_added_moved_and_removed_keeping_positions_dense(campaign, personas, prizes):
    labels = positions(campaign)
    added = services.slot_add(
        actor=personas.operator, campaign=campaign, role="prize", label="Bonus", prize=prizes[2], quantity=10, weight=50
    )
    assert added.position == 4 and positions(campaign) == [*labels, "Bonus"]
    services.slot_move(actor=personas.operator, slot=added, position=0)
    assert positions(campaign) == ["Bonus", *labels]
    services.slot_move(actor=personas.operator, slot=added, position=99)
    assert positions(campaign) == [*labels, "Bonus"]
    services.slot_remove(actor=personas.operator, slot=campaign.slots.get(label=labels[0]))
    assert positions(campaign) == [*labels[1:], "Bonus"]
    assert list(campaign.slots.order_by("position").values_list("position", flat=True)) == [0, 1, 2, 3]
    assert audit_actions(campaign)[1:] == [
        "campaign.slot_add", "campaign.slot_move", "campaign.slot_move", "campaign.slot_remove"
    ]


def test_slot_updates_are_checked_for_scope_stock_chances_and_role(campaign, personas, prizes, sh_prize):
    slot = campaign.slots.get(position=0)
    services.slot_update(
        actor=personas.operator, slot=slot, role="prize", label="Grand", prize=prizes[0], quantity=50, weight=200
    )
    slot.refresh_from_db()
    assert (slot.label, slot.quantity, slot.weight) == ("Grand", 50, 200)
    before = state(campaign)
    refused = [
        ({"prize": sh_prize}, "not available"),
        ({"quantity": 51}, "Only 50 of “Umbrella” are in stock."),
        ({"weight": 8500}, "10,400 of 10,000"),
        ({"role": "jackpot"}, "no such slot"),
    ]
    for change, message in refused:
        fields = {"role": "prize", "label": "Grand", "prize": prizes[0], "quantity": 1, "weight": 200, **change}
        with pytest.raises(ValidationError, match=message):
            services.slot_update(actor=personas.ho_admin, slot=slot, **fields)
    none = campaign.slots.get(role="none")
    with pytest.raises(ValidationError, match="gives nothing"):
        services.slot_update(actor=personas.operator, slot=none, role="none", label="x", prize=prizes[0], quantity=1)
    assert state(campaign) == before


def test_weights_belong_to_lotteries_only(make_campaign, personas, prizes):
    campaign = make_campaign("event")
    with pytest.raises(ValidationError, match="Only lottery slots have weights"):
        services.slot_add(actor=personas.operator, campaign=campaign, role="reward", label="x", weight=10)


def test_channel_update_checks_placeholders_and_material_scope(campaign, personas, tree, make_material):
    poster = make_material("Autumn poster", tree.hd, personas.operator)
    sh_poster = make_material("Shanghai poster", tree.sh, personas.outsider)
    sms = campaign.channels.get(channel="sms")
    services.channel_update(actor=personas.operator, channel=sms, enabled=False, template="Hi {name}: {link}", material=poster)
    sms.refresh_from_db()
    assert (sms.enabled, sms.template, sms.material) == (False, "Hi {name}: {link}", poster)
    before = state(campaign)
    with pytest.raises(ValidationError, match="not available"):
        services.channel_update(actor=personas.ho_admin, channel=sms, enabled=True, template="Hi", material=sh_poster)
    with pytest.raises(ValidationError) as refused:
        services.channel_update(actor=personas.operator, channel=sms, enabled=True, template="Hi {nam}")
    assert "template" in refused.value.message_dict
    assert state(campaign) == before


# --- clone, archive, delete ------------------------------------------------------------------------


def test_clone_makes_a_new_draft_with_the_same_configuration(campaign, personas, tree, make_segment, set_status):
    segment = make_segment("Savers", tree.bj, personas.operator)
    campaign.segments_in.set([segment])
    set_status(campaign, CampaignStatus.LIVE, has_unapproved_changes=True)
    copy = services.campaign_clone(actor=personas.operator, campaign=campaign)
    assert copy.code != campaign.code and copy.code.startswith("LOT-")
    assert copy.name == f"{campaign.name} (copy)" and copy.status == CampaignStatus.DRAFT
    assert not copy.has_unapproved_changes and copy.live_revision is None
    assert (copy.starts_at, copy.ends_at) == (campaign.starts_at, campaign.ends_at)
    assert list(copy.segments_in.all()) == [segment]
    assert state(copy)[5] == state(campaign)[5] and len(state(copy)[6]) == 3
    assert not RewardSlot.objects.filter(campaign=copy, reservation__isnull=False).exists()
    assert audit_actions(copy) == ["campaign.clone"]


def test_a_clone_of_a_campaign_that_has_begun_moves_to_next_week(campaign, personas):
    Campaign.objects.filter(pk=campaign.pk).update(
        starts_at=timezone.now() - dt.timedelta(days=3), ends_at=timezone.now() - dt.timedelta(days=1)
    )
    copy = services.campaign_clone(actor=personas.operator, campaign=campaign)
    assert (copy.starts_at, copy.ends_at) == services.next_week(personas.operator)


def test_only_builders_clone(campaign, personas):
    with pytest.raises(PermissionDenied):
        services.campaign_clone(actor=personas.analyst, campaign=campaign)


def test_only_a_never_approved_draft_is_deleted_and_only_by_roles_that_may(campaign, personas, set_status):
    for actor in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            services.campaign_delete(actor=actor, campaign=campaign)
    for status in (CampaignStatus.PENDING_REVIEW, CampaignStatus.LIVE, CampaignStatus.ENDED):
        set_status(campaign, status)
        with pytest.raises(ValidationError, match="Only a draft"):
            services.campaign_delete(actor=personas.operator, campaign=campaign)
    set_status(campaign, CampaignStatus.DRAFT)
    pk = campaign.pk
    services.campaign_delete(actor=personas.operator, campaign=campaign)
    assert not Campaign.objects.filter(pk=pk).exists()
    assert not RewardSlot.objects.filter(campaign_id=pk).exists()
    assert not CampaignChannel.objects.filter(campaign_id=pk).exists()
    assert AuditEntry.objects.filter(action="campaign.delete", object_id=str(pk), actor=personas.operator).exists()


def test_archive_hides_drafts_and_ended_campaigns_and_restore_brings_them_back(campaign, personas, set_status):
    set_status(campaign, CampaignStatus.LIVE)
    with pytest.raises(ValidationError, match="Only a draft or an ended campaign"):
        services.campaign_archive(actor=personas.operator, campaign=campaign)
    set_status(campaign, CampaignStatus.ENDED)
    assert services.campaign_archive(actor=personas.operator, campaign=campaign).is_archived
    assert not services.campaign_restore(actor=personas.operator, campaign=campaign).is_archived
    with pytest.raises(PermissionDenied):
        services.campaign_archive(actor=personas.analyst, campaign=campaign)
    assert audit_actions(campaign)[-2:] == ["campaign.archive", "campaign.restore"]
