"""Business events (``POST /api/v1/events``) and what they drive: event
campaigns (a qualifying event earns every reward slot), task chains (events
advance a customer's progress; a reward per step and for the chain) and
referrals (the referee's qualifying event rewards both sides).

An event is recorded once per ``event_id`` (``BusinessEvent``, for every
known customer: the analysis compares participants with the control group on
these), in one transaction with every campaign's effects; each campaign acts
in its own savepoint, so a refusal or conflict in one leaves the others'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audiences.models import Customer
from campaigns.kinds import _common as common
from campaigns.models import (
    Activity,
    ActivityKind,
    BusinessEvent,
    Referral,
    ReferralStatus,
    TaskProgress,
)
from campaigns.runtime import counters
from campaigns.runtime.engine import (
    Call,
    Refusal,
    award_add,
    check_eligible,
    live_runtimes,
    refusal_of,
    reward_counters,
    reward_json,
    slot_take,
    take_for,
)


@dataclass
class EventIn:
    event_id: str
    type: str
    amount: Decimal | None
    product: str
    occurred_at: dt.datetime


def event_parse(body: dict[str, Any]) -> EventIn:
    """Validate an event body; 400 with what is wrong."""
    event_id, kind = body.get("event_id"), body.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 80 or not event_id.isprintable():
        raise Refusal(400, "malformed", _("event_id must be a string of 1 to 80 characters."))
    if kind not in common.EventType.values:
        raise Refusal(400, "malformed", _("type must be one of: %(types)s.") % {"types": ", ".join(common.EventType.values)})
    amount = body.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
            raise Refusal(400, "malformed", _("amount must be a number of CNY."))
        try:
            amount = Decimal(str(amount)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise Refusal(400, "malformed", _("amount must be a number of CNY.")) from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise Refusal(400, "malformed", _("amount must be a number of CNY."))
    product = body.get("product") or ""
    if not isinstance(product, str) or len(product) > 40 or not product.isprintable():
        raise Refusal(400, "malformed", _("product must be a product code of at most 40 characters."))
    occurred = body.get("occurred_at")
    if occurred is None:
        occurred_at = timezone.now()
    else:
        try:
            occurred_at = dt.datetime.fromisoformat(occurred) if isinstance(occurred, str) else None
            if occurred_at is not None and occurred_at.tzinfo is not None:
                occurred_at = occurred_at.astimezone(dt.UTC)  # any offset in range; stored as UTC
        except (ValueError, OverflowError):
            occurred_at = None
        if occurred_at is None or occurred_at.tzinfo is None:
            raise Refusal(400, "malformed", _("occurred_at must be an ISO 8601 time with its offset."))
    return EventIn(event_id=event_id, type=kind, amount=amount, product=product.strip(), occurred_at=occurred_at)


DEADLOCK_ATTEMPTS = 3


def _deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "40P01"


def event_record(customer: Customer, event: EventIn, call: Call) -> tuple[int, dict[str, Any]]:
    """Record a business event once per ``event_id`` and let every live event,
    task-chain and referral campaign act on it. A replay answers the first answer.

    One event may be rewarded several times (in several campaigns, a step and
    its chain, both sides of a referral): each grant takes its reservation,
    then its pool, so a second grant from the same pool takes a reservation
    while holding the pool — two such transactions can deadlock. PostgreSQL
    then aborts one, which is tried again from the start (its Redis takes
    were given back)."""
    attempt = 1
    while True:
        try:
            return _event_record(customer, event, call)
        except OperationalError as exc:
            if attempt == DEADLOCK_ATTEMPTS or not _deadlock(exc):
                raise
            attempt += 1


def _event_record(customer: Customer, event: EventIn, call: Call) -> tuple[int, dict[str, Any]]:
    found = BusinessEvent.objects.filter(channel=call.channel, event_id=event.event_id).first()
    if found is not None:
        return _event_replay(found, customer, event)
    runtimes = live_runtimes(kinds_in=("event", "task_chain", "referral"))
    results: list[dict[str, Any]] = []
    try:
        with transaction.atomic():
            row = BusinessEvent.objects.create(
                channel=call.channel, event_id=event.event_id, customer=customer, type=event.type,
                amount=event.amount, product=event.product, occurred_at=event.occurred_at,
            )
            for runtime, epoch, state in runtimes:
                result = _event_apply(runtime, epoch, state, customer, event, row, call)
                if result is not None:
                    results.append(result)
            response = {"event_id": event.event_id, "duplicate": False, "results": results}
            row.outcome = results
            row.save(update_fields=["outcome"])
            call.store(200, response)
    except IntegrityError:
        call.stored = False
        call.give_back()
        found = BusinessEvent.objects.filter(channel=call.channel, event_id=event.event_id).first()
        if found is None:
            raise
        return _event_replay(found, customer, event)
    except BaseException:
        call.stored = False
        call.give_back()
        raise
    call.settle(200, response)
    return 200, response


def _event_replay(found: BusinessEvent, customer: Customer, event: EventIn) -> tuple[int, dict[str, Any]]:
    same = (found.customer_id, found.type, found.amount, found.product) == (
        customer.pk, event.type, event.amount, event.product,
    )
    if not same:
        raise Refusal(409, "idempotency_conflict", _("This event_id was already reported with other details."))
    return 200, {"event_id": found.event_id, "duplicate": True, "results": found.outcome}


def _event_apply(runtime, epoch, state, customer, event, row, call) -> dict[str, Any] | None:
    """One campaign's answer to the event, in a savepoint: a refusal or a
    database conflict in one campaign leaves the others' effects."""
    if runtime.kind == "referral":
        return _referral_qualify(runtime, epoch, customer, event, row, call)
    try:
        check_eligible(runtime, customer, None, "event")
    except Refusal:
        return None
    handler = _event_reward if runtime.kind == "event" else _task_advance
    return _in_savepoint(runtime, call, lambda: handler(runtime, epoch, customer, event, row, call))


def _in_savepoint(runtime, call: Call, act) -> dict[str, Any]:
    """One campaign's effects in a savepoint: refused or in conflict, they are
    undone (and their takes given back) and the event goes on for the others."""
    mark = (len(call.takes), len(call.awards_open))
    try:
        with transaction.atomic():
            return act()
    except counters.Refused as refused:
        _give_from(call, mark)
        return {"campaign": runtime.code, "outcome": refusal_of(refused).code}
    except (IntegrityError, ValidationError):
        _give_from(call, mark)
        return {"campaign": runtime.code, "outcome": "limit_reached"}


def _give_from(call: Call, mark: tuple[int, int]) -> None:
    """Undo what the call did since ``mark``: its takes, and the awards the savepoint took with it."""
    takes, awards_open = mark
    for take in reversed(call.takes[takes:]):
        take.give_back()
    del call.takes[takes:]
    del call.awards_open[awards_open:]


def _event_activity(runtime, customer, event, call, **extra) -> None:
    Activity.objects.create(
        campaign_id=runtime.campaign_id, customer=customer, kind=extra.pop("kind", ActivityKind.EVENT),
        channel=call.channel.kind, amount=event.amount, ref=extra.pop("ref", event.event_id), **extra,
    )


def _matches(settings: dict[str, Any], event: EventIn) -> bool:
    if settings.get("event_type") != event.type:
        return False
    minimum = common.money_value(settings.get("min_amount"))
    if minimum is not None and (event.amount is None or event.amount < minimum):
        return False
    product = (settings.get("product") or "").strip()
    return not product or product == event.product


def _event_reward(runtime, epoch, customer, event, row, call) -> dict[str, Any]:
    if not _matches(runtime.settings, event):
        return {"campaign": runtime.code, "outcome": "not_matched"}
    _event_activity(runtime, customer, event, call)
    grants, first, seq, day_seq = [], True, 0, 0
    for slot in runtime.slots_of("reward"):
        try:
            take = slot_take(runtime, customer, call, epoch, slot, reward=first)
        except counters.Refused as refused:
            if first and refused.reason == "limit":
                raise
            continue  # this reward is gone; the others still count
        if first:
            seq, day_seq = take.values
            first = False
        award = award_add(
            runtime, customer, slot, take, call, action="event", seq=seq, day_seq=day_seq,
            key=f"e{row.pk}:{slot.key}", part=len(grants),
        )
        grants.append(reward_json(runtime, award))
    if not grants:
        return {"campaign": runtime.code, "outcome": "sold_out"}
    return {"campaign": runtime.code, "outcome": "rewarded", "grants": grants}


def _task_done(task: dict[str, Any], count: int, amount: Decimal) -> bool:
    target_count, target_amount = task.get("target_count"), common.money_value(task.get("target_amount"))
    return (target_count is None or count >= target_count) and (target_amount is None or amount >= target_amount)


def _task_advance(runtime, epoch, customer, event, row, call) -> dict[str, Any]:
    tasks = runtime.settings.get("tasks") or []
    in_order = runtime.settings.get("order") == "in_order"
    progress, _created = TaskProgress.objects.select_for_update().get_or_create(
        campaign_id=runtime.campaign_id, customer=customer,
        defaults={"counts": [0] * len(tasks), "amounts": ["0.00"] * len(tasks)},
    )
    done = list(progress.done)
    counts, amounts = list(progress.counts), [Decimal(a) for a in progress.amounts]
    candidates = [len(done)] if in_order and len(done) < len(tasks) else [
        i for i in range(len(tasks)) if (i + 1) not in done
    ]
    touched = [i for i in candidates if i < len(tasks) and tasks[i].get("event") == event.type]
    if not touched:
        return {"campaign": runtime.code, "outcome": "not_matched"}
    _event_activity(runtime, customer, event, call)
    finished = []
    for i in touched:
        counts[i] += 1
        amounts[i] += event.amount or Decimal("0")
        if _task_done(tasks[i], counts[i], amounts[i]):
            done.append(i + 1)
            finished.append(i + 1)
    grants = []
    for step in finished:
        _event_activity(runtime, customer, event, call, kind=ActivityKind.STEP, ref=str(step))
        for slot in runtime.slots_of("step"):
            if slot.options.get("step") == step:
                grants += _task_reward(runtime, epoch, customer, call, slot, f"c{customer.pk}:step:{step}")
    completed = len(done) == len(tasks) and progress.completed_at is None
    if completed:
        progress.completed_at = timezone.now()
        _event_activity(runtime, customer, event, call, kind=ActivityKind.CHAIN, ref="chain")
        for slot in runtime.slots_of("chain"):
            grants += _task_reward(runtime, epoch, customer, call, slot, f"c{customer.pk}:chain")
    progress.counts, progress.amounts, progress.done = counts, [f"{a:.2f}" for a in amounts], done
    progress.save(update_fields=["counts", "amounts", "done", "completed_at", "updated_at"])
    result = {"campaign": runtime.code, "outcome": "completed" if completed else "progress", "steps_done": done}
    if grants:
        result["grants"] = grants
    return result


def _task_reward(runtime, epoch, customer, call, slot, key) -> list[dict[str, Any]]:
    try:
        take = slot_take(runtime, customer, call, epoch, slot, reward=True)
    except counters.Refused as refused:
        if refused.reason in ("unloaded", "stale", "not_live"):
            raise
        return []  # the step counts; its reward is gone or over the limit
    seq, day_seq = take.values
    award = award_add(
        runtime, customer, slot, take, call, action="step" if slot.role == "step" else "chain", seq=seq,
        day_seq=day_seq, key=key,
    )
    return [reward_json(runtime, award)]


def _referral_qualify(runtime, epoch, customer, event, row, call) -> dict[str, Any] | None:
    if runtime.settings.get("qualifying_event") != event.type:
        return None
    referral = (
        # Only the referral row: FOR UPDATE on the joined referrer would block the
        # foreign-key checks (FOR KEY SHARE) of every other transaction writing rows
        # for that customer, and deadlock with them at commit.
        Referral.objects.select_for_update(of=("self",)).select_related("referrer")
        .filter(campaign_id=runtime.campaign_id, referee=customer, status=ReferralStatus.PENDING).first()
    )
    if referral is None:
        return None
    if event.occurred_at > referral.qualify_by:
        referral.status = ReferralStatus.EXPIRED
        referral.save(update_fields=["status"])
        return {"campaign": runtime.code, "outcome": "expired"}
    def reward() -> dict[str, Any]:
        grants: list[dict[str, Any]] = []
        _event_activity(runtime, customer, event, call)
        for slot in runtime.slots_of("referee"):
            grants += _task_reward(runtime, epoch, customer, call, slot, f"ref{referral.pk}:referee")
        cap = runtime.settings.get("cap_per_referrer")
        referrer = referral.referrer
        status = ReferralStatus.CAPPED
        for slot in runtime.slots_of("referrer"):
            try:
                take = take_for(
                    runtime, referrer, call, epoch, counters=[("ref", cap), *reward_counters(runtime)],
                    slot_key=slot.key, cost_fen=slot.cost_fen, budget_total_fen=runtime.budget_total_fen,
                    budget_day_fen=runtime.budget_day_fen,
                )
            except counters.Refused as refused:
                if refused.reason in ("unloaded", "stale", "not_live"):
                    raise
                continue
            referral.referrer_seq, seq, day_seq = take.values
            award = award_add(
                runtime, referrer, slot, take, call, action="referrer", seq=seq, day_seq=day_seq,
                key=f"ref{referral.pk}:referrer",
            )
            grants.append(reward_json(runtime, award))
            status = ReferralStatus.REWARDED
        referral.status, referral.qualified_at = status, timezone.now()
        referral.save(update_fields=["status", "qualified_at", "referrer_seq"])
        return {"campaign": runtime.code, "outcome": "rewarded" if grants else "qualified", "grants": grants}

    return _in_savepoint(runtime, call, reward)

