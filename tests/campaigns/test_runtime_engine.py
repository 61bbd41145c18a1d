"""The participation engine through the channel API, kind by kind: what a
customer gets, what is recorded, and the limits that hold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import (
    Activity,
    Award,
    BusinessEvent,
    Draw,
    DrawOutcome,
    Referral,
    TaskProgress,
)
from campaigns.runtime import alias, counters, state
from rewards.models import Grant, Reservation
from tests.campaigns.runtime_helpers import api_get, api_post, go_live, make_channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _clean_runtime():
    state.cache.clear()
    yield
    state.cache.clear()


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(6, tree.bj)


@pytest.fixture
def app(db):
    return make_channel("App", "app")


def _slot(prize, **fields):
    return {"prize": prize, **fields}


def test_a_flash_sale_sells_its_stock_once_then_answers_sold_out(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-A", limit_total=1,
        slots=[_slot(prize, role="item", label="Red packet", quantity=3, options={"price_points": 10})],
    )
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    answers = [api_post(client, app, path, {"customer": c.customer_ref}) for c in customers[:5]]
    assert [a.status_code for a in answers] == [200, 200, 200, 409, 409]
    assert answers[3].json()["error"]["code"] == "sold_out"
    assert Grant.objects.filter(source=f"campaign:{campaign.code}").count() == 3
    assert Reservation.objects.get(source_ref__startswith=f"campaign:{campaign.code}:").remaining == 0
    again = api_post(client, app, path, {"customer": customers[0].customer_ref})
    assert again.status_code == 409


def test_a_customer_cannot_claim_beyond_the_limit(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-B", limit_total=2,
        slots=[_slot(prize, role="item", label="Red packet", quantity=10, options={"price_points": 10})],
    )
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    codes = [api_post(client, app, path, {"customer": customers[0].customer_ref}).status_code for _ in range(3)]
    assert codes == [200, 200, 409]
    assert Award.objects.filter(customer=customers[0]).count() == 2


def test_an_idempotency_key_replays_the_first_answer_and_grants_once(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-C", limit_total=5,
        slots=[_slot(prize, role="item", label="Red packet", quantity=10, options={"price_points": 10})],
    )
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    body = {"customer": customers[0].customer_ref}
    first = api_post(client, app, path, body, key="k-1")
    second = api_post(client, app, path, body, key="k-1")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second["Idempotent-Replay"] == "true"
    assert Grant.objects.count() == 1
    conflict = api_post(client, app, path, {"customer": customers[1].customer_ref}, key="k-1")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"


def test_lottery_draws_are_recorded_and_replayable(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="lottery", code="LOT-20300101-A", limit_total=None,
        kind_settings={"draws_per_day": 5, "draws_total": 5, "display": "wheel"},
        slots=[
            _slot(prize, role="prize", label="Cash", quantity=5, weight=5000),
            {"role": "none", "label": "Thanks"},
        ],
    )
    path = f"/api/v1/campaigns/{campaign.code}/draw"
    answers = [api_post(client, app, path, {"customer": customers[0].customer_ref}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [409]
    draws = list(Draw.objects.filter(customer=customers[0]).order_by("number"))
    assert [d.number for d in draws] == [1, 2, 3, 4, 5]
    revision = campaign.live_revision
    revision.refresh_from_db()
    assert alias.seed_hash(revision.draw_seed) == revision.draw_seed_hash
    table, keys = alias.lottery_table(revision.config["slots"])
    for d in draws:
        value = alias.draw_value(revision.draw_seed, campaign.code, customers[0].pk, d.number)
        assert f"{value:016x}" == d.value
        assert keys[table.pick(value)] == d.landed_key
        assert (d.outcome == DrawOutcome.WON) == (d.award_id is not None)
    won = sum(1 for a in answers[:5] if a.json()["result"] == "won")
    assert Grant.objects.count() == won == Draw.objects.filter(outcome=DrawOutcome.WON).count()


def test_an_event_campaign_rewards_a_qualifying_deposit_once(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="event", code="EVT-20300101-A", limit_total=1,
        kind_settings={"event_type": "first_deposit", "min_amount": "1000.00", "product": ""},
        slots=[_slot(prize, role="reward", label="Cash", quantity=10)],
    )
    core = make_channel("Core", "core")
    ref = customers[0].customer_ref
    small = api_post(client, core, "/api/v1/events", {"event_id": "e1", "customer": ref, "type": "first_deposit", "amount": 10})
    assert small.json()["results"][0]["outcome"] == "not_matched"
    big = api_post(client, core, "/api/v1/events", {"event_id": "e2", "customer": ref, "type": "first_deposit", "amount": 5000})
    assert big.json()["results"][0]["outcome"] == "rewarded"
    replay = api_post(client, core, "/api/v1/events", {"event_id": "e2", "customer": ref, "type": "first_deposit", "amount": 5000})
    assert replay.json()["duplicate"] is True
    third = api_post(client, core, "/api/v1/events", {"event_id": "e3", "customer": ref, "type": "first_deposit", "amount": 5000})
    assert third.json()["results"][0]["outcome"] == "limit_reached"
    assert Grant.objects.filter(source=f"campaign:{campaign.code}").count() == 1
    assert BusinessEvent.objects.count() == 3
    assert Activity.objects.filter(kind="event", amount=Decimal("5000.00")).count() == 1


def test_a_task_chain_in_order_rewards_each_step_and_the_chain(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="task_chain", code="TSK-20300101-A",
        kind_settings={"order": "in_order", "tasks": [
            {"event": "login", "target_count": 2, "target_amount": None},
            {"event": "fund_purchase", "target_count": 1, "target_amount": "100.00"},
        ]},
        slots=[
            _slot(prize, role="step", label="Step 1", quantity=10, options={"step": 1}),
            _slot(prize, role="chain", label="Chain", quantity=10),
        ],
    )
    core = make_channel("Core", "core")
    ref = customers[0].customer_ref

    def event(n, kind, amount=None):
        return api_post(client, core, "/api/v1/events", {"event_id": f"t{n}", "customer": ref, "type": kind, "amount": amount}).json()

    assert event(1, "fund_purchase", 500)["results"][0]["outcome"] == "not_matched"  # out of order
    assert event(2, "login")["results"][0]["outcome"] == "progress"
    second = event(3, "login")["results"][0]
    assert second["steps_done"] == [1] and len(second["grants"]) == 1
    last = event(4, "fund_purchase", 500)["results"][0]
    assert last["outcome"] == "completed" and len(last["grants"]) == 1
    assert event(4, "fund_purchase", 500)["duplicate"] is True
    assert TaskProgress.objects.get(customer=customers[0]).completed_at is not None
    assert Grant.objects.filter(source=f"campaign:{campaign.code}").count() == 2


def test_a_referral_rewards_both_sides_and_refuses_self_and_existing_customers(
    personas, prize, customers, client, app, tree, make_customers
):
    campaign = go_live(
        personas=personas, kind="referral", code="REF-20300101-A",
        kind_settings={"qualifying_event": "first_deposit", "window_days": 30, "cap_per_referrer": 1},
        slots=[_slot(prize, role="referrer", label="Referrer", quantity=10), _slot(prize, role="referee", label="Referee", quantity=10)],
    )
    referrer = customers[0]
    code = api_post(client, app, f"/api/v1/campaigns/{campaign.code}/invite", {"customer": referrer.customer_ref}).json()["code"]
    assert api_post(client, app, f"/api/v1/campaigns/{campaign.code}/invite", {"customer": referrer.customer_ref}).json()["code"] == code
    self_ref = api_post(client, app, "/api/v1/referrals", {"customer": referrer.customer_ref, "code": code})
    assert self_ref.status_code == 403 and self_ref.json()["error"]["code"] == "self_referral"
    existing = api_post(client, app, "/api/v1/referrals", {"customer": customers[1].customer_ref, "code": code})
    assert existing.status_code == 403 and existing.json()["error"]["code"] == "existing_customer"
    friends = make_customers(2, tree.bj, start=100, opened_on=timezone.localdate(), prefix="N")
    accepted = api_post(client, app, "/api/v1/referrals", {"customer": friends[0].customer_ref, "code": code})
    assert accepted.status_code == 201
    twice = api_post(client, app, "/api/v1/referrals", {"customer": friends[0].customer_ref, "code": code})
    assert twice.status_code == 409
    core = make_channel("Core", "core")
    result = api_post(client, core, "/api/v1/events", {"event_id": "r1", "customer": friends[0].customer_ref, "type": "first_deposit", "amount": 100}).json()
    assert result["results"][0]["outcome"] == "rewarded" and len(result["results"][0]["grants"]) == 2
    api_post(client, app, "/api/v1/referrals", {"customer": friends[1].customer_ref, "code": code})
    capped = api_post(client, core, "/api/v1/events", {"event_id": "r2", "customer": friends[1].customer_ref, "type": "first_deposit", "amount": 100}).json()
    assert len(capped["results"][0]["grants"]) == 1  # the referee only: the referrer is at the cap
    assert Referral.objects.get(referee=friends[1]).status == "capped"


def test_the_customer_sees_live_campaigns_and_their_grants(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-D", limit_total=1,
        slots=[_slot(prize, role="item", label="Red packet", quantity=3, options={"price_points": 10})],
    )
    ref = customers[0].customer_ref
    listed = api_get(client, app, f"/api/v1/customers/{ref}/campaigns").json()["campaigns"]
    assert [c["code"] for c in listed] == [campaign.code]
    api_post(client, app, f"/api/v1/campaigns/{campaign.code}/claim", {"customer": ref})
    grants = api_get(client, app, f"/api/v1/customers/{ref}/grants").json()["grants"]
    assert len(grants) == 1 and grants[0]["prize"]["code"] == prize.code


def test_a_flushed_redis_is_rebuilt_from_the_database(personas, prize, customers, client, app):
    campaign = go_live(
        personas=personas, kind="flash_sale", code="FS-20300101-E", limit_total=1,
        slots=[_slot(prize, role="item", label="Red packet", quantity=3, options={"price_points": 10})],
    )
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    api_post(client, app, path, {"customer": customers[0].customer_ref})
    counters.connection().delete(*counters.connection().keys(f"cs:rt:{{{campaign.pk}}}:*"))
    state.runtime_rebuild(settle=0)
    assert api_post(client, app, path, {"customer": customers[0].customer_ref}).status_code == 409  # limit kept
    codes = [api_post(client, app, path, {"customer": c.customer_ref}).status_code for c in customers[1:5]]
    assert codes == [200, 200, 409, 409]
    assert Grant.objects.count() == 3
