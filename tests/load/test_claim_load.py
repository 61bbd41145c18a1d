"""The channel API under load on a real gunicorn (several worker processes),
PostgreSQL and Redis: 200 concurrent signed clients never take more than the
stock, a customer never gets over its limit, and neither a Redis flush nor a
killed worker nor replayed idempotency keys make a second grant. A naive
read-then-save claim in the same harness oversells under the same load —
proof that these tests would catch it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.db.models import Count
from django.test import override_settings

from campaigns.models import ApiRequest, Award, Draw, DrawOutcome
from campaigns.runtime import alias, awards, counters, state
from rewards.models import Grant, Reservation
from tests.campaigns import lifecycle_helpers as helpers
from tests.campaigns.runtime_helpers import go_live, make_channel
from tests.load.clients import Load, Request, percentile, tally
from tests.load.server import manage

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STOCK = 100
CLIENTS = 200


def measure(name: str, value, unit: str = "") -> None:
    print(f"{name} = {value} {unit}".rstrip())


@pytest.fixture
def prize(personas, tree):
    pool = helpers.make_pool(actor=personas.branch_admin, owner=tree.bj, budget=Decimal("100000.00"))
    return helpers.make_prize(actor=personas.branch_admin, pool=pool, stock=5000)


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(CLIENTS, tree.bj)


@pytest.fixture
def channel(db):
    # A key of its own: the server's processes cache channels by key for the whole run.
    tag = uuid.uuid4().hex[:8]
    return make_channel(f"Load {tag}", "app", key_id=f"cs_load_{tag}", customer_rate_per_minute=100_000)


def flash_sale(personas, prize, *, limit_total=1):
    code = f"FS-20300101-{uuid.uuid4().hex[:6].upper()}"
    return go_live(
        personas=personas, kind="flash_sale", code=code, limit_total=limit_total,
        slots=[{"prize": prize, "role": "item", "label": "Red packet", "quantity": STOCK, "options": {"price_points": 10}}],
    )


def reservation_of(campaign) -> Reservation:
    return Reservation.objects.get(source_ref__startswith=f"campaign:{campaign.code}:slot:")


def item_key(campaign) -> int:
    return next(s["id"] for s in campaign.live_revision.config["slots"] if s["role"] == "item")


def most_awards_of_one_customer(campaign) -> int:
    top = Award.objects.filter(campaign=campaign).values("customer").annotate(n=Count("id")).order_by("-n").first()
    return top["n"] if top else 0


def server_errors(answers) -> list:
    """Every attempt answered 5xx other than 503 (the fenced window), or a final 503."""
    bad = [a for a in answers if any(isinstance(s, int) and s >= 500 and s != 503 for s in a.seen)]
    return bad + [a for a in answers if a.status == 503]


def show(answers, load) -> None:
    for (status, code), n in sorted(tally(answers).items()):
        measure(f"answers {status} {code}", n)
    measure("run seconds", f"{load.seconds:.2f}", "s")
    measure("answer p50", f"{percentile(answers, 0.5) * 1000:.0f}", "ms")
    measure("answer p99", f"{percentile(answers, 0.99) * 1000:.0f}", "ms")


def test_two_hundred_clients_claim_exactly_the_stock_and_no_customer_exceeds_its_limit(
    server, personas, prize, customers, channel
):
    campaign = flash_sale(personas, prize, limit_total=1)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    # 160 customers: the first 40 send two requests each, so the limit of one is raced too.
    buyers = customers[:40] * 2 + customers[40:160]
    load = Load(server.port, channel, [
        Request(path, {"customer": c.customer_ref}, key=f"claim-{i}") for i, c in enumerate(buyers)
    ])
    answers = load.run()
    show(answers, load)
    measure("awards granted in the background within", f"{server.rq.wait_idle(campaign.pk):.2f}", "s after the run")

    counts = tally(answers)
    assert not server_errors(answers), server.errors()[-20:]
    assert counts[(200, "claimed")] == STOCK, counts
    assert counts[(409, "sold_out")] + counts[(409, "limit_reached")] == CLIENTS - STOCK, counts
    grants = Grant.objects.filter(source=f"campaign:{campaign.code}")
    assert grants.count() == STOCK
    assert Award.objects.filter(campaign=campaign).count() == STOCK
    assert reservation_of(campaign).remaining == 0
    assert most_awards_of_one_customer(campaign) == 1
    claimed = {a.data["grant"]["award"] for a in answers if a.status == 200}
    assert claimed == set(Award.objects.filter(campaign=campaign, grant__in=grants).values_list("pk", flat=True))


def test_the_naive_read_then_save_claim_oversells_under_the_same_load(server, personas, prize, customers, channel):
    campaign = flash_sale(personas, prize, limit_total=1)
    path = f"/naive/campaigns/{campaign.code}/claim"
    load = Load(server.port, channel, [Request(path, {"customer": c.customer_ref}, signed=False) for c in customers])
    answers = load.run()
    show(answers, load)

    granted = Grant.objects.filter(source=f"campaign:{campaign.code}").count()
    measure("naive grants", granted)
    measure("naive reservation remaining", reservation_of(campaign).remaining)
    assert granted > STOCK, f"the naive endpoint did not oversell ({granted} grants): the harness does not bite"


def test_a_redis_flush_and_rebuild_mid_run_never_oversells(server, personas, prize, customers, channel):
    campaign = flash_sale(personas, prize, limit_total=1)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    flushed, rebuilt, events = threading.Event(), threading.Event(), {}

    def flush_and_rebuild():
        try:
            redis.Redis.from_url(settings.REDIS_URL).flushdb()
            events["flushed_at"] = time.monotonic()
            flushed.set()
            done = manage("runtime_rebuild", "--settle", "1")
            events["rebuild"] = (done.returncode, done.stdout, done.stderr[-3000:])
        finally:
            events["rebuilt_at"] = time.monotonic()
            flushed.set()
            rebuilt.set()

    # Wave A (50) at once; Redis is flushed at its 20th answer, with the rest in flight.
    # Wave B (30) arrives over 2 s from the flush on: Redis empty, reloading, fenced.
    # Wave C (120) comes after the rebuild, with units left: the counters must agree with
    # the database again — none sold twice, none lost.
    def request(i, customer, wave, **extra):
        return Request(path, {"customer": customer.customer_ref}, key=f"flush-{wave}-{i}", **extra)

    waves = {"A": customers[:50], "B": customers[50:80], "C": customers[80:]}
    requests = [request(i, c, "A") for i, c in enumerate(waves["A"])]
    requests += [request(i, c, "B", gate=flushed, delay=i * 2 / len(waves["B"])) for i, c in enumerate(waves["B"])]
    requests += [request(i, c, "C", gate=rebuilt) for i, c in enumerate(waves["C"])]
    load = Load(server.port, channel, requests, retry=True, at={20: flush_and_rebuild})
    answers = load.run()
    show(answers, load)
    # The flush took the award queue too: the minute sweep queues those awards again.
    measure("awards queued again by the sweep", awards.awards_sweep(grace_seconds=0)["requeued"])
    server.rq.wait_idle(campaign.pk)

    code, out, err = events["rebuild"]
    assert code == 0, err
    measure("rebuild", out.strip().replace("\n", ", "))
    started = min(a.sent_at for a in answers)
    measure("flushed at", f"{events['flushed_at'] - started:.2f}", "s")
    measure("rebuilt at", f"{events['rebuilt_at'] - started:.2f}", "s")
    in_window = [a for a in answers if events["flushed_at"] <= a.answered_at <= events["rebuilt_at"]]
    measure("answers between flush and rebuild", len(in_window))
    measure("503 seen", sum(s == 503 for a in answers for s in a.seen))
    for wave, people in waves.items():
        refs = {c.customer_ref for c in people}
        counts = tally([a for a in answers if a.request.body["customer"] in refs])
        measure(f"wave {wave}", dict(counts))
    grants = Grant.objects.filter(source=f"campaign:{campaign.code}").count()
    measure("grants", grants)

    assert not server_errors(answers), server.errors()[-20:]
    assert all(a.status == 200 or (a.status == 409 and a.code in ("sold_out", "limit_reached")) for a in answers)
    assert grants == STOCK  # never more; and after the rebuild no unit is lost either
    assert reservation_of(campaign).remaining == 0
    assert most_awards_of_one_customer(campaign) == 1
    assert sum(1 for a in answers if a.status == 200 and a.code == "claimed") == grants


def test_a_worker_killed_mid_run_never_grants_twice(server, personas, prize, customers, channel):
    campaign = flash_sale(personas, prize, limit_total=1)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    killed = []
    load = Load(server.port, channel, [
        Request(path, {"customer": c.customer_ref}, key=f"kill-{i}") for i, c in enumerate(customers)
    ], retry=True, at={25: lambda: killed.append(server.kill_worker())})
    answers = load.run()
    show(answers, load)
    # A request killed after its commit never queued its award: the minute sweep does.
    measure("awards queued again by the sweep", awards.awards_sweep(grace_seconds=0)["requeued"])
    server.rq.wait_idle(campaign.pk)

    retried = [a for a in answers if any(isinstance(s, str) for s in a.seen)]
    measure("clients that lost a connection and retried", len(retried))
    measure("replayed answers", sum(a.replay for a in answers))
    grants = Grant.objects.filter(source=f"campaign:{campaign.code}")
    remaining = reservation_of(campaign).remaining
    left_in_redis = int(counters.connection().hget(counters.stock_key(campaign.pk), str(item_key(campaign))) or 0)
    measure("grants", grants.count())
    measure("units left in the database", remaining)
    measure("units left in redis", left_in_redis)
    assert killed and retried, "no request was in flight in the killed worker: the test did not bite"

    assert all(a.status in (200, 409) for a in answers), tally(answers)
    assert not any(a.code == "idempotency_in_progress" for a in answers), tally(answers)  # every retry got its answer
    assert not server_errors(answers), server.errors()[-20:]
    claimed = [a for a in answers if a.status == 200 and a.code == "claimed"]
    assert grants.count() == len(claimed) == len({a.request.key for a in claimed}) <= STOCK
    assert {a.data["grant"]["award"] for a in claimed} == set(
        Award.objects.filter(campaign=campaign, grant__in=grants).values_list("pk", flat=True)
    )
    assert most_awards_of_one_customer(campaign) <= 1
    assert grants.count() + remaining == STOCK
    assert ApiRequest.objects.filter(channel=channel).count() == len(claimed)

    # Takes of requests that died with the worker stay pending in Redis; the
    # minute sweep (runtime_sync) finds them and reloads the campaign's counters.
    with override_settings(CAMPAIGNS_TAKE_STALE_SECONDS=-1):
        fixed = state.runtime_sync()["fixed"]
    measure("campaigns reloaded by the sweep", fixed)
    assert fixed == 1 or left_in_redis == remaining
    assert int(counters.connection().hget(counters.stock_key(campaign.pk), str(item_key(campaign)))) == remaining
    left = [a for a in answers if a.status != 200]
    again = Load(server.port, channel, [
        Request(path, a.request.body, key=f"again-{i}") for i, a in enumerate(left)
    ]).run()
    measure("sold after the rebuild", sum(a.status == 200 for a in again))
    server.rq.wait_idle(campaign.pk)
    assert grants.count() == STOCK
    assert most_awards_of_one_customer(campaign) == 1


def test_fifty_concurrent_replays_of_one_idempotency_key_make_one_grant_and_one_answer(
    server, personas, prize, customers, channel
):
    campaign = flash_sale(personas, prize, limit_total=1)
    path = f"/api/v1/campaigns/{campaign.code}/claim"
    body = {"customer": customers[0].customer_ref}
    # Clients retry when told to (Retry-After), so "still in progress, come back" is fine too.
    load = Load(server.port, channel, [Request(path, body, key="the-same-key") for _ in range(50)], retry=True)
    answers = load.run()
    show(answers, load)
    measure("replayed answers", sum(a.replay for a in answers))
    server.rq.wait_idle(campaign.pk)

    assert Grant.objects.filter(source=f"campaign:{campaign.code}").count() == 1
    distinct = {(a.status, json.dumps(a.data, sort_keys=True)) for a in answers}
    assert len(distinct) == 1, tally(answers)
    assert answers[0].status == 200 and answers[0].code == "claimed"
    assert sum(a.replay for a in answers) == 49


def test_two_hundred_concurrent_draws_never_win_more_than_a_slot_holds_and_all_replay(
    server, personas, prize, customers, channel
):
    quantities = {"Cash": 15, "Bonus": 10}
    code = f"LOT-20300101-{uuid.uuid4().hex[:6].upper()}"
    campaign = go_live(
        personas=personas, kind="lottery", code=code, limit_total=None,
        kind_settings={"draws_per_day": 5, "draws_total": 5, "display": "wheel"},
        slots=[
            {"prize": prize, "role": "prize", "label": "Cash", "quantity": quantities["Cash"], "weight": 4000},
            {"prize": prize, "role": "prize", "label": "Bonus", "quantity": quantities["Bonus"], "weight": 2000},
            {"role": "none", "label": "Thanks"},
        ],
    )
    path = f"/api/v1/campaigns/{code}/draw"
    players = customers[:100]
    load = Load(server.port, channel, [
        Request(path, {"customer": c.customer_ref}, key=f"draw-{i}") for i, c in enumerate(players * 2)
    ])
    answers = load.run()
    show(answers, load)
    server.rq.wait_idle(campaign.pk)

    assert all(a.status == 200 for a in answers), tally(answers)
    revision = campaign.live_revision
    revision.refresh_from_db()
    slot_keys = {s["label"]: s["id"] for s in revision.config["slots"]}
    draws = list(Draw.objects.filter(campaign=campaign).select_related("award"))
    assert len(draws) == CLIENTS
    outcomes = Counter((d.landed_key, d.outcome) for d in draws)
    for label, quantity in quantities.items():
        key = slot_keys[label]
        won = outcomes[(key, DrawOutcome.WON)]
        measure(f"slot {label} landed", sum(n for (k, _), n in outcomes.items() if k == key))
        measure(f"slot {label} won", won)
        assert won <= quantity
        if outcomes[(key, DrawOutcome.SOLD_OUT)]:
            assert won == quantity  # told "sold out" only once the slot was really gone
        remaining = Reservation.objects.get(source_ref=f"campaign:{code}:slot:{key}").remaining
        assert remaining == quantity - won
    numbers = {}
    for d in draws:
        numbers.setdefault(d.customer_id, []).append(d.number)
    assert sorted(sorted(n) for n in numbers.values()) == [[1, 2]] * len(players)  # each number once per customer

    table, keys = alias.lottery_table(revision.config["slots"])
    drawer = alias.Drawer(revision.draw_seed, code, table, keys)
    for d in draws:
        value = alias.draw_value(revision.draw_seed, code, d.customer_id, d.number)
        assert f"{value:016x}" == d.value
        assert drawer.draw(d.customer_id, d.number) == (value, d.landed_key)
        assert (d.outcome == DrawOutcome.WON) == (d.award is not None)
        if d.award is not None:
            assert d.award.slot_key == d.landed_key
    won = sum(n for (_key, outcome), n in outcomes.items() if outcome == DrawOutcome.WON)
    assert Grant.objects.filter(source=f"campaign:{code}").count() == sum(a.code == "won" for a in answers) == won
