"""Awards first, grants after: what a request writes, what the background
makes of it, and the caps that hold whatever Redis says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.models import Award, AwardStatus
from campaigns.runtime import awards, counters, state
from campaigns.selectors.runtime import runtime_summary
from campaigns.services import lifecycle
from rewards.models import Grant, PrizePool, Reservation
from tests.campaigns.runtime_helpers import api_get, api_post, go_live, grant_awards, make_channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(4, tree.bj)


@pytest.fixture
def app(db):
    return make_channel("App", "app")


def _flash(personas, prize, quantity=3, code="FS-20300101-AW"):
    return go_live(
        personas=personas, kind="flash_sale", code=code, limit_total=1,
        slots=[{"prize": prize, "role": "item", "label": "Red packet", "quantity": quantity,
                "options": {"price_points": 1}}],
    )


def _claim(client, app, campaign, customer, **extra):
    return api_post(client, app, f"/api/v1/campaigns/{campaign.code}/claim", {"customer": customer.customer_ref}, **extra)


def _reservation(campaign) -> Reservation:
    return Reservation.objects.get(source_ref__startswith=f"campaign:{campaign.code}:")


def test_a_claim_is_the_customers_at_once_and_its_grant_follows_in_the_background(
    personas, prize, customers, client, app
):
    campaign = _flash(personas, prize)
    answer = _claim(client, app, campaign, customers[0], grant=False)
    assert answer.status_code == 200
    reward = answer.json()["grant"]
    assert reward["id"] is None and reward["status"] == "queued" and reward["prize"]["code"] == prize.code
    award = Award.objects.get(pk=reward["award"])
    assert (award.status, award.unit, award.grant_id) == (AwardStatus.QUEUED, 0, None)
    assert not Grant.objects.exists() and _reservation(campaign).remaining == 3
    listed = api_get(client, app, f"/api/v1/customers/{customers[0].customer_ref}/grants").json()["grants"]
    assert [(g["id"], g["award"], g["status"]) for g in listed] == [(None, award.pk, "queued")]

    assert grant_awards() == {"granted": 1, "failed": 0}
    award.refresh_from_db()
    grant = Grant.objects.get()
    assert (award.status, award.grant_id, grant.idempotency_key) == (AwardStatus.GRANTED, grant.pk, award.key)
    assert _reservation(campaign).remaining == 2
    listed = api_get(client, app, f"/api/v1/customers/{customers[0].customer_ref}/grants").json()["grants"]
    assert [(g["id"], g["award"]) for g in listed] == [(grant.pk, award.pk)]
    assert awards.awards_grant(award_ids=[award.pk]) == {"granted": 0, "failed": 0}  # twice: nothing more
    assert Grant.objects.count() == 1


def test_an_award_the_prize_pool_refuses_is_failed_with_the_reason_and_nothing_is_granted(
    personas, prize, customers, client, app
):
    campaign = _flash(personas, prize)
    answer = _claim(client, app, campaign, customers[0], grant=False)
    PrizePool.objects.filter(pk=prize.pool_id).update(budget_available=Decimal("0"))  # another campaign spent it
    assert grant_awards() == {"granted": 0, "failed": 1}
    award = Award.objects.get(pk=answer.json()["grant"]["award"])
    assert award.status == AwardStatus.FAILED and "budget" in award.failure
    assert not Grant.objects.exists() and _reservation(campaign).remaining == 3
    listed = api_get(client, app, f"/api/v1/customers/{customers[0].customer_ref}/grants").json()["grants"]
    assert [(g["id"], g["status"]) for g in listed] == [(None, "failed")]
    summary = runtime_summary(campaign)  # the campaign page shows it to staff
    assert (summary.awards, summary.queued, summary.failed) == (1, 0, 1)


def test_the_sweep_queues_again_an_award_whose_queue_entry_was_lost(personas, prize, customers, client, app):
    campaign = _flash(personas, prize)
    _claim(client, app, campaign, customers[0], grant=False)
    counters.connection().delete(awards.DRAIN.queue_key)  # Redis lost it before a drain ran
    assert grant_awards() == {"granted": 0, "failed": 0}
    assert awards.awards_sweep() == {"requeued": 0}  # too young: it may still be on its way
    assert awards.awards_sweep(grace_seconds=0) == {"requeued": 1}
    assert grant_awards() == {"granted": 1, "failed": 0}
    assert Award.objects.get().status == AwardStatus.GRANTED


def test_a_unit_redis_hands_out_twice_or_beyond_the_stock_is_refused_by_the_database(
    personas, prize, customers, client, app
):
    campaign = _flash(personas, prize, quantity=2)
    assert _claim(client, app, campaign, customers[0]).status_code == 200  # unit 0
    slot = str(next(iter(counters.connection().hgetall(counters.stock_key(campaign.pk)))))
    units = counters.units_key(campaign.pk, int(slot))
    conn = counters.connection()
    for wrong in (0, 2):  # unit 0 is taken; the slot has units 0 and 1 only
        conn.lpush(units, wrong)
        conn.hincrby(counters.stock_key(campaign.pk), slot, 1)
        answer = _claim(client, app, campaign, customers[1])
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "sold_out"
        assert Award.objects.count() == 1
        conn.lpop(units)  # the give-back pushed it back: take it out again
        conn.hincrby(counters.stock_key(campaign.pk), slot, -1)
    assert _claim(client, app, campaign, customers[1]).status_code == 200  # unit 1, the last
    assert sorted(Award.objects.values_list("unit", flat=True)) == [0, 1]
    assert Grant.objects.count() == 2


def test_a_rebuild_frees_exactly_the_units_no_award_holds(personas, prize, customers, client, app):
    campaign = _flash(personas, prize, quantity=4)
    for customer in customers[:2]:
        assert _claim(client, app, campaign, customer, grant=False).status_code == 200
    counters.connection().flushdb()
    state.runtime_rebuild(settle=0)
    slot = next(iter(counters.connection().hgetall(counters.stock_key(campaign.pk))))
    assert counters.connection().hget(counters.stock_key(campaign.pk), slot) == "2"
    assert sorted(map(int, counters.connection().lrange(counters.units_key(campaign.pk, int(slot)), 0, -1))) == [2, 3]
    # Queued awards hold their units although their grants are not made yet.
    assert _claim(client, app, campaign, customers[2]).status_code == 200
    assert awards.awards_sweep(grace_seconds=0)["requeued"] == 2  # the flush took their queue entries
    assert grant_awards()["granted"] == 2
    assert sorted(Award.objects.values_list("unit", flat=True)) == [0, 1, 2]
    assert _reservation(campaign).remaining == 1


def test_ending_a_campaign_grants_its_queued_awards_before_the_reservations_close(
    personas, prize, customers, client, app
):
    campaign = _flash(personas, prize)
    _claim(client, app, campaign, customers[0], grant=False)
    lifecycle.campaign_end(actor=personas.operator, campaign=campaign, reason="Done early.")
    award = Award.objects.get()
    assert award.status == AwardStatus.GRANTED and award.grant is not None
    reservation = _reservation(campaign)
    assert reservation.released_at is not None and reservation.remaining == 0
    prize.refresh_from_db()
    assert prize.stock_available == 1000 - 1  # the two unclaimed units went back


def test_everyday_api_refusals_are_not_logged_but_unsigned_calls_are(personas, prize, customers, client, app, caplog):
    campaign = _flash(personas, prize, quantity=1)
    assert _claim(client, app, campaign, customers[0]).status_code == 200
    with caplog.at_level("WARNING", logger="django.request"):
        assert _claim(client, app, campaign, customers[1]).status_code == 409  # sold out: an answer
        assert not [r for r in caplog.records if r.name == "django.request"]
        unsigned = client.post(f"/api/v1/campaigns/{campaign.code}/claim", "{}", content_type="application/json")
        assert unsigned.status_code == 401
        assert [r.status_code for r in caplog.records if r.name == "django.request"] == [401]


def test_awards_are_granted_as_one_lot_and_a_refused_lot_falls_back_to_one_by_one(
    personas, prize, customers, client, app, django_assert_max_num_queries
):
    campaign = _flash(personas, prize, quantity=4)
    for customer in customers[:3]:
        assert _claim(client, app, campaign, customer, grant=False).status_code == 200
    ids = list(Award.objects.order_by("pk").values_list("pk", flat=True))
    with django_assert_max_num_queries(14):  # the lot's statements do not grow with its size
        assert awards.awards_grant(award_ids=ids[:2]) == {"granted": 2, "failed": 0}
    assert _reservation(campaign).remaining == 2
    assert set(Grant.objects.values_list("idempotency_key", flat=True)) == set(
        Award.objects.filter(pk__in=ids[:2]).values_list("key", flat=True)
    )

    assert _claim(client, app, campaign, customers[3], grant=False).status_code == 200
    Reservation.objects.filter(pk=_reservation(campaign).pk).update(remaining=1)  # one unit short for the lot
    left = list(Award.objects.filter(status=AwardStatus.QUEUED).order_by("pk").values_list("pk", flat=True))
    assert awards.awards_grant(award_ids=left) == {"granted": 1, "failed": 1}
    statuses = dict(Award.objects.filter(pk__in=left).values_list("pk", "status"))
    assert statuses == {left[0]: AwardStatus.GRANTED, left[1]: AwardStatus.FAILED}
    assert Grant.objects.count() == 3 and _reservation(campaign).remaining == 0
