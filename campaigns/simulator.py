"""Simulated customers for live campaigns, through the channel API over real
HTTP (DESIGN.md §5): every request signed, an ``Idempotency-Key`` on every
POST, unique event ids, at a target rate. It gives the demo its history and
the analysis a funnel to measure — audience → viewed → joined → won →
redeemed — with business events and their amounts, for participants and for
the control group alike.

The model. Each customer's choices come from a random stream of their own
(the seed, the campaign, the customer), so a seed replays the same choices
whatever the threads do; what the server answers may still differ (who gets
the last flash-sale item is a race).

- A participant sometimes opens the campaign list first, then views the campaign.
- Control-group customers view too: the API holds them out (403
  ``control_group``, recorded as ``held_out``). They bank as usual — fund and
  wealth purchases, card spending — at ``BASE_RATE``; participants who take
  part do so ``UPLIFT`` times as often, so the analysis finds an uplift,
  noisy as small samples are.
- lottery: join, then draw until out of draws (409) or bored.
- flash sale: claim, all at once at the start (these customers go first);
  some click again.
- event: join, then one to three of the campaign's events, some below its minimum.
- task chain: join, then the tasks' events in order; some give up midway.
- referral: ask for the invite code; friends — new customers who opened an
  account today in the referrer's branch (``SIM-…``, made through the
  customers service) — accept it, and most make the qualifying event.

Requests share one token bucket (the target rate) across several threads.
Every answer is counted by campaign, action, status and code; a 5xx, a
request without an answer or an idempotent replay that answers differently is
a failure the caller reports. Without a URL the app is served in-process on a
free loopback port for the run.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import logging
import math
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from django.conf import settings
from django.db import connections
from django.http.request import validate_host
from django.utils import timezone
from pyroaring import FrozenBitMap

from audiences import services as audience_services
from audiences.models import Customer
from campaigns.api import signing
from campaigns.kinds import _common as common
from campaigns.models import ApiChannel, ApiChannelKind, Campaign, CampaignStatus
from campaigns.services import channels as channel_services

APP_CHANNEL = "Simulator (app)"
CORE_CHANNEL = "Simulator (core)"
DEFAULT_CUSTOMERS = 50
FRIEND_SOURCE = "simulator"
TIMEOUT = 30.0

# The customers' behaviour (chances are per customer, or per step where said).
P_OPEN_LIST = 0.5  # opens the campaign list before viewing
P_JOIN = 0.75  # joins after viewing (kinds with a join)
P_DRAW_AGAIN = 0.7  # draws again while draws are left
P_CLICK_AGAIN = 0.3  # claims a second time (after an item, or after "sold out")
P_EVENTS = (1, 1, 2, 3)  # the event campaign's events a participant makes
P_BELOW_MINIMUM = 0.3  # an event below the campaign's minimum amount
P_GIVE_UP = 0.2  # gives up a task chain before each next task
P_INVITE = 0.7  # a referral participant asks for a code
FRIENDS = (0, 1, 1, 2, 3)  # friends who accept a referrer's code
P_FRIEND_QUALIFIES = 0.65
P_REPLAY = 0.03  # a POST sent again with its key, as after a lost answer
P_SHOW_GRANTS = 0.5  # a winner looks at their rewards
BASE_RATE = 0.35  # a business event during the run, control group and bystanders
UPLIFT = 1.4  # participants: that many times as often
P_SECOND_EVENT = 0.3

# Business as usual: (event type, lowest and highest amount in CNY, product codes).
BUSINESS = (
    (common.EventType.FUND_PURCHASE, 1_000, 50_000, ("F-MMF01", "F-BOND02", "F-EQ03")),
    (common.EventType.WEALTH_PURCHASE, 50_000, 300_000, ("W-90D", "W-180D")),
    (common.EventType.CARD_SPEND, 20, 3_000, ()),
)


class SimulationError(Exception):
    """The simulation cannot start (a campaign not live, an unknown channel)."""


class _TimeUp(Exception):
    pass


# --- what is simulated -----------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """A channel as the simulator signs with it."""

    name: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class Plan:
    """A live campaign as its approved revision has it."""

    code: str
    kind: str
    settings: dict[str, Any]


@dataclass
class Journey:
    """One customer's visit to one campaign."""

    index: int
    plan: Plan
    customer_id: int
    ref: str
    branch_id: int
    control: bool
    rng: random.Random
    invites: bool = False
    friends: list[str] = field(default_factory=list)
    steps: int = 0

    def next_id(self, run: str) -> str:
        self.steps += 1
        return f"sim-{run}-{self.index}-{self.steps}"


def _signer(name: str, kind: str, *, create: bool) -> Signer:
    channel = ApiChannel.objects.filter(name=name).first()
    if channel is None:
        if not create:
            raise SimulationError(f"no API channel is named {name!r}")
        channel, _secret = channel_services.channel_create(actor=None, name=name, kind=kind)
    if not channel.is_active:
        raise SimulationError(f"the API channel {name!r} is not active")
    return Signer(name=channel.name, key_id=channel.key_id, secret=channel.secret)


def signers(*, channel: str | None = None, events_channel: str | None = None) -> tuple[Signer, Signer]:
    """The channel customers act through and the one business events come from:
    the named ones, else the simulator's own (made on first use)."""
    app = _signer(channel or APP_CHANNEL, ApiChannelKind.APP, create=channel is None)
    core = _signer(events_channel or CORE_CHANNEL, ApiChannelKind.CORE, create=events_channel is None)
    return app, core


def _plan_of(campaign: Campaign) -> tuple[Plan, FrozenBitMap, FrozenBitMap]:
    if campaign.status != CampaignStatus.LIVE or campaign.live_revision_id is None:
        raise SimulationError(f"{campaign.code} is not live (it is {campaign.status})")
    if campaign.kind not in KINDS:
        raise SimulationError(f"{campaign.code}: the simulator has no customers for the kind {campaign.kind!r}")
    revision = campaign.live_revision
    audience = getattr(revision, "audience", None)
    if audience is None:
        raise SimulationError(f"{campaign.code} has no frozen audience")
    members = FrozenBitMap.deserialize(bytes(audience.members))
    control = FrozenBitMap.deserialize(bytes(audience.control))
    plan = Plan(code=campaign.code, kind=campaign.kind, settings=revision.config.get("kind_settings") or {})
    return plan, members - control, control


def plan_journeys(campaigns: Sequence[Campaign], *, customers: int, seed: int, run: str) -> list[list[Journey]]:
    """Per campaign, ``customers`` participants from its audience and control-group
    customers in the audience's proportion, in a seeded random order."""
    found: list[list[Journey]] = []
    index = itertools.count(1)
    for campaign in campaigns:
        subject, participants, control = _plan_of(campaign)
        pick = random.Random(f"{seed}:{subject.code}")  # noqa: S311 - a simulation, reproducible on purpose
        chosen = pick.sample(list(participants), min(customers, len(participants)))
        share = len(control) / max(1, len(participants))
        held = pick.sample(list(control), min(len(control), math.ceil(len(chosen) * share)))
        mix = [(c, False) for c in chosen] + [(c, True) for c in held]
        pick.shuffle(mix)
        refs = _refs([c for c, _control in mix])
        journeys = []
        for customer_id, in_control in mix:
            if customer_id not in refs:
                continue  # deleted since the audience was frozen
            ref, branch_id = refs[customer_id]
            rng = random.Random(f"{seed}:{subject.code}:{customer_id}")  # noqa: S311
            journey = Journey(
                index=next(index), plan=subject, customer_id=customer_id, ref=ref, branch_id=branch_id,
                control=in_control, rng=rng,
            )
            if subject.kind == "referral" and not in_control and rng.random() < P_INVITE:
                journey.invites = True
                journey.friends = [f"SIM-{run}-{journey.index}-{n}" for n in range(rng.choice(FRIENDS))]
            journeys.append(journey)
        found.append(journeys)
    return found


def _refs(ids: list[int]) -> dict[int, tuple[str, int]]:
    refs: dict[int, tuple[str, int]] = {}
    for start in range(0, len(ids), 900):  # below SQLite's limit on query parameters
        rows = Customer.objects.filter(pk__in=ids[start : start + 900]).values_list("pk", "customer_ref", "branch_id")
        refs.update({pk: (ref, branch_id) for pk, ref, branch_id in rows})
    return refs


def friends_create(journeys: Sequence[Journey]) -> int:
    """The referrers' friends as new customers: opened today, in the referrer's
    branch. One upsert for all of them (each call locks the whole bitmap index)."""
    today = timezone.localdate()
    rows = [
        audience_services.CustomerRow(
            customer_ref=ref, name=f"模拟好友 Simulated friend {ref[4:]}",
            phone=f"199{journey.rng.randrange(10**8):08d}", branch_id=journey.branch_id, opened_on=today,
        )
        for journey in journeys
        for ref in journey.friends
    ]
    if rows:
        audience_services.customers_upsert(rows=rows, source_ref=FRIEND_SOURCE)
    return len(rows)


def _order(groups: list[list[Journey]]) -> Iterator[Journey]:
    """Flash sales first, all at once (the rush at the opening); the other
    campaigns' customers interleaved."""
    for group in groups:
        if group and group[0].plan.kind == "flash_sale":
            yield from group
    rest = [g for g in groups if g and g[0].plan.kind != "flash_sale"]
    for row in itertools.zip_longest(*rest):
        yield from (journey for journey in row if journey is not None)


# --- the report ------------------------------------------------------------------------------


@dataclass
class Report:
    """How a run went: answers counted by (campaign, action, status, code),
    and the first few failures in words. Shared by the run's threads."""

    seed: int
    served: str
    target_rate: float
    campaigns: int = 0
    customers: int = 0
    control: int = 0
    friends: int = 0
    requests: int = 0
    seconds: float = 0.0
    replays: int = 0
    # Awards granted after an in-process run (None: the server's worker grants them).
    granted: int | None = None
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ok(self) -> bool:
        return self.failure_count == 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, campaign: str, action: str, status: int, code: str) -> None:
        with self._lock:
            self.requests += 1
            self.answers[(campaign, action, status, code)] += 1

    def replayed(self) -> None:
        with self._lock:
            self.replays += 1

    def fail(self, message: str) -> None:
        with self._lock:
            self.failure_count += 1
            if len(self.failures) < 10:
                self.failures.append(message)

    def by_status(self) -> Counter:
        found: Counter = Counter()
        for (_campaign, _action, status, _code), n in self.answers.items():
            found[status] += n
        return found

    def headline(self) -> str:
        return (
            f"{self.requests} requests in {self.seconds:.1f}s = {self.per_second:.1f} requests/s "
            f"(target {self.target_rate:g}) for {self.campaigns} campaign(s), {self.customers} customers "
            f"({self.control} in control groups), {self.friends} new friends; {self.replays} idempotent replays, "
            f"{self.failure_count} failure(s)"
        )

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.by_status().items()))
        lines = [
            f"simulate_traffic: seed {self.seed}, served by {self.served}",
            f"simulate_traffic: {self.headline()}",
            f"simulate_traffic: answers by status: {statuses or 'none'}",
        ]
        if self.granted is not None:
            lines.append(f"simulate_traffic: {self.granted} award(s) granted after the run (no background worker)")
        lines += [
            f"  {campaign:<20} {action:<15} {status:>3} {code:<22} {n:>6}"
            for (campaign, action, status, code), n in sorted(self.answers.items())
        ]
        lines += [f"  failed: {message}" for message in self.failures]
        return lines


def answer_code(status: int, data: dict[str, Any], campaign: str) -> str:
    """What an answer said, in a word: the error code, or the outcome."""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or "error")
    if "results" in data:  # a business event: what this campaign made of it
        outcomes = [r.get("outcome") for r in data["results"] if r.get("campaign") == campaign]
        if outcomes:
            return str(outcomes[0])
        return "duplicate" if data.get("duplicate") else "recorded"
    if "result" in data:
        return str(data["result"])
    if "joined" in data:
        return "already" if data.get("already") else "joined"
    if "created" in data:
        return "code_made" if data["created"] else "code_again"
    if "referral" in data:
        return "accepted"
    if "campaigns" in data or "grants" in data:
        return "listed"
    return "recorded" if data.get("recorded") else ("ok" if status < 400 else "error")


# --- the client ------------------------------------------------------------------------------


class TokenBucket:
    """``rate`` tokens a second, up to a tenth of a second's worth at once.
    A taker reserves its token (the level may go below zero) and sleeps until
    it is due, so waiting threads are served in turn."""

    def __init__(self, rate: float):
        self.rate = rate
        self.capacity = max(1.0, rate / 10)
        self.level = self.capacity
        self.at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self.level = min(self.capacity, self.level + (now - self.at) * self.rate) - 1
            self.at = now
            wait = -self.level / self.rate if self.level < 0 else 0.0
        if wait:
            time.sleep(wait)


class Client:
    """Signed JSON requests to one server, paced and counted."""

    def __init__(
        self, url: str, *, app: Signer, core: Signer, bucket: TokenBucket, report: Report, run: str,
        deadline: float | None, host: str | None = None,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SimulationError(f"not an http(s) URL: {url!r}")
        self.connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.hostname, self.port = parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.host = host or parts.netloc
        self.app, self.core, self.bucket, self.report, self.run = app, core, bucket, report, run
        self.deadline = deadline

    def time_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, bool]:
        if self.time_up():
            raise _TimeUp
        self.bucket.take()
        if self.time_up():  # the token came due after the end
            raise _TimeUp
        connection = self.connection_class(self.hostname, self.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body or None, headers={**headers, "Host": self.host})
            response = connection.getresponse()
            return response.status, response.read(), response.getheader("Idempotent-Replay") == "true"
        except (OSError, http.client.HTTPException) as exc:
            return 0, str(exc).encode(), False
        finally:
            connection.close()

    def _request(
        self, journey: Journey, signer: Signer, method: str, path: str, payload: dict[str, Any] | None, action: str
    ) -> tuple[int, dict[str, Any]]:
        full = self.prefix + path
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = signing.sign_headers(key_id=signer.key_id, secret=signer.secret, method=method, path=full, body=body)
        if method == "POST":
            headers["Idempotency-Key"] = journey.next_id(self.run)
        status, raw, _replayed = self._send(method, full, body, headers)
        data = _json(raw)
        self.report.count(journey.plan.code, action, status, answer_code(status, data, journey.plan.code))
        if status >= 500 or status == 0:
            self.report.fail(f"server error: {method} {path} ({action}): {status} {raw[:200].decode(errors='replace')}")
        elif method == "POST" and status < 300 and journey.rng.random() < P_REPLAY:
            self._replay(journey, method, full, body, headers, status, raw, action)
        return status, data

    def _replay(self, journey, method, full, body, headers, status, raw, action) -> None:
        """The same request again, key and all. An answer that changed something
        comes back marked as a replay; one that changed nothing (already joined)
        is simply given again. Anything else would be a second effect."""
        again, raw_again, replayed = self._send(method, full, body, headers)
        self.report.count(journey.plan.code, f"{action} replay", again, "replayed" if replayed else "answered_again")
        self.report.replayed()
        if again != status or (not replayed and raw_again != raw):
            self.report.fail(f"replay of {method} {full} ({action}) answered {again} (first {status}), replayed={replayed}")

    def get(self, journey: Journey, path: str, *, action: str) -> tuple[int, dict[str, Any]]:
        return self._request(journey, self.app, "GET", path, None, action)

    def act(self, journey: Journey, verb: str, *, action: str | None = None, **extra: Any) -> tuple[int, dict[str, Any]]:
        """A customer action on the journey's campaign (view, join, draw, claim, invite)."""
        path = f"/api/v1/campaigns/{journey.plan.code}/{verb}"
        return self._request(journey, self.app, "POST", path, {"customer": journey.ref, **extra}, action or verb)

    def post(self, journey: Journey, path: str, payload: dict[str, Any], *, action: str) -> tuple[int, dict[str, Any]]:
        return self._request(journey, self.app, "POST", path, payload, action)

    def event(
        self, journey: Journey, *, event_type: str, amount: Decimal | None, product: str = "", action: str,
        customer: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        payload: dict[str, Any] = {"event_id": journey.next_id(self.run), "customer": customer or journey.ref, "type": event_type}
        if amount is not None:
            payload["amount"] = str(amount)
        if product:
            payload["product"] = product
        return self._request(journey, self.core, "POST", "/api/v1/events", payload, action)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- the customers ---------------------------------------------------------------------------


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))


def _between(rng: random.Random, low: float, high: float) -> Decimal:
    """An amount between ``low`` and ``high``, small ones more often (log-uniform)."""
    return _money(math.exp(rng.uniform(math.log(low), math.log(high))))


def _amount(rng: random.Random, event: str, minimum: Decimal | None) -> Decimal | None:
    if event not in common.EVENTS_WITH_AMOUNT:
        return None
    if minimum is None:
        return _between(rng, 50, 20_000)
    if rng.random() < P_BELOW_MINIMUM:
        return _money(float(minimum) * rng.uniform(0.1, 0.95))
    return _between(rng, float(minimum), float(minimum) * 8)


def _business(journey: Journey, client: Client, rate: float) -> None:
    """Business as usual: fund and wealth purchases, card spending."""
    rng = journey.rng
    if rng.random() >= rate:
        return
    for _ in range(2 if rng.random() < P_SECOND_EVENT else 1):
        event, low, high, products = rng.choice(BUSINESS)
        client.event(
            journey, event_type=event, amount=_between(rng, low, high), product=rng.choice(products) if products else "",
            action="business",
        )


def _join(journey: Journey, client: Client) -> bool:
    if journey.rng.random() >= P_JOIN:
        return False
    return client.act(journey, "join")[0] == 200


def _lottery(journey: Journey, client: Client) -> bool:
    if not _join(journey, client):
        return False
    won = False
    # One more than allowed: customers keep pressing until told they are out of draws.
    for _ in range(int(journey.plan.settings.get("draws_total") or 1) + 1):
        status, data = client.act(journey, "draw")
        if status != 200:
            break
        won = won or data.get("result") == "won"
        if journey.rng.random() >= P_DRAW_AGAIN:
            break
    if won and journey.rng.random() < P_SHOW_GRANTS:
        client.get(journey, f"/api/v1/customers/{journey.ref}/grants", action="grants")
    return True


def _flash_sale(journey: Journey, client: Client) -> bool:
    status, _data = client.act(journey, "claim")
    if status in (200, 409) and journey.rng.random() < P_CLICK_AGAIN:
        client.act(journey, "claim", action="claim again")
    return status == 200


def _event(journey: Journey, client: Client) -> bool:
    if not _join(journey, client):
        return False
    rules, rng = journey.plan.settings, journey.rng
    event = rules.get("event_type") or common.EventType.FIRST_DEPOSIT
    minimum = common.money_value(rules.get("min_amount"))
    for _ in range(rng.choice(P_EVENTS)):
        product = rules.get("product") or ""
        if not product and event in common.EVENTS_WITH_PRODUCT:
            product = rng.choice(("F-MMF01", "F-BOND02", "W-90D"))
        client.event(journey, event_type=event, amount=_amount(rng, event, minimum), product=product, action="event")
    return True


def _task_chain(journey: Journey, client: Client) -> bool:
    if not _join(journey, client):
        return False
    rules, rng = journey.plan.settings, journey.rng
    tasks = list(rules.get("tasks") or [])
    order = list(range(len(tasks)))
    if rules.get("order") != "in_order":
        rng.shuffle(order)
    for n, i in enumerate(order):
        if n and rng.random() < P_GIVE_UP:
            break
        task = tasks[i]
        count = int(task.get("target_count") or 1)
        target = common.money_value(task.get("target_amount"))
        for _ in range(count):
            if target is not None:
                amount = _money(float(target) / count * rng.uniform(1.0, 1.6))
            else:
                amount = _amount(rng, task.get("event", ""), None)
            client.event(journey, event_type=task.get("event", ""), amount=amount, action="event")
    return True


def _referral(journey: Journey, client: Client) -> bool:
    if not journey.invites:
        return False
    status, data = client.act(journey, "invite")
    if status != 200 or "code" not in data:
        return False
    rules, rng = journey.plan.settings, journey.rng
    event = rules.get("qualifying_event") or common.EventType.FIRST_DEPOSIT
    for friend in journey.friends:
        accepted, _data = client.post(journey, "/api/v1/referrals", {"customer": friend, "code": data["code"]}, action="referral")
        if accepted == 201 and rng.random() < P_FRIEND_QUALIFIES:
            client.event(journey, customer=friend, event_type=event, amount=_amount(rng, event, None), action="qualify")
    return True


KINDS: dict[str, Callable[[Journey, Client], bool]] = {
    "lottery": _lottery,
    "flash_sale": _flash_sale,
    "event": _event,
    "task_chain": _task_chain,
    "referral": _referral,
}


def run_journey(journey: Journey, client: Client) -> None:
    if journey.rng.random() < P_OPEN_LIST:
        client.get(journey, f"/api/v1/customers/{journey.ref}/campaigns", action="list")
    status, _data = client.act(journey, "view")
    if journey.control:
        _business(journey, client, BASE_RATE)  # held out, and banking as usual
        return
    if status != 200:
        return
    took_part = KINDS[journey.plan.kind](journey, client)
    _business(journey, client, BASE_RATE * UPLIFT if took_part else BASE_RATE)


# --- the server ------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        """The report counts the answers; no line per request."""


class _PooledServer(WSGIServer):
    """wsgiref's server with a fixed pool of request threads: each keeps its
    database connection between requests and closes it when the server stops
    (a thread per request would leave a connection behind each time)."""

    def __init__(self, workers: int):
        super().__init__(("127.0.0.1", 0), _QuietHandler)
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulator-server")

    def process_request(self, request, client_address) -> None:
        self.pool.submit(self._handle, request, client_address)

    def _handle(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        # One closing task per thread: the barrier holds each thread until all
        # have one, so no thread takes two and none is left with its connection.
        barrier = threading.Barrier(self.workers)

        def close() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            connections.close_all()

        for _ in range(self.workers):
            self.pool.submit(close)
        self.pool.shutdown(wait=True)


def _in_memory_database() -> bool:
    connection = connections["default"]
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def _allowed_host() -> str:
    """A Host header the app accepts for the loopback server."""
    if validate_host("127.0.0.1", settings.ALLOWED_HOSTS):
        return "127.0.0.1"
    return next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h != "*"), "127.0.0.1")


@contextlib.contextmanager
def serve_in_process(*, threads: int) -> Iterator[tuple[str, str, int]]:
    """The app on a free loopback port while the block runs: (URL, Host, request threads).

    An in-memory SQLite database (the tests') is shared between connections
    with table locks that do not wait, so its requests are served one at a time."""
    from config.wsgi import application

    def behind_tls(environ, start_response):
        # The loopback server stands where the TLS-terminating proxy would:
        # the app must not redirect it to https.
        environ["wsgi.url_scheme"] = "https"
        return application(environ, start_response)

    workers = 1 if _in_memory_database() else threads
    server = _PooledServer(workers)
    server.set_app(behind_tls)
    accept = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="simulator-accept", daemon=True
    )
    # Refusals (4xx) are the simulation's everyday answers and the report counts
    # them; server errors are still logged.
    requests_log = logging.getLogger("django.request")
    level = requests_log.level
    requests_log.setLevel(max(level, logging.ERROR))
    accept.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _allowed_host(), workers
    finally:
        server.shutdown()
        accept.join()
        server.server_close()
        requests_log.setLevel(level)


# --- a run -----------------------------------------------------------------------------------


def simulate(
    *,
    campaigns: Sequence[Campaign],
    customers: int | None = None,
    duration: float | None = None,
    rate: float = 50.0,
    threads: int = 4,
    seed: int | None = None,
    url: str | None = None,
    channel: str | None = None,
    events_channel: str | None = None,
) -> Report:
    """Simulate customers of ``campaigns`` (live) over HTTP: ``customers``
    participants per campaign (plus control-group customers), or as many as
    ``duration`` seconds allow, at ``rate`` requests a second from ``threads``
    threads. Sends to ``url``, or serves the app in-process for the run.
    SimulationError when it cannot start; the report says how it went.

    Referrers' friends are made before the run, for every planned referrer: a
    run cut short by ``duration`` may leave some who never got to accept."""
    if not campaigns:
        raise SimulationError("no campaign to simulate")
    if customers is None:
        # Enough customers for the duration: a customer makes at least two requests.
        customers = math.ceil(duration * rate / len(campaigns) / 2) if duration else DEFAULT_CUSTOMERS
    seed = secrets.randbelow(10**9) if seed is None else seed
    run = secrets.token_hex(4)
    app, core = signers(channel=channel, events_channel=events_channel)
    groups = plan_journeys(campaigns, customers=customers, seed=seed, run=run)
    journeys = [journey for group in groups for journey in group]
    report = Report(seed=seed, served=url or "", target_rate=rate, campaigns=len(campaigns))
    report.customers = len(journeys)
    report.control = sum(1 for journey in journeys if journey.control)
    report.friends = friends_create(journeys)

    serving = contextlib.nullcontext((url, None, 0)) if url else serve_in_process(threads=threads)
    with serving as (base, host, workers):
        if not url:
            report.served = f"the app in-process ({workers} request thread(s))"
        started = time.monotonic()
        client = Client(
            base, app=app, core=core, bucket=TokenBucket(rate), report=report, run=run,
            deadline=started + duration if duration else None, host=host,
        )
        queue, lock = _order(groups), threading.Lock()

        def work() -> None:
            while not client.time_up():
                with lock:
                    journey = next(queue, None)
                if journey is None:
                    return
                try:
                    run_journey(journey, client)
                except _TimeUp:
                    return

        workers_ = [threading.Thread(target=work, name=f"simulator-{n}") for n in range(threads)]
        for thread in workers_:
            thread.start()
        for thread in workers_:
            thread.join()
        report.seconds = time.monotonic() - started
    if not url:
        # The in-process app has no background worker: grant what its requests won, as one would.
        from campaigns.runtime import awards

        report.granted = awards.awards_drain_all()["granted"]
    return report
