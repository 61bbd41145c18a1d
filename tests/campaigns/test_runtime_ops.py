"""Operating the runtime: replaying draws, rebuilding counters, pausing and
ending a live campaign, and what staff see of it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Draw
from campaigns.runtime import counters, state
from campaigns.services import lifecycle
from tests.campaigns.runtime_helpers import api_post, go_live, make_channel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(4, tree.bj)


@pytest.fixture
def app(db):
    return make_channel("App", "app")


def _lottery(personas, prize, code="LOT-20300101-OPS", **extra):
    return go_live(
        personas=personas, kind="lottery", code=code,
        kind_settings={"draws_per_day": 20, "draws_total": 20, "display": "wheel"},
        slots=[{"prize": prize, "role": "prize", "label": "Cash", "quantity": 50, "weight": 3000},
               {"role": "none", "label": "Thanks"}],
        **extra,
    )


def _draw_all(client, app, campaign, customers, times=5):
    for customer in customers:
        for _ in range(times):
            assert api_post(client, app, f"/api/v1/campaigns/{campaign.code}/draw", {"customer": customer.customer_ref}).status_code == 200


def test_draws_verify_replays_every_draw_and_catches_a_tampered_one(personas, prize, customers, client, app, capsys):
    campaign = _lottery(personas, prize)
    _draw_all(client, app, campaign, customers)
    call_command("draws_verify", campaign.code)
    out = capsys.readouterr().out
    assert "draws checked = 20" in out and "mismatches = 0" in out
    draw = Draw.objects.filter(campaign=campaign).first()
    Draw.objects.filter(pk=draw.pk).update(value="0" * 16)
    with pytest.raises(CommandError):
        call_command("draws_verify", campaign.code)
    assert "random value 0000000000000000" in capsys.readouterr().out


def test_draws_verify_refuses_a_seed_that_does_not_match_its_commitment(personas, prize, customers, client, app, capsys):
    campaign = _lottery(personas, prize)
    _draw_all(client, app, campaign, customers[:1], times=2)
    revision = campaign.live_revision
    type(revision).objects.filter(pk=revision.pk).update(draw_seed="ab" * 32)
    with pytest.raises(CommandError):
        call_command("draws_verify", campaign.code)
    assert "does not match its published hash" in capsys.readouterr().out


def test_runtime_rebuild_restores_counters_after_redis_is_flushed(personas, prize, customers, client, app, capsys):
    campaign = _lottery(personas, prize)
    _draw_all(client, app, campaign, customers[:1], times=3)
    before = counters.connection().hgetall(counters.customer_key(campaign.pk, customers[0].pk))
    stock_before = counters.connection().hgetall(counters.stock_key(campaign.pk))
    counters.connection().flushdb()
    call_command("runtime_rebuild", "--settle", "0")
    assert "loaded = 1" in capsys.readouterr().out
    assert counters.connection().hgetall(counters.customer_key(campaign.pk, customers[0].pk))["dr"] == before["dr"] == "3"
    assert counters.connection().hgetall(counters.stock_key(campaign.pk)) == stock_before


def test_a_lost_campaign_is_reloaded_by_the_first_request(personas, prize, customers, client, app):
    campaign = _lottery(personas, prize)
    _draw_all(client, app, campaign, customers[:1], times=2)
    counters.connection().flushdb()
    state.cache.clear()
    answer = api_post(client, app, f"/api/v1/campaigns/{campaign.code}/draw", {"customer": customers[0].customer_ref})
    assert answer.status_code == 200 and answer.json()["draw"]["number"] == 3


def test_pausing_stops_serving_at_once_and_resuming_serves_again(personas, prize, customers, client, app):
    campaign = _lottery(personas, prize)
    path = f"/api/v1/campaigns/{campaign.code}/draw"
    lifecycle.campaign_pause(actor=personas.operator, campaign=campaign)
    paused = api_post(client, app, path, {"customer": customers[0].customer_ref})
    assert paused.status_code == 410 and paused.json()["error"]["code"] == "paused"
    lifecycle.campaign_resume(actor=personas.operator, campaign=campaign)
    assert api_post(client, app, path, {"customer": customers[0].customer_ref}).status_code == 200
    lifecycle.campaign_end(actor=personas.operator, campaign=campaign)
    ended = api_post(client, app, path, {"customer": customers[0].customer_ref})
    assert ended.status_code == 410 and ended.json()["error"]["code"] == "ended"


def test_a_campaign_not_started_yet_answers_not_started(personas, prize, customers, client, app):
    campaign = _lottery(personas, prize, started_ago=-dt.timedelta(minutes=5))
    answer = api_post(client, app, f"/api/v1/campaigns/{campaign.code}/draw", {"customer": customers[0].customer_ref})
    assert answer.status_code == 410 and answer.json()["error"]["code"] == "not_started"


def test_runtime_sync_puts_back_a_state_redis_got_wrong(personas, prize, customers, client, app):
    campaign = _lottery(personas, prize)
    lifecycle.campaign_pause(actor=personas.operator, campaign=campaign)
    counters.state_set(campaign_id=campaign.pk, state="live")  # as if the publish had been lost
    assert state.runtime_sync() == {"fixed": 1}
    assert counters.connection().hget(counters.meta_key(campaign.pk), "state") == "paused"


def test_the_campaign_page_shows_what_was_given_and_reveals_the_seed_only_after_the_end(
    personas, prize, customers, client, app, login
):
    campaign = _lottery(personas, prize)
    _draw_all(client, app, campaign, customers[:2], times=3)
    revision = campaign.live_revision
    revision.refresh_from_db()
    page = login(personas.operator).get(f"/campaigns/{campaign.code}/")
    html = page.content.decode()
    assert revision.draw_seed_hash in html and revision.draw_seed not in html
    assert "Lottery draws" in html
    lifecycle.campaign_end(actor=personas.operator, campaign=campaign)
    assert revision.draw_seed in login(personas.operator).get(f"/campaigns/{campaign.code}/").content.decode()


def _flash(personas, prize, code="FS-20300101-OPS"):
    return go_live(
        personas=personas, kind="flash_sale", code=code, limit_total=1,
        slots=[{"prize": prize, "role": "item", "label": "Red packet", "quantity": 5, "options": {"price_points": 1}}],
    )


def test_a_take_left_pending_by_a_dead_process_is_given_back_by_the_sweep(personas, prize, customers, settings):
    from campaigns.runtime.state import local_day

    campaign = _flash(personas, prize)
    slot_key = int(next(iter(counters.connection().hgetall(counters.stock_key(campaign.pk)))))
    meta = counters.connection().hgetall(counters.meta_key(campaign.pk))
    # What a worker killed after its take and before its commit leaves behind:
    counters.take(
        campaign_id=campaign.pk, customer_id=customers[0].pk, epoch=meta["epoch"], counters=[("r", 1)],
        slot_key=slot_key, cost_fen=500, day=local_day().isoformat(), ttl=600,
    )
    assert counters.connection().hget(counters.stock_key(campaign.pk), str(slot_key)) == "4"
    settings.CAMPAIGNS_TAKE_STALE_SECONDS = 3600  # still in flight: left alone
    assert state.runtime_sync() == {"fixed": 0}
    settings.CAMPAIGNS_TAKE_STALE_SECONDS = -1  # long gone: reloaded from the database
    assert state.runtime_sync() == {"fixed": 1}
    assert counters.connection().hget(counters.stock_key(campaign.pk), str(slot_key)) == "5"
    assert counters.connection().hget(counters.customer_key(campaign.pk, customers[0].pk), "r") is None


def test_a_settled_take_is_not_pending(personas, prize, customers, client, app, settings):
    campaign = _flash(personas, prize)
    assert api_post(client, app, f"/api/v1/campaigns/{campaign.code}/claim", {"customer": customers[0].customer_ref}).status_code == 200
    assert counters.connection().zcard(counters.pending_key(campaign.pk)) == 0
    settings.CAMPAIGNS_TAKE_STALE_SECONDS = -1
    assert state.runtime_sync() == {"fixed": 0}


def test_a_duplicate_arriving_while_the_first_is_in_flight_is_told_to_retry(personas, prize, customers, client, app):
    campaign = _flash(personas, prize)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    body = {"customer": customers[0].customer_ref}
    counters.connection().set(counters.idem_key(app.pk, "dup") + ":inflight", "1")  # the first is being served
    busy = api_post(client, app, path, body, key="dup")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_in_progress"
    assert busy["Retry-After"] == "1"
    counters.connection().delete(counters.idem_key(app.pk, "dup") + ":inflight")
    first = api_post(client, app, path, body, key="dup")
    assert first.status_code == 200
    assert counters.connection().get(counters.idem_key(app.pk, "dup") + ":inflight") is None  # released
    counters.connection().delete(counters.idem_key(app.pk, "dup"))  # the cached answer lost: the database answers
    again = api_post(client, app, path, body, key="dup")
    assert again.status_code == 200 and again["Idempotent-Replay"] == "true" and again.json() == first.json()


def test_a_sold_out_sale_answers_from_redis_alone(personas, prize, customers, client, app, django_assert_num_queries):
    campaign = _flash(personas, prize)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    for customer in customers[:4]:
        api_post(client, app, path, {"customer": customer.customer_ref})
    api_post(client, app, path, {"customer": customers[0].customer_ref, "item": None}, key="x")  # warm caches
    counters.connection().hset(counters.stock_key(campaign.pk), mapping={
        k: 0 for k in counters.connection().hgetall(counters.stock_key(campaign.pk))
    })
    with django_assert_num_queries(0):
        answer = api_post(client, app, path, {"customer": customers[3].customer_ref}, key="sold-1")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "sold_out"


def test_a_duplicate_of_an_in_flight_claim_waits_even_once_sold_out(personas, prize, customers, client, app):
    campaign = _flash(personas, prize)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    counters.connection().hset(counters.stock_key(campaign.pk), mapping={
        k: 0 for k in counters.connection().hgetall(counters.stock_key(campaign.pk))
    })
    counters.connection().set(counters.idem_key(app.pk, "busy") + ":inflight", "1")
    answer = api_post(client, app, path, {"customer": customers[0].customer_ref}, key="busy")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "idempotency_in_progress"


def test_a_claim_whose_answer_was_never_cached_is_replayed_even_once_sold_out(personas, prize, customers, client, app):
    # A worker commits a claim and dies before caching its answer; the client
    # retries the same key after the sale sold out. It must get its claim back,
    # not "sold out" from the fast path.
    campaign = _flash(personas, prize)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    body = {"customer": customers[0].customer_ref}
    first = api_post(client, app, path, body, key="died")
    assert first.status_code == 200
    counters.connection().delete(counters.idem_key(app.pk, "died"))  # never cached
    counters.connection().hset(counters.stock_key(campaign.pk), mapping={
        k: 0 for k in counters.connection().hgetall(counters.stock_key(campaign.pk))
    })
    again = api_post(client, app, path, body, key="died")
    assert again.status_code == 200 and again["Idempotent-Replay"] == "true" and again.json() == first.json()
    # A fresh key of a sold-out sale is still answered from Redis.
    fresh = api_post(client, app, path, {"customer": customers[1].customer_ref}, key="fresh")
    assert fresh.status_code == 409 and fresh.json()["error"]["code"] == "sold_out"
