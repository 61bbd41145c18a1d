"""A live campaign as the runtime serves it: read from its approved revision
(never from the working copy), compiled once per process and revision.

``Runtime`` holds what every request needs without the database: the window,
the channels, the slots and their costs, the lottery's alias table, the frozen
audience and control group. The blacklist is re-read at most every
``BLACKLIST_TTL`` seconds (tags change while a campaign runs; the audience
does not). Loading into Redis (``runtime_load``) and rebuilding after a loss
(``runtime_rebuild``) live here too: both compute the counters from the
database, the truth.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone
from pyroaring import FrozenBitMap

from audiences import bitmaps
from campaigns.models import Award, Campaign, CampaignStatus, Draw, Referral
from campaigns.runtime import counters
from campaigns.runtime.alias import AliasTable, Drawer, lottery_table
from rewards.models import Prize, Reservation

BLACKLIST_TTL = 30.0
PRIZE_TTL = 30.0
# Redis state of a campaign by its status: only "live" is served.
STATES = {
    CampaignStatus.APPROVED: "approved",
    CampaignStatus.LIVE: "live",
    CampaignStatus.PAUSED: "paused",
    CampaignStatus.ENDED: "ended",
}


def fen(amount: Decimal | str | None) -> int | None:
    """CNY to whole fen (the counters' unit); None stays None."""
    if amount is None or amount == "":
        return None
    return int((Decimal(str(amount)) * 100).to_integral_value())


def local_day(at: dt.datetime | None = None) -> dt.date:
    """The bank's calendar day (settings.TIME_ZONE): per-day limits and budgets reset at its midnight."""
    return timezone.localdate(at or timezone.now())


@dataclass
class Slot:
    key: int
    role: str
    label: str
    position: int
    prize_id: int | None
    prize_name: str
    prize_kind: str
    unit_cost: Decimal
    quantity: int
    weight: int
    options: dict[str, Any]
    reservation_id: int | None

    @property
    def cost_fen(self) -> int:
        return fen(self.unit_cost) or 0


@dataclass
class Runtime:
    campaign_id: int
    code: str
    name: str
    kind: str
    revision_id: int
    config: dict[str, Any]
    starts_at: dt.datetime
    ends_at: dt.datetime
    channels: frozenset[str]
    slots: dict[int, Slot]
    members: FrozenBitMap
    control: FrozenBitMap
    draw_seed: str
    draw_seed_hash: str
    table: AliasTable | None = None
    table_keys: list[int | None] = field(default_factory=list)
    drawer: Drawer | None = None
    _blacklist: FrozenBitMap | None = None
    _blacklist_at: float = 0.0
    _prizes: dict[int, tuple[float, Prize]] = field(default_factory=dict)

    # --- rules -------------------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        return self.config.get("kind_settings") or {}

    @property
    def limit_total(self) -> int | None:
        return self.config.get("limit_total")

    @property
    def limit_per_day(self) -> int | None:
        return self.config.get("limit_per_day")

    @property
    def budget_total_fen(self) -> int | None:
        return fen(self.config.get("budget_total"))

    @property
    def budget_day_fen(self) -> int | None:
        return fen(self.config.get("budget_daily"))

    def slots_of(self, *roles: str) -> list[Slot]:
        return sorted((s for s in self.slots.values() if s.role in roles), key=lambda s: (s.position, s.key))

    def counter_ttl(self) -> int:
        """Seconds the per-customer counters must outlive: to a week after the end."""
        return max(60, int((self.ends_at - timezone.now()).total_seconds()) + 7 * 86_400)

    def prize(self, prize_id: int) -> Prize:
        """The prize with its pool (unit cost, validity), re-read at most every
        ``PRIZE_TTL`` seconds: a grant uses the cost of that moment."""
        now = time.monotonic()
        cached = self._prizes.get(prize_id)
        if cached is None or now - cached[0] > PRIZE_TTL:
            cached = (now, Prize.objects.select_related("pool").get(pk=prize_id))
            self._prizes[prize_id] = cached
        return cached[1]

    def blacklisted(self, customer_id: int) -> bool:
        tags = self.config.get("blacklist_tags") or []
        if not tags:
            return False
        now = time.monotonic()
        if self._blacklist is None or now - self._blacklist_at > BLACKLIST_TTL:
            maps = bitmaps.get_many([bitmaps.tag_key(ref["id"]) for ref in tags]).values()
            self._blacklist = FrozenBitMap().union(*maps) if maps else FrozenBitMap()
            self._blacklist_at = now
        return customer_id in self._blacklist


def _compile(campaign: Campaign) -> Runtime:
    revision = campaign.live_revision
    config = revision.config
    prize_ids = {s["prize"]["id"] for s in config["slots"] if s.get("prize")}
    prizes = Prize.objects.in_bulk(prize_ids)
    prefix = f"campaign:{campaign.code}:slot:"
    reservations = {
        int(r.source_ref[len(prefix):]): r.pk
        for r in Reservation.objects.filter(source_ref__startswith=prefix, released_at__isnull=True)
        if r.source_ref[len(prefix):].isdigit()
    }
    slots = {}
    for s in config["slots"]:
        prize = prizes.get(s["prize"]["id"]) if s.get("prize") else None
        slots[s["id"]] = Slot(
            key=s["id"], role=s["role"], label=s["label"], position=s["position"],
            prize_id=prize.pk if prize else None, prize_name=prize.name if prize else "",
            prize_kind=prize.kind if prize else "", unit_cost=prize.unit_cost if prize else Decimal("0"),
            quantity=s["quantity"], weight=s["weight"], options=s.get("options") or {},
            reservation_id=reservations.get(s["id"]) if prize else None,
        )
    audience = getattr(revision, "audience", None)
    members = FrozenBitMap.deserialize(bytes(audience.members)) if audience else FrozenBitMap()
    control = FrozenBitMap.deserialize(bytes(audience.control)) if audience else FrozenBitMap()
    runtime = Runtime(
        campaign_id=campaign.pk, code=campaign.code, name=config["name"], kind=campaign.kind,
        revision_id=revision.pk, config=config, starts_at=dt.datetime.fromisoformat(config["starts_at"]),
        ends_at=dt.datetime.fromisoformat(config["ends_at"]),
        channels=frozenset(c["channel"] for c in config["channels"] if c["enabled"]),
        slots=slots, members=members, control=control, draw_seed=revision.draw_seed,
        draw_seed_hash=revision.draw_seed_hash,
    )
    if campaign.kind == "lottery" and any(s.role == "prize" for s in slots.values()):
        runtime.table, runtime.table_keys = lottery_table(config["slots"])
        runtime.drawer = Drawer(runtime.draw_seed, runtime.code, runtime.table, runtime.table_keys)
    return runtime


class _Cache:
    """Compiled runtimes by campaign code, valid for one revision."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_code: dict[str, Runtime] = {}
        self._ids: dict[str, int] = {}

    def campaign_id(self, code: str) -> int | None:
        """The id of a campaign by code (cached; None when unknown)."""
        found = self._ids.get(code)
        if found is None:
            found = Campaign.objects.filter(code=code).values_list("pk", flat=True).first()
            if found is not None:
                with self._lock:
                    self._ids[code] = found
        return found

    def get(self, code: str, revision_id: int | None = None) -> Runtime | None:
        """The runtime of ``code`` at ``revision_id`` (the one Redis says is live;
        None: whatever the database says). None when the campaign has no approved revision."""
        runtime = self._by_code.get(code)
        if runtime is not None and (revision_id is None or runtime.revision_id == revision_id):
            return runtime
        campaign = (
            Campaign.objects.select_related("live_revision__audience").filter(code=code).first()
        )
        if campaign is None or campaign.live_revision_id is None:
            return None
        runtime = _compile(campaign)
        with self._lock:
            self._by_code[code] = runtime
        return runtime

    def clear(self) -> None:
        with self._lock:
            self._by_code.clear()
            self._ids.clear()


cache = _Cache()


# --- counters from the database -----------------------------------------------------------


def _counters_from_db(campaign: Campaign, runtime: Runtime) -> tuple[dict, dict, dict]:
    """(free units per slot, budget spent in fen, per-customer counters) as the database has them."""
    reservations = Reservation.objects.in_bulk([s.reservation_id for s in runtime.slots.values() if s.reservation_id])
    awards = Award.objects.filter(campaign=campaign)
    units = {}
    for slot in runtime.slots.values():
        reservation = reservations.get(slot.reservation_id)
        if reservation is None or reservation.released_at is not None:
            continue
        taken = awards.filter(slot_key=slot.key)
        used = set(taken.filter(unit__isnull=False).values_list("unit", flat=True))
        free = [u for u in range(slot.quantity) if u not in used]
        # Awards from before units were numbered hold a unit each too.
        units[slot.key] = free[: max(0, len(free) - taken.filter(unit__isnull=True).count())]
    today = local_day()
    spent_total = awards.aggregate(total=Sum("cost"))["total"] or Decimal("0")
    spent_today = awards.filter(day=today).aggregate(total=Sum("cost"))["total"] or Decimal("0")
    budget = {"total": fen(spent_total), f"d:{today.isoformat()}": fen(spent_today)}
    customers: dict[int, dict[str, int]] = {}
    day = today.isoformat()
    # Highest numbers, not counts: a number is never handed out twice, even
    # after a gap left by a failed write.
    for row in awards.values("customer").annotate(top=Max("seq")):
        customers.setdefault(row["customer"], {})["r"] = row["top"]
    for row in awards.filter(day=today).values("customer").annotate(top=Max("day_seq")):
        customers.setdefault(row["customer"], {})[f"r:{day}"] = row["top"]
    draws = Draw.objects.filter(campaign=campaign)
    for row in draws.values("customer").annotate(top=Max("number")):
        customers.setdefault(row["customer"], {})["dr"] = row["top"]
    for row in draws.filter(day=today).values("customer").annotate(top=Max("day_number")):
        customers.setdefault(row["customer"], {})[f"dr:{day}"] = row["top"]
    referrals = Referral.objects.filter(campaign=campaign, referrer_seq__isnull=False)
    for row in referrals.values("referrer").annotate(top=Max("referrer_seq")):
        customers.setdefault(row["referrer"], {})["ref"] = row["top"]
    return units, budget, customers


def runtime_load(*, campaign_id: int, settle: float = 0.0) -> str | None:
    """Put a campaign's counters into Redis from the database, under a new
    epoch; drop them when it has no approved revision. With ``settle``, first
    fence the campaign (requests see it unloaded and are refused) and wait, so
    that requests already past the old counters commit before the database is
    read. Returns the new state, or None when nothing is loaded."""
    campaign = Campaign.objects.select_related("live_revision__audience").filter(pk=campaign_id).first()
    if campaign is None or campaign.live_revision_id is None or campaign.status not in STATES:
        counters.drop(campaign_id=campaign_id)
        return None
    if settle:
        counters.drop(campaign_id=campaign_id)
        time.sleep(settle)
    runtime = _compile(campaign)
    units, budget, customers = _counters_from_db(campaign, runtime)
    state = STATES[campaign.status]
    counters.load(
        campaign_id=campaign.pk, epoch=secrets.token_hex(8), revision_id=runtime.revision_id, state=state,
        units=units, budget=budget, customers=customers, ttl=runtime.counter_ttl(),
    )
    return state


def runtime_rebuild(*, settle: float | None = None) -> dict[str, int]:
    """Restore every running campaign's counters from the database (after Redis
    was lost or flushed). Campaigns are fenced together, then loaded."""
    settle = settings.CAMPAIGNS_REBUILD_SETTLE_SECONDS if settle is None else settle
    ids = list(
        Campaign.objects.filter(live_revision__isnull=False, status__in=list(STATES)).exclude(
            status=CampaignStatus.ENDED
        ).values_list("pk", flat=True)
    )
    for campaign_id in ids:
        counters.drop(campaign_id=campaign_id)
    if ids and settle:
        time.sleep(settle)
    loaded = sum(1 for campaign_id in ids if runtime_load(campaign_id=campaign_id))
    return {"campaigns": len(ids), "loaded": loaded}


def runtime_publish(*, campaign_id: int) -> None:
    """After a lifecycle change commits: a new revision reloads the counters,
    a status change only flips the state (or loads when Redis has nothing)."""
    campaign = Campaign.objects.filter(pk=campaign_id).values("status", "live_revision_id").first()
    if campaign is None:
        return
    conn = counters.connection()
    loaded_rev = conn.hget(counters.meta_key(campaign_id), "rev")
    state = STATES.get(campaign["status"])
    if state is None or campaign["live_revision_id"] is None:
        counters.drop(campaign_id=campaign_id)
    elif loaded_rev is None or int(loaded_rev) != campaign["live_revision_id"]:
        runtime_load(campaign_id=campaign_id)
    else:
        counters.state_set(campaign_id=campaign_id, state=state)


def runtime_sync() -> dict[str, int]:
    """Make Redis agree with the database on every running campaign's state
    and revision (a lifecycle change whose publish failed, a lost key), and
    reload the counters of a campaign with a take left pending (a process
    killed mid-request). Otherwise a loaded campaign's counters stay."""
    conn = counters.connection()
    fixed = 0
    rows = Campaign.objects.filter(live_revision__isnull=False, status__in=list(STATES)).values_list(
        "pk", "status", "live_revision_id"
    )
    for campaign_id, status, revision_id in rows:
        rev, state = conn.hmget(counters.meta_key(campaign_id), "rev", "state")
        if status == CampaignStatus.ENDED and rev is None:
            continue
        if rev is None or int(rev) != revision_id:
            runtime_load(campaign_id=campaign_id)
            fixed += 1
        elif counters.stale_pending(campaign_id, time.time() - settings.CAMPAIGNS_TAKE_STALE_SECONDS):
            # A process died between its take and the end of its transaction:
            # what it took is counted in Redis but not in the database.
            runtime_load(campaign_id=campaign_id, settle=settings.CAMPAIGNS_REBUILD_SETTLE_SECONDS)
            fixed += 1
        elif state != STATES[status]:
            counters.state_set(campaign_id=campaign_id, state=STATES[status])
            fixed += 1
    return {"fixed": fixed}
