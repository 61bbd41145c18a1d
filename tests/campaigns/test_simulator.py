"""The traffic simulator against live campaigns of every kind, over real HTTP
to the app served in-process: what it records for the analysis, the control
group it keeps, and the limits that hold under its load."""

import http.server
import io
import re
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, Max
from django.utils import timezone
from pyroaring import FrozenBitMap

from audiences.models import Customer
from campaigns import simulator
from campaigns.models import (
    Activity,
    ActivityKind,
    ApiChannel,
    Award,
    BusinessEvent,
    Draw,
    Referral,
    ReferralStatus,
    TaskProgress,
)
from rewards.models import Grant
from tests.campaigns.runtime_helpers import go_live

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = 20  # participants per campaign (of 32), plus 5 of the 8 in its control group
DRAWS = 3


@pytest.fixture
def customers(tree, make_customers):
    return make_customers(40, tree.bj)


def _slot(prize, role, label, quantity, **fields):
    return {"prize": prize, "role": role, "label": label, "quantity": quantity, **fields}


def _lottery(personas, cash, points):
    return go_live(
        personas=personas, kind="lottery", code="LOT-20300101-SIM", limit_total=2, control_percent=20,
        kind_settings={"draws_per_day": DRAWS, "draws_total": DRAWS, "display": "wheel"},
        slots=[
            _slot(cash, "prize", "Cash", 10, weight=3000),
            _slot(points, "prize", "Points", 50, weight=3000),
            {"role": "none", "label": "Thanks"},
        ],
    )


@pytest.fixture
def lottery(personas, prizes, customers):
    _gift, cash, points = prizes
    return _lottery(personas, cash, points)


@pytest.fixture
def live(personas, prizes, customers):
    """One live campaign of every kind, for the same 40 Beijing customers, 20 % held out."""
    gift, cash, points = prizes
    common = {"personas": personas, "control_percent": 20}
    return {
        "lottery": _lottery(personas, cash, points),
        "flash_sale": go_live(
            kind="flash_sale", code="FS-20300101-SIM", limit_total=1,
            slots=[_slot(gift, "item", "Umbrella", 4, options={"price_points": 100})], **common,
        ),
        "event": go_live(
            kind="event", code="EVT-20300101-SIM", limit_total=1,
            kind_settings={"event_type": "first_deposit", "min_amount": "1000.00", "product": ""},
            slots=[_slot(cash, "reward", "Cash", 30)], **common,
        ),
        "task_chain": go_live(
            kind="task_chain", code="TSK-20300101-SIM",
            kind_settings={"order": "in_order", "tasks": [
                {"event": "login", "target_count": 2, "target_amount": None},
                {"event": "fund_purchase", "target_count": 1, "target_amount": "500.00"},
            ]},
            slots=[_slot(points, "step", "Step 1", 30, options={"step": 1}), _slot(cash, "chain", "Chain", 30)],
            **common,
        ),
        "referral": go_live(
            kind="referral", code="REF-20300101-SIM",
            kind_settings={"qualifying_event": "first_deposit", "window_days": 30, "cap_per_referrer": 1},
            slots=[_slot(cash, "referrer", "Referrer", 30), _slot(points, "referee", "Welcome", 30)], **common,
        ),
    }


def simulate(campaigns, **options):
    options = {"customers": CUSTOMERS, "rate": 400.0, "threads": 4, "seed": 7, **options}
    return simulator.simulate(campaigns=list(campaigns), **options)


def kinds_recorded(campaign) -> set[str]:
    return set(Activity.objects.filter(campaign=campaign).values_list("kind", flat=True))


def test_every_kind_runs_end_to_end_over_http_without_server_errors(live, tree):
    report = simulate(live.values())
    assert report.ok, report.failures
    assert report.requests > 200 and not [s for s in report.by_status() if s >= 500 or s == 0]
    assert report.requests == sum(report.answers.values())
    seen = {ActivityKind.VIEW, ActivityKind.HELD_OUT}
    assert seen | {ActivityKind.JOIN, ActivityKind.DRAW, ActivityKind.WIN} <= kinds_recorded(live["lottery"])
    assert Draw.objects.filter(campaign=live["lottery"]).count() == report.answers[
        (live["lottery"].code, "draw", 200, "won")
    ] + report.answers[(live["lottery"].code, "draw", 200, "no_prize")]
    assert seen | {ActivityKind.CLAIM} <= kinds_recorded(live["flash_sale"])
    assert seen | {ActivityKind.JOIN, ActivityKind.EVENT} <= kinds_recorded(live["event"])
    assert seen | {ActivityKind.JOIN, ActivityKind.EVENT, ActivityKind.STEP} <= kinds_recorded(live["task_chain"])
    assert seen | {ActivityKind.INVITE, ActivityKind.REFERRAL, ActivityKind.EVENT} <= kinds_recorded(live["referral"])
    for campaign in live.values():
        assert Award.objects.filter(campaign=campaign).exists(), campaign.code
    assert TaskProgress.objects.filter(campaign=live["task_chain"]).exists()
    assert Referral.objects.filter(campaign=live["referral"], status=ReferralStatus.REWARDED).exists()
    assert BusinessEvent.objects.filter(type="fund_purchase", amount__gt=0).exists()
    # The referees are new customers: opened today in their referrer's branch.
    friends = Customer.objects.filter(customer_ref__startswith="SIM-")
    assert friends.count() == report.friends > 0
    assert set(friends.values_list("opened_on", "branch")) == {(timezone.localdate(), tree.bj.pk)}
    assert set(Referral.objects.values_list("referee__customer_ref", flat=True)) <= set(
        friends.values_list("customer_ref", flat=True)
    )


def test_control_group_customers_are_held_out_but_their_business_is_recorded(live):
    assert simulate(live.values()).ok
    held_out = set()
    for campaign in live.values():
        control = set(FrozenBitMap.deserialize(bytes(campaign.live_revision.audience.control)))
        held = set(
            Activity.objects.filter(campaign=campaign, kind=ActivityKind.HELD_OUT).values_list("customer", flat=True)
        )
        assert held and held <= control, campaign.code
        assert not Activity.objects.filter(campaign=campaign, customer__in=control).exclude(
            kind=ActivityKind.HELD_OUT
        ).exists()
        assert not Award.objects.filter(campaign=campaign, customer__in=control).exists()
        held_out |= held
    assert BusinessEvent.objects.filter(customer__in=held_out, amount__gt=0).exists()


def test_under_simulated_load_no_customer_passes_a_limit_and_no_prize_its_stock(live):
    assert simulate(live.values(), customers=32, threads=8, rate=1000.0, seed=11).ok
    for kind in ("lottery", "flash_sale", "event"):
        campaign = live[kind]
        most = Award.objects.filter(campaign=campaign).values("customer").annotate(n=Count("id")).aggregate(m=Max("n"))
        assert (most["m"] or 0) <= campaign.limit_total, kind
    draws = Draw.objects.filter(campaign=live["lottery"]).values("customer").annotate(n=Count("id"))
    assert max(row["n"] for row in draws) <= DRAWS
    referrers = Award.objects.filter(campaign=live["referral"], action="referrer").values("customer").annotate(n=Count("id"))
    assert all(row["n"] <= 1 for row in referrers)  # the cap per referrer
    for campaign in live.values():
        for slot in campaign.slots.exclude(prize=None).select_related("reservation"):
            granted = Grant.objects.filter(reservation=slot.reservation).count()
            assert granted <= slot.quantity and slot.reservation.remaining == slot.quantity - granted, slot.label
    # 32 customers rushed for 4 umbrellas: all sold, none oversold.
    assert Grant.objects.filter(source=f"campaign:{live['flash_sale'].code}").count() == 4


def test_the_same_seed_picks_the_same_customers_and_makes_the_same_choices(lottery):
    def picks(seed, run):
        (journeys,) = simulator.plan_journeys([lottery], customers=8, seed=seed, run=run)
        return [(j.ref, j.control, j.rng.random()) for j in journeys]

    assert picks(5, "a") == picks(5, "b") != picks(6, "c")


def test_with_a_duration_the_simulator_keeps_to_the_target_rate(lottery):
    report = simulator.simulate(campaigns=[lottery], duration=1.5, rate=20.0, threads=4, seed=3)
    assert report.ok, report.failures
    assert 1.5 <= report.seconds < 3
    # The bucket lets two requests through at once, then 20 a second; none after the end.
    assert 10 <= report.requests <= 2 + 20 * 1.5


def test_the_command_simulates_the_named_campaigns_and_prints_what_it_got(lottery):
    out = io.StringIO()
    call_command(
        "simulate_traffic", "--campaign", lottery.code, "--customers", "6", "--rate", "300", "--seed", "1", stdout=out
    )
    text = out.getvalue()
    assert "requests/s" in text and "0 failure(s)" in text
    assert re.search(rf"{lottery.code}\s+view\s+200 recorded\s+6\n", text)
    assert set(ApiChannel.objects.values_list("name", "kind")) == {
        (simulator.APP_CHANNEL, "app"), (simulator.CORE_CHANNEL, "core"),
    }
    assert Activity.objects.filter(campaign=lottery, kind=ActivityKind.VIEW).count() == 6


def test_the_command_refuses_unknown_and_not_live_campaigns(campaign):
    with pytest.raises(CommandError, match="no campaign has the code NOPE"):
        call_command("simulate_traffic", "--campaign", "NOPE")
    with pytest.raises(CommandError, match="is not live"):
        call_command("simulate_traffic", "--campaign", campaign.code)
    with pytest.raises(CommandError, match="no API channel is named"):
        call_command("simulate_traffic", "--all-live", "--campaign", campaign.code, "--channel", "Missing")


@pytest.fixture
def broken_server():
    """A server that answers every request with a 500."""

    class Broken(http.server.BaseHTTPRequestHandler):
        def _fail(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"code": "boom", "message": "broken"}}')

        do_GET = do_POST = _fail

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def test_server_errors_are_reported_and_make_the_command_fail(lottery, broken_server):
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed"):
        call_command(
            "simulate_traffic", "--campaign", lottery.code, "--customers", "3", "--url", broken_server, stdout=out
        )
    text = out.getvalue()
    assert "500 boom" in text and "failed: server error: POST /api/v1/campaigns" in text
