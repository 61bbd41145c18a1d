"""The kinds registry and each kind: its settings form, its one-click default, its checks
and its forecast inputs."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from campaigns import kinds
from campaigns.models import Campaign, RewardSlot

pytestmark = pytest.mark.django_db

ALL = ["event", "lottery", "flash_sale", "referral", "task_chain"]


def slot(campaign, role, **fields):
    return RewardSlot.objects.get(campaign=campaign, role=role, **fields)


def settings(campaign, **changes):
    campaign.kind_settings = {**campaign.kind_settings, **changes}
    return campaign


def problems(campaign):
    fresh = Campaign.objects.get(pk=campaign.pk)
    fresh.kind_settings = campaign.kind_settings
    fresh.starts_at, fresh.limit_total = campaign.starts_at, campaign.limit_total
    return kinds.get(campaign.kind).validate(fresh)


# --- the registry ----------------------------------------------------------------------


def test_the_registry_finds_the_five_kinds_in_their_order():
    assert [k.name for k in kinds.all_kinds()] == ALL
    assert [k.code_prefix for k in kinds.all_kinds()] == ["EVT", "LOT", "FS", "REF", "TSK"]
    assert dict(kinds.choices())["flash_sale"] == "Flash sale"


def test_an_unknown_kind_is_a_key_error():
    with pytest.raises(KeyError):
        kinds.get("bingo")


@pytest.mark.parametrize("name", ALL)
def test_every_kind_declares_what_the_studio_needs(name):
    kind = kinds.get(name)
    assert kind.label and kind.description and kind.slot_roles and kind.actions
    defaults = kind.default_settings()
    json.dumps(defaults)  # stored as JSON as it is
    assert set(kind.default_rules()) <= {"limit_per_day", "limit_total", "new_customers_only", "new_customer_days"}
    assert kind.default_rules_text()
    assert {s.role for s in kind.default_slots([])} <= set(kind.slot_roles)


@pytest.mark.parametrize("name", ALL)
def test_each_generated_default_passes_its_own_checks(name, make_campaign, prizes):
    campaign = make_campaign(name)
    assert kinds.get(name).validate(campaign) == []


@pytest.mark.parametrize("name", ALL)
def test_each_settings_form_accepts_its_own_defaults_and_cleans_to_json(name):
    kind = kinds.get(name)
    defaults = kind.default_settings()
    unbound = kind.settings_form(initial=defaults)
    data = {}
    for field_name in unbound.fields:
        value = unbound[field_name].value()
        data[field_name] = "" if value is None else str(value)
    form = kind.settings_form(data)
    assert form.is_valid(), form.errors
    assert json.loads(json.dumps(form.cleaned_data)) == json.loads(json.dumps(defaults))


# --- event ---------------------------------------------------------------------------------


def test_event_form_stores_the_minimum_amount_as_text_and_refuses_one_for_a_login():
    form = kinds.get("event").settings_form({"event_type": "fund_purchase", "min_amount": "1000.5", "product": "F01"})
    assert form.is_valid()
    assert form.cleaned_data == {"event_type": "fund_purchase", "min_amount": "1000.50", "product": "F01"}
    form = kinds.get("event").settings_form({"event_type": "login", "min_amount": "10", "product": "F01"})
    assert not form.is_valid()
    assert set(form.errors) == {"min_amount", "product"}


def test_event_checks_catch_a_bad_event_an_amount_without_one_and_a_missing_reward(make_campaign, prizes):
    campaign = make_campaign("event")
    assert "Choose the business event that earns the reward." in problems(settings(campaign, event_type="bingo"))
    found = problems(settings(campaign, event_type="login", min_amount="5.00"))
    assert "“app login” has no amount; remove the minimum amount." in found
    campaign.slots.all().delete()
    assert "Add a reward slot: an event campaign must give something." in problems(settings(campaign, event_type="login", min_amount=None))


def test_an_event_reward_without_a_prize_is_caught(make_campaign):
    campaign = make_campaign("event")  # no pool in scope: the slot waits for a prize
    assert problems(campaign) == ["Slot “Reward” has no prize."]


# --- lottery ----------------------------------------------------------------------------------


def test_lottery_default_has_three_or_four_prize_slots_rarest_for_the_costliest_and_a_no_prize_slot(
    make_campaign, prizes
):
    campaign = make_campaign("lottery")
    rows = list(campaign.slots.order_by("position").values_list("role", "prize__code", "weight"))
    assert rows == [("prize", "GIFT", 100), ("prize", "CASH5", 400), ("prize", "PTS", 1500), ("none", None, 0)]
    assert kinds.get("lottery").no_prize_weight(campaign) == 8000


def test_lottery_without_prizes_in_scope_waits_for_three_prizes(make_campaign):
    campaign = make_campaign("lottery")
    assert campaign.slots.filter(role="prize", prize__isnull=True).count() == 3
    assert "Slot “First prize” has no prize." in problems(campaign)


def test_lottery_checks_catch_chances_above_one_hundred_percent(campaign):
    RewardSlot.objects.filter(campaign=campaign, role="prize").update(weight=4000)
    assert "The prize chances add up to 12,000 of 10,000 (more than 100 %)." in problems(campaign)


def test_lottery_checks_want_a_prize_slot_and_a_no_prize_slot_when_chances_leave_a_rest(campaign):
    campaign.slots.filter(role="none").delete()
    assert "Add a “no prize” slot for the draws that win nothing." in problems(campaign)
    campaign.slots.all().delete()
    assert "Add at least one prize slot." in problems(campaign)


def test_lottery_checks_catch_bad_draws_and_display(campaign):
    found = problems(settings(campaign, draws_per_day=5, draws_total=2, display="slot machine"))
    assert "The draws in total cannot be fewer than the draws per day." in found
    assert "Choose how the lottery is shown: a wheel or a grid." in found


def test_lottery_grants_expected_are_chances_times_draws_capped_by_the_win_limit(campaign):
    kind = kinds.get("lottery")
    # 2,000 of 10,000 over 10 draws: 2 expected; the worst case is every draw winning, capped by 3 wins.
    assert kind.grants_per_participant(campaign) == (Decimal("2"), 3)
    campaign.limit_total = None
    campaign.limit_per_day = None
    assert kind.grants_per_participant(campaign) == (Decimal("2"), 10)


# --- flash sale -----------------------------------------------------------------------------------


def test_flash_sale_checks_want_an_exact_start_a_per_customer_limit_and_a_price_in_the_sale_currency(
    make_campaign, prizes
):
    campaign = make_campaign("flash_sale")
    campaign.starts_at += dt.timedelta(seconds=30)
    campaign.limit_total = None
    found = problems(settings(campaign, sale_price_kind="cash"))
    assert "A flash sale opens on the minute: set a start time without seconds." in found
    assert "Set how many items one customer may buy (rules: per customer in total)." in found
    assert f"Item “{prizes[1].name}” needs a price in CNY." in found


def test_flash_sale_slot_options_follow_the_sale_currency(make_campaign):
    kind = kinds.get("flash_sale")
    campaign = make_campaign("flash_sale")
    assert set(kind.slot_option_fields(campaign)) == {"price_points"}
    campaign.kind_settings["sale_price_kind"] = "cash"
    assert set(kind.slot_option_fields(campaign)) == {"price_cash"}
    assert kind.slot_options(campaign, "item", {"price_cash": Decimal("9.9")}) == {"price_cash": "9.90"}


# --- referral ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 91, "30"])
def test_referral_checks_keep_the_window_between_one_and_ninety_days(make_campaign, prizes, days):
    campaign = make_campaign("referral")
    assert "The referee must act within 1 to 90 days." in problems(settings(campaign, window_days=days))


def test_referral_checks_want_a_cap_and_both_sides_rewarded(make_campaign, prizes):
    campaign = make_campaign("referral")
    campaign.slots.filter(role="referee").delete()
    found = problems(settings(campaign, cap_per_referrer=0))
    assert "Reward each referrer for at least one referral (cap per referrer)." in found
    assert "A referral needs exactly one slot for the referee." in found


def test_referral_grants_reward_both_sides_up_to_the_cap(make_campaign, prizes):
    campaign = make_campaign("referral")
    assert kinds.get("referral").grants_per_participant(campaign) == (Decimal("2"), 10)


# --- task chain ---------------------------------------------------------------------------------------


def test_task_chain_form_turns_rows_into_an_ordered_list_and_skips_empty_rows():
    form = kinds.get("task_chain").settings_form(
        {
            "order": "any_order",
            "task_0_event": "login", "task_0_count": "3",
            "task_2_event": "fund_purchase", "task_2_amount": "500",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {
        "order": "any_order",
        "tasks": [
            {"event": "login", "target_count": 3, "target_amount": None},
            {"event": "fund_purchase", "target_count": None, "target_amount": "500.00"},
        ],
    }


def test_task_chain_form_refuses_one_task_a_task_without_target_and_an_amount_on_a_login():
    form_class = kinds.get("task_chain").settings_form
    form = form_class({"order": "in_order", "task_0_event": "login", "task_0_count": "3"})
    assert not form.is_valid()
    assert form.non_field_errors() == ["A task chain needs at least two tasks."]
    form = form_class({"order": "in_order", "task_0_event": "login", "task_1_event": "login", "task_1_amount": "5"})
    assert not form.is_valid()
    assert form.errors["task_0_count"] == ["Give the task a target count or amount."]
    assert form.errors["task_1_amount"] == ["This event has no amount; use a target count."]


def test_task_chain_form_does_not_write_into_the_settings_it_starts_from(make_campaign):
    campaign = make_campaign("task_chain")
    before = json.dumps(campaign.kind_settings)
    kinds.get("task_chain").settings_form(initial=campaign.kind_settings)
    assert json.dumps(campaign.kind_settings) == before


def test_task_chain_checks_catch_short_chains_bad_order_and_steps_without_a_task(make_campaign, prizes):
    campaign = make_campaign("task_chain")
    RewardSlot.objects.filter(campaign=campaign, role="step", options__step=2).update(options={"step": 5})
    found = problems(settings(campaign, order="sideways", tasks=[{"event": "login", "target_count": 1}]))
    assert "Choose whether tasks are done in order or in any order." in found
    assert "A task chain needs at least two tasks." in found
    assert "Step reward “Step 2 reward” is for no task of the chain." in found


def test_task_chain_checks_catch_tasks_without_target_and_a_missing_chain_reward(make_campaign, prizes):
    campaign = make_campaign("task_chain")
    campaign.slots.filter(role="chain").delete()
    tasks = [{"event": "login", "target_count": None, "target_amount": None}, {"event": "login", "target_amount": "3"}]
    found = problems(settings(campaign, tasks=tasks))
    assert "Task 1 needs a target count or amount." in found
    assert "Task 2: this event has no amount." in found
    assert "A task chain needs exactly one whole-chain reward." in found


def test_task_chain_grants_count_every_rewarded_step_fewer_reaching_later_ones(make_campaign, prizes):
    campaign = make_campaign("task_chain")
    # Steps 1 and 2 and the chain (3 tasks): 1 + 0.6 + 0.36.
    assert kinds.get("task_chain").grants_per_participant(campaign) == (Decimal("1.96"), 3)
