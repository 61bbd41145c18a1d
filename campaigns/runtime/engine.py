"""The participation engine: one path for every kind (DESIGN.md §5, §6).

Each action checks, in order: the live window and state, the channel, the
kind's actions, the frozen audience, the control group (recorded, not
served), the blacklist; then takes its counters in Redis in one Lua call
(per-customer limits, a unit of stock, budget: ``counters.take``) and writes
the truth in one database transaction — the ``Award`` with the customer's
numbers and the unit (both unique), the records for the analysis and the
stored idempotent answer (a claim on PostgreSQL: one statement,
``hotpath``). If that transaction fails, the take is given back. The grant
is made from the award in the background (``awards``).

Callers (the channel API, the simulator through it, tests) pass a ``Call``:
who asks (channel), for which customer, and the idempotency key if any.
Refusals raise ``Refusal`` with the HTTP status and error code of the contract.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import Customer
from campaigns import kinds
from campaigns.models import (
    Activity,
    ActivityKind,
    ApiChannel,
    ApiRequest,
    Award,
    Campaign,
    CampaignStatus,
    Draw,
    DrawOutcome,
    Invite,
    Referral,
)
from campaigns.runtime import awards, counters, hotpath
from campaigns.runtime.state import Runtime, Slot, cache, local_day, runtime_load
from rewards import services as reward_services

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
INVITE_LENGTH = 10  # 32^10 ≈ 10^15 codes


class Refusal(Exception):
    """An API answer other than success: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(code, message)
        self.status, self.code, self.message = status, code, message


def _not_found(code: str, message: str) -> Refusal:
    return Refusal(404, code, message)


@dataclass
class Call:
    """One API call: the channel, the request's idempotency key and body hash,
    and where its answer is stored when it changes something."""

    channel: ApiChannel
    idempotency_key: str | None = None
    body_hash: str = ""
    path: str = ""
    takes: list[counters.Take] = field(default_factory=list)

    stored: bool = False
    replayed: bool = False
    # Filled as the call goes; ``finish`` tells Redis in one round trip.
    settled: list[counters.Take] = field(default_factory=list)
    answer: str | None = None
    holds_key: bool = False
    # Awards written in the open transaction, then those committed (queued for granting by ``finish``).
    awards_open: list[int] = field(default_factory=list)
    awards: list[int] = field(default_factory=list)

    def request_row(self, status: int) -> dict[str, Any] | None:
        """The stored answer's columns but the answer (None without an idempotency key)."""
        if not self.idempotency_key:
            return None
        return {
            "channel_id": self.channel.pk, "key": self.idempotency_key, "body_hash": self.body_hash,
            "path": self.path, "status": status,
        }

    def store(self, status: int, response: dict[str, Any]) -> None:
        """Keep the answer with the change (inside its transaction), once."""
        if self.idempotency_key and not self.stored:
            self.stored = True
            ApiRequest.objects.create(
                channel=self.channel, key=self.idempotency_key, body_hash=self.body_hash, path=self.path,
                status=status, response=response,
            )

    def give_back(self) -> None:
        for take in reversed(self.takes):
            take.give_back()
        self.takes.clear()
        self.awards_open.clear()

    def settle(self, status: int | None = None, response: dict[str, Any] | None = None) -> None:
        """The takes' transaction committed (with this answer, if it is to be replayed)."""
        self.settled += self.takes
        self.takes.clear()
        self.awards += self.awards_open
        self.awards_open.clear()
        if self.idempotency_key and response is not None:
            self.answer = json.dumps({"h": self.body_hash, "s": status, "r": response}, separators=(",", ":"))

    def finish(self) -> None:
        """The request is over: settle its takes, cache its answer, free its key, queue its awards."""
        # A failure here is safe: a take left pending is reloaded by the minute
        # sweep, the database keeps the answer, the key's marker expires, the
        # award sweep queues the awards.
        with contextlib.suppress(counters.redis.RedisError):
            counters.finish(
                settled=self.settled, channel_id=self.channel.pk, idempotency_key=self.idempotency_key,
                answer=self.answer, answer_ttl=settings.CAMPAIGNS_IDEMPOTENCY_TTL, release=self.holds_key,
                drain=awards.DRAIN, queued=self.awards,
            )


# --- what is live --------------------------------------------------------------------------


def runtime_for(code: str, *, front: counters.Front | None = None) -> tuple[Runtime, str, str]:
    """The runtime of a campaign by code, with its Redis epoch and state;
    loads it into Redis when Redis has lost it. Raises 404/503."""
    campaign_id = cache.campaign_id(code)
    if campaign_id is None:
        raise _not_found("unknown_campaign", _("No campaign has this code."))
    epoch, state, revision_id = (front.epoch, front.state, front.revision_id) if front else (None, None, None)
    if epoch is None:
        meta = counters.connection().hmget(counters.meta_key(campaign_id), "epoch", "rev", "state")
        if meta[0] is None:
            _load_on_demand(campaign_id)
            meta = counters.connection().hmget(counters.meta_key(campaign_id), "epoch", "rev", "state")
        epoch, revision_id, state = meta[0], int(meta[1]) if meta[1] else None, meta[2]
    if epoch is None:
        # Never approved (or Redis is unreachable and load failed): nothing to serve.
        raise Refusal(410, "not_live", _("This campaign is not live."))
    runtime = cache.get(code, revision_id)
    if runtime is None:
        raise Refusal(410, "not_live", _("This campaign is not live."))
    return runtime, epoch, state


def _load_on_demand(campaign_id: int) -> None:
    """Redis has nothing for this campaign (never loaded, or lost): one
    request loads it, fenced like ``runtime_rebuild`` so that requests which
    passed the lost counters commit first; the others are told to retry."""
    lock = counters.load_lock(campaign_id)
    if not counters.connection().set(lock, "1", nx=True, ex=60):
        raise Refusal(503, "unavailable", _("The campaign is being reloaded; try again in a moment."))
    try:
        runtime_load(campaign_id=campaign_id, settle=settings.CAMPAIGNS_REBUILD_SETTLE_SECONDS)
    finally:
        counters.connection().delete(lock)


def check_live(runtime: Runtime, state: str, now: dt.datetime | None = None) -> None:
    """410 unless the campaign is being served now."""
    now = now or timezone.now()
    if state == "ended" or now >= runtime.ends_at:
        raise Refusal(410, "ended", _("This campaign has ended."))
    if now < runtime.starts_at:
        raise Refusal(410, "not_started", _("This campaign has not started yet."))
    if state == "paused":
        raise Refusal(410, "paused", _("This campaign is paused."))
    if state not in ("live", "approved"):
        raise Refusal(410, "not_live", _("This campaign is not live."))


def customer_get(ref: Any) -> Customer:
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 40 or not ref.isprintable():
        raise Refusal(400, "malformed", _("Name the customer by their customer reference."))
    customer = hotpath.customer_by_ref(ref)
    if customer is None:
        raise _not_found("unknown_customer", _("No customer has this reference."))
    return customer


def check_eligible(
    runtime: Runtime, customer: Customer, channel_kind: str | None, action: str, *, audience: bool = True
) -> None:
    """403 unless this customer may do ``action`` in this campaign on this
    channel (``None``: business events, which come from any channel). A
    control-group customer is recorded (held out) and refused."""
    if action not in kinds.get(runtime.kind).actions:
        raise Refusal(403, "action_not_supported", _("This campaign does not offer this action."))
    if channel_kind is not None and channel_kind not in runtime.channels:
        raise Refusal(403, "channel_not_enabled", _("This campaign is not published on this channel."))
    if audience:
        if customer.pk in runtime.control:
            Activity.objects.create(
                campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.HELD_OUT,
                channel=channel_kind or "", ref=action,
            )
            raise Refusal(403, "control_group", _("This customer is in the campaign's control group."))
        if customer.pk not in runtime.members:
            raise Refusal(403, "not_in_audience", _("This customer is not in the campaign's audience."))
    if runtime.blacklisted(customer.pk):
        raise Refusal(403, "excluded", _("This customer is excluded from the campaign."))


# --- taking and granting -------------------------------------------------------------------

_REFUSALS = {
    "limit": (409, "limit_reached", lambda: _("The customer has reached the campaign's limit.")),
    "sold_out": (409, "sold_out", lambda: _("Sold out.")),
    "budget": (409, "budget_exhausted", lambda: _("The campaign's budget is used up.")),
    "not_live": (410, "not_live", lambda: _("This campaign is not live.")),
}


def refusal_of(refused: counters.Refused) -> Refusal:
    if refused.reason in ("unloaded", "stale"):
        return Refusal(503, "unavailable", _("The campaign is being reloaded; try again in a moment."))
    if refused.reason == "not_live" and refused.detail == "paused":
        return Refusal(410, "paused", _("This campaign is paused."))
    status, code, message = _REFUSALS[refused.reason]
    return Refusal(status, code, message())


def take_for(runtime: Runtime, customer: Customer, call: Call, epoch: str, **kwargs) -> counters.Take:
    take = counters.take(
        campaign_id=runtime.campaign_id, customer_id=customer.pk, epoch=epoch, day=local_day().isoformat(),
        ttl=runtime.counter_ttl(), started=True,
        took=counters.took_key(call.channel.pk, call.idempotency_key) if call.idempotency_key else "",
        took_ttl=settings.CAMPAIGNS_IDEMPOTENCY_TTL, **kwargs,
    )
    call.takes.append(take)
    return take


def reward_counters(runtime: Runtime) -> list[tuple[str, int | None]]:
    day = local_day().isoformat()
    return [("r", runtime.limit_total), (f"r:{day}", runtime.limit_per_day)]


def slot_take(runtime: Runtime, customer: Customer, call: Call, epoch: str, slot: Slot, *, reward: bool):
    """Take one unit of ``slot`` (and its cost), with the customer's reward
    counters when ``reward`` (the first slot of a rewarded action)."""
    return take_for(
        runtime, customer, call, epoch, counters=reward_counters(runtime) if reward else [],
        slot_key=slot.key, cost_fen=slot.cost_fen, budget_total_fen=runtime.budget_total_fen,
        budget_day_fen=runtime.budget_day_fen,
    )


def award_new(
    runtime: Runtime, customer: Customer, slot: Slot, take: counters.Take, *, action: str, seq: int, day_seq: int,
    key: str, part: int = 0,
) -> Award:
    """The (unsaved) award of one unit of ``slot`` (``take`` took it), checked:
    IntegrityError or ValidationError when the numbers, the unit or the prize's
    pool say no."""
    if runtime.limit_total is not None and seq > runtime.limit_total:
        raise IntegrityError("reward number over the campaign's limit")
    if runtime.limit_per_day is not None and day_seq > runtime.limit_per_day:
        raise IntegrityError("reward number over the campaign's daily limit")
    if slot.reservation_id is None or take.unit is None:
        raise ValidationError(_("This slot has no stock reserved."), code="sold_out")
    if not 0 <= take.unit < slot.quantity:
        raise ValidationError(_("Sold out."), code="sold_out")  # a wrong counter: the slot has no such unit
    prize = runtime.prize(slot.prize_id)
    if not reward_services.pool_valid_today(prize.pool):
        raise ValidationError(_("The prize pool is not valid today."), code="expired")
    return Award(
        campaign_id=runtime.campaign_id, customer=customer, slot_key=slot.key, unit=take.unit, prize=prize,
        reservation_id=slot.reservation_id, key=f"campaign:{runtime.code}:{key}", action=action, seq=seq,
        part=part, day=local_day(), day_seq=day_seq, cost=prize.unit_cost, at=timezone.now(),
    )


def award_add(
    runtime: Runtime, customer: Customer, slot: Slot, take: counters.Take, call: Call, *, action: str, seq: int,
    day_seq: int, key: str, part: int = 0,
) -> Award:
    """The award of one unit of ``slot`` (``take`` took it), saved: its grant
    is made in the background (``campaigns.runtime.awards``). Inside the
    caller's transaction; IntegrityError or ValidationError fail it."""
    award = award_new(runtime, customer, slot, take, action=action, seq=seq, day_seq=day_seq, key=key, part=part)
    award.save(force_insert=True)
    call.awards_open.append(award.pk)
    return award


def reward_json(runtime: Runtime, award: Award) -> dict[str, Any]:
    """An award just made, as the API answers it (queued: its grant follows)."""
    award.campaign = Campaign(pk=runtime.campaign_id, code=runtime.code)
    return awards.reward_json(award, prize=award.prize)


def _commit(
    call: Call, write: Callable[[], tuple[int, dict[str, Any]]], *, atomic: bool = True
) -> tuple[int, dict[str, Any]]:
    """Run ``write`` in one transaction with the stored answer (``atomic``
    False: ``write`` is one statement that stores the answer itself); on
    failure give the Redis takes back. A duplicate idempotency key answers
    with the first answer."""
    try:
        with transaction.atomic() if atomic else contextlib.nullcontext():
            status, response = write()
            call.store(status, response)
    except IntegrityError as exc:
        call.stored = False
        call.give_back()
        stored = stored_answer(call)
        if stored is not None:
            call.replayed = True
            return stored
        if "award_unit_once" in str(exc) or "campaigns_award.unit" in str(exc):
            raise Refusal(409, "sold_out", _("Sold out.")) from None  # a unit given twice: a wrong counter
        raise Refusal(409, "limit_reached", _("The customer has reached the campaign's limit.")) from None
    except ValidationError as exc:
        call.stored = False
        call.give_back()
        code = getattr(exc, "code", "") or ""
        if code == "sold_out":
            raise Refusal(409, "sold_out", _("Sold out.")) from None
        if code in ("budget", "expired"):
            raise Refusal(409, "budget_exhausted", _("The campaign's budget is used up.")) from None
        raise
    except BaseException:
        call.stored = False
        call.give_back()
        raise
    call.settle(status, response)
    return status, response


def stored_answer(call: Call) -> tuple[int, dict[str, Any]] | None:
    """The first answer to this idempotency key, if the database has one."""
    if not call.idempotency_key:
        return None
    found = ApiRequest.objects.filter(channel=call.channel, key=call.idempotency_key).first()
    if found is None:
        return None
    if found.body_hash != call.body_hash:
        raise Refusal(409, "idempotency_conflict", _("This Idempotency-Key was used with another request."))
    return found.status, found.response


# --- actions -------------------------------------------------------------------------------


def campaign_view(runtime: Runtime, customer: Customer, call: Call) -> tuple[int, dict[str, Any]]:
    check_eligible(runtime, customer, call.channel.kind, "view")

    def write():
        Activity.objects.create(
            campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.VIEW, channel=call.channel.kind
        )
        return 200, {"campaign": runtime.code, "recorded": "view"}

    return _commit(call, write)


def campaign_join(runtime: Runtime, customer: Customer, call: Call) -> tuple[int, dict[str, Any]]:
    check_eligible(runtime, customer, call.channel.kind, "join")
    if Activity.objects.filter(campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.JOIN).exists():
        return 200, {"campaign": runtime.code, "joined": True, "already": True}

    def write():
        Activity.objects.create(
            campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.JOIN, channel=call.channel.kind
        )
        return 200, {"campaign": runtime.code, "joined": True, "already": False}

    try:
        return _commit(call, write)
    except Refusal as refusal:
        if refusal.code == "limit_reached":  # joined concurrently
            return 200, {"campaign": runtime.code, "joined": True, "already": True}
        raise


def campaign_draw(runtime: Runtime, customer: Customer, call: Call, epoch: str) -> tuple[int, dict[str, Any]]:
    """One lottery draw. The draw number comes from the customer's draw
    counters (per day and in total); the slot from the alias table over the
    revision's seed; a prize slot then takes its stock, the customer's reward
    limits and the budget — any of those refused is "no prize" (recorded why)."""
    check_eligible(runtime, customer, call.channel.kind, "draw")
    if runtime.drawer is None:
        raise Refusal(403, "action_not_supported", _("This campaign does not offer this action."))
    rules = runtime.settings
    day = local_day().isoformat()
    try:
        draw_take = take_for(
            runtime, customer, call, epoch,
            counters=[("dr", rules.get("draws_total")), (f"dr:{day}", rules.get("draws_per_day"))],
        )
    except counters.Refused as refused:
        raise refusal_of(refused) from None
    number, day_number = draw_take.values
    value, landed_key = runtime.drawer.draw(customer.pk, number)
    slot = runtime.slots.get(landed_key) if landed_key is not None else None
    outcome, prize_take = DrawOutcome.NO_PRIZE, None
    if slot is not None:
        try:
            prize_take = slot_take(runtime, customer, call, epoch, slot, reward=True)
            outcome = DrawOutcome.WON
        except counters.Refused as refused:
            if refused.reason in ("unloaded", "stale", "not_live"):
                call.give_back()
                raise refusal_of(refused) from None
            outcome = {"sold_out": DrawOutcome.SOLD_OUT, "limit": DrawOutcome.CAPPED}.get(
                refused.reason, DrawOutcome.BUDGET
            )

    def write():
        response: dict[str, Any] = {
            "campaign": runtime.code, "result": "no_prize", "draw": {"number": number, "value": f"{value:016x}"},
        }
        award = None
        if prize_take is not None:
            seq, day_seq = prize_take.values
            award = award_add(
                runtime, customer, slot, prize_take, call, action="draw", seq=seq, day_seq=day_seq,
                key=f"c{customer.pk}:draw:{number}",
            )
        Draw.objects.create(
            campaign_id=runtime.campaign_id, revision_id=runtime.revision_id, customer=customer, number=number,
            day=local_day(), day_number=day_number, value=f"{value:016x}", landed_key=landed_key,
            outcome=outcome, award=award,
        )
        Activity.objects.create(
            campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.DRAW, channel=call.channel.kind,
            slot_key=landed_key, ref=str(number),
        )
        if award is None:
            response["reason"] = outcome
        else:
            Activity.objects.create(
                campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.WIN,
                channel=call.channel.kind, slot_key=slot.key, award=award, ref=str(number),
            )
            response.update(result="won", slot={"key": slot.key, "label": slot.label}, grant=reward_json(runtime, award))
        return 200, response

    return _commit(call, write)


def campaign_claim(
    runtime: Runtime, customer: Customer, call: Call, epoch: str, item: Any = None
) -> tuple[int, dict[str, Any]]:
    """Claim one flash-sale item (the first with stock, or ``item``: its slot key)."""
    check_eligible(runtime, customer, call.channel.kind, "claim")
    items = runtime.slots_of("item")
    if item is not None:
        items = [s for s in items if s.key == item]
        if not items:
            raise _not_found("unknown_item", _("This campaign sells no such item."))
    refused = None
    for slot in items:
        try:
            take = slot_take(runtime, customer, call, epoch, slot, reward=True)
            break
        except counters.Refused as exc:
            refused = exc
            if exc.reason != "sold_out":
                raise refusal_of(exc) from None
    else:
        if refused is not None:
            raise Refusal(409, "sold_out", runtime.settings.get("sold_out_message") or _("Sold out.")) from None
        raise Refusal(409, "sold_out", _("Sold out."))
    seq, day_seq = take.values

    def write():
        award = award_new(
            runtime, customer, slot, take, action="claim", seq=seq, day_seq=day_seq, key=f"c{customer.pk}:claim:{seq}"
        )
        response = {
            "campaign": runtime.code, "result": "claimed", "item": {"key": slot.key, "label": slot.label, **slot.options},
            "grant": reward_json(runtime, award),
        }
        if hotpath.one_statement():
            # The award, its activity and the stored answer in one statement (``hotpath``).
            award.pk = hotpath.claim_insert(
                award=award, channel_kind=call.channel.kind, answer=response, request=call.request_row(200),
            )
            call.stored = call.idempotency_key is not None
        else:
            award.save(force_insert=True)
            Activity.objects.create(
                campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.CLAIM, channel=call.channel.kind,
                slot_key=slot.key, award=award,
            )
        response["grant"]["award"] = award.pk
        call.awards_open.append(award.pk)
        return 200, response

    return _commit(call, write, atomic=not hotpath.one_statement())


def invite_code_new() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def campaign_invite(runtime: Runtime, customer: Customer, call: Call) -> tuple[int, dict[str, Any]]:
    """The customer's invite code for a referral campaign (made once, then the same)."""
    check_eligible(runtime, customer, call.channel.kind, "invite")
    found = Invite.objects.filter(campaign_id=runtime.campaign_id, customer=customer).first()
    if found is not None:
        return 200, {"campaign": runtime.code, "code": found.code, "created": False}

    def write():
        invite = Invite.objects.create(campaign_id=runtime.campaign_id, customer=customer, code=invite_code_new())
        Activity.objects.create(
            campaign_id=runtime.campaign_id, customer=customer, kind=ActivityKind.INVITE, channel=call.channel.kind,
            ref=invite.code,
        )
        return 200, {"campaign": runtime.code, "code": invite.code, "created": True}

    try:
        return _commit(call, write)
    except Refusal as refusal:
        if refusal.code != "limit_reached":
            raise
        invite = Invite.objects.get(campaign_id=runtime.campaign_id, customer=customer)  # made concurrently
        return 200, {"campaign": runtime.code, "code": invite.code, "created": False}


def referral_accept(referee: Customer, code: Any, call: Call) -> tuple[int, dict[str, Any]]:
    """A referee accepts an invite code: refused for oneself, for a customer who
    already was one when invited, and for a second referral in the campaign."""
    if not isinstance(code, str) or not code.strip() or len(code) > 24 or not code.isprintable():
        raise Refusal(400, "malformed", _("Give the invite code."))
    invite = Invite.objects.select_related("campaign", "customer").filter(code=code.strip().upper()).first()
    if invite is None:
        raise _not_found("unknown_invite", _("No invite has this code."))
    runtime, _epoch, state = runtime_for(invite.campaign.code)
    check_live(runtime, state)
    if invite.customer_id == referee.pk:
        raise Refusal(403, "self_referral", _("A customer cannot accept their own invitation."))
    check_eligible(runtime, referee, call.channel.kind, "referral", audience=False)
    if referee.opened_on and referee.opened_on < timezone.localdate(invite.created_at):
        raise Refusal(403, "existing_customer", _("Only customers who joined the bank after the invitation can accept it."))
    if Referral.objects.filter(campaign_id=runtime.campaign_id, referee=referee).exists():
        raise Refusal(409, "already_referred", _("This customer has already accepted an invitation in this campaign."))
    window = int(runtime.settings.get("window_days") or 30)

    def write():
        now = timezone.now()
        referral = Referral.objects.create(
            campaign_id=runtime.campaign_id, invite=invite, referrer_id=invite.customer_id, referee=referee,
            accepted_at=now, qualify_by=now + dt.timedelta(days=window),
        )
        Activity.objects.create(
            campaign_id=runtime.campaign_id, customer=referee, kind=ActivityKind.REFERRAL, channel=call.channel.kind,
            ref=invite.code,
        )
        return 201, {"referral": _referral_json(referral, invite.customer, referee, runtime.code)}

    try:
        return _commit(call, write)
    except Refusal as refusal:
        if refusal.code == "limit_reached":
            raise Refusal(409, "already_referred", _("This customer has already accepted an invitation in this campaign.")) from None
        raise


def _referral_json(referral: Referral, referrer: Customer, referee: Customer, code: str) -> dict[str, Any]:
    return {
        "campaign": code, "referrer": referrer.customer_ref, "referee": referee.customer_ref,
        "status": referral.status, "qualify_by": referral.qualify_by.isoformat(),
    }


def live_runtimes(*, kinds_in: tuple[str, ...] | None = None) -> list[tuple[Runtime, str, str]]:
    """(runtime, epoch, state) of every campaign being served now, of the given kinds."""
    campaigns = Campaign.objects.filter(
        live_revision__isnull=False, status__in=[CampaignStatus.APPROVED, CampaignStatus.LIVE]
    )
    if kinds_in is not None:
        campaigns = campaigns.filter(kind__in=kinds_in)
    found = []
    now = timezone.now()
    for code in campaigns.order_by("pk").values_list("code", flat=True):
        try:
            runtime, epoch, state = runtime_for(code)
            check_live(runtime, state, now)
        except Refusal:
            continue
        found.append((runtime, epoch, state))
    return found


# --- reads ---------------------------------------------------------------------------------


def customer_campaigns(customer: Customer, call: Call) -> list[dict[str, Any]]:
    """Live campaigns this customer may take part in on this channel."""
    found = []
    for runtime, _epoch, _state in live_runtimes():
        if call.channel.kind not in runtime.channels or customer.pk in runtime.control:
            continue
        if customer.pk not in runtime.members or runtime.blacklisted(customer.pk):
            continue
        entry = {
            "code": runtime.code, "name": runtime.name, "kind": runtime.kind,
            "starts_at": runtime.starts_at.isoformat(), "ends_at": runtime.ends_at.isoformat(),
            "actions": list(kinds.get(runtime.kind).actions), "rules": runtime.config.get("rules_text", ""),
        }
        if runtime.kind == "lottery":
            entry["draw_seed_sha256"] = runtime.draw_seed_hash
        found.append(entry)
    return found


def customer_grants(customer: Customer, limit: int = 100) -> list[dict[str, Any]]:
    return awards.customer_rewards(customer, limit)
