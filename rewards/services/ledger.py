"""Writes for rewards: pools, stock and budget ledgers, reservations, grants.

Concurrency: every counter changes by a conditional UPDATE (``… SET n = n - k
WHERE n >= k``) in the same transaction as the ledger row that explains it. The
UPDATE takes the row lock, so concurrent takers queue on the row and the one
that finds too little gets 0 rows back and fails cleanly — no read-then-write
race, on SQLite or PostgreSQL. A grant takes its prize (or reservation) row
first and its pool row second, always in that order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from rewards.models import (
    BudgetMovement,
    CouponCode,
    Fulfilment,
    Grant,
    GrantStatus,
    MovementKind,
    Prize,
    PrizeKind,
    PrizePool,
    Reservation,
    StockMovement,
)


def _require(actor, verb: str, obj) -> None:
    if not can(actor, verb, obj):
        raise PermissionDenied


def _take(model, pk: int, field: str, amount) -> bool:
    """Decrease a counter by ``amount`` only if that leaves it non-negative."""
    return model.objects.filter(pk=pk, **{f"{field}__gte": amount}).update(**{field: F(field) - amount}) == 1


def _give(model, pk: int, field: str, amount) -> None:
    model.objects.filter(pk=pk).update(**{field: F(field) + amount})


def _positive(quantity, message):
    if quantity is None or quantity <= 0:
        raise ValidationError(message)


# --- pools and prizes ---------------------------------------------------------


@transaction.atomic
def pool_create(*, actor, code: str, name: str, owner_branch, valid_from=None, valid_until=None) -> PrizePool:
    _require(actor, Verb.MANAGE_POOLS, owner_branch)
    pool = PrizePool(code=code, name=name, owner_branch=owner_branch, valid_from=valid_from, valid_until=valid_until)
    pool.full_clean()
    if valid_from and valid_until and valid_from > valid_until:
        raise ValidationError({"valid_until": _("The end of validity is before its start.")})
    pool.save()
    audit_record(actor=actor, action="pool.create", obj=pool, changes={"code": code, "owner": owner_branch.code})
    return pool


@transaction.atomic
def prize_create(*, actor, pool: PrizePool, code: str, name: str, kind: str, unit_cost: Decimal) -> Prize:
    _require(actor, Verb.MANAGE_POOLS, pool)
    prize = Prize(pool=pool, code=code, name=name, kind=kind, unit_cost=unit_cost)
    prize.full_clean()
    prize.save()
    audit_record(actor=actor, action="prize.create", obj=prize, changes={"kind": kind, "unit_cost": str(unit_cost)})
    return prize


@transaction.atomic
def pool_update(*, actor, pool: PrizePool, name: str, valid_from=None, valid_until=None) -> PrizePool:
    """Rename a pool or change its validity; its owner and code stay (transfers trace through them)."""
    _require(actor, Verb.MANAGE_POOLS, pool)
    if valid_from and valid_until and valid_from > valid_until:
        raise ValidationError({"valid_until": _("The end of validity is before its start.")})
    before = {"name": pool.name, "valid_from": str(pool.valid_from or ""), "valid_until": str(pool.valid_until or "")}
    pool.name, pool.valid_from, pool.valid_until = name, valid_from, valid_until
    pool.full_clean()
    pool.save(update_fields=["name", "valid_from", "valid_until"])
    after = {"name": name, "valid_from": str(valid_from or ""), "valid_until": str(valid_until or "")}
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit_record(actor=actor, action="pool.update", obj=pool, changes=changes)
    return pool


@transaction.atomic
def prize_update(*, actor, prize: Prize, name: str, unit_cost: Decimal) -> Prize:
    """Rename a prize or change its unit cost (for grants from now on; past grants keep theirs)."""
    _require(actor, Verb.MANAGE_POOLS, prize)
    before = {"name": prize.name, "unit_cost": str(prize.unit_cost)}
    prize.name, prize.unit_cost = name, unit_cost
    prize.full_clean()
    prize.save(update_fields=["name", "unit_cost"])
    after = {"name": name, "unit_cost": str(unit_cost)}
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        audit_record(actor=actor, action="prize.update", obj=prize, changes=changes)
    return prize


# --- stock ----------------------------------------------------------------------


def _no_coupon_stock(prize: Prize) -> None:
    if prize.kind == PrizeKind.COUPON:
        raise ValidationError(_("A coupon prize's stock is its codes: upload codes to add stock."))


@transaction.atomic
def stock_add(
    *, actor, prize: Prize, quantity: int, reason: str, kind: str = MovementKind.ADDED, _with_codes: bool = False
) -> StockMovement:
    """Add stock. Coupon stock is added only with its codes (``codes.coupon_codes_add``,
    which alone passes ``_with_codes=True`` after writing them in the same transaction)."""
    _require(actor, Verb.MANAGE_POOLS, prize)
    _positive(quantity, _("The quantity must be positive."))
    if kind == MovementKind.ADDED and not _with_codes:
        _no_coupon_stock(prize)
    _give(Prize, prize.pk, "stock_available", quantity)
    movement = StockMovement.objects.create(prize=prize, kind=kind, delta=quantity, actor=actor, reason=reason)
    audit_record(actor=actor, action="stock.add", obj=prize, changes={"quantity": quantity}, reason=reason)
    return movement


@transaction.atomic
def stock_adjust(*, actor, prize: Prize, delta: int, reason: str, kind: str = MovementKind.ADJUSTED) -> StockMovement:
    """Correct stock (a count, damage, expiry); never below zero. A reason is required."""
    _require(actor, Verb.MANAGE_POOLS, prize)
    if not reason.strip():
        raise ValidationError(_("Say why the stock changes."))
    if delta == 0:
        raise ValidationError(_("The change must not be zero."))
    if delta > 0:
        _no_coupon_stock(prize)
    if delta < 0 and not _take(Prize, prize.pk, "stock_available", -delta):
        raise ValidationError(_("Not enough stock available."), code="sold_out")
    if delta > 0:
        _give(Prize, prize.pk, "stock_available", delta)
    movement = StockMovement.objects.create(prize=prize, kind=kind, delta=delta, actor=actor, reason=reason)
    audit_record(actor=actor, action="stock.adjust", obj=prize, changes={"delta": delta, "kind": kind}, reason=reason)
    return movement


@transaction.atomic
def stock_transfer(*, actor, prize: Prize, target_pool: PrizePool, quantity: int, reason: str = "") -> Prize:
    """Allocate stock from a pool to a pool below it: two movements, one transaction.

    The target gets (or reuses) a prize of the same code, kind and unit cost
    that remembers where its stock came from. A coupon prize's unissued codes
    move with its stock.
    """
    _require(actor, Verb.MANAGE_POOLS, prize)
    _require(actor, Verb.MANAGE_POOLS, target_pool)
    _positive(quantity, _("The quantity must be positive."))
    if target_pool.pk == prize.pool_id or not target_pool.owner_branch.is_within(prize.pool.owner_branch):
        raise ValidationError(_("Stock moves only to a pool of a branch below the source pool's branch."))
    target, _created = Prize.objects.get_or_create(
        pool=target_pool,
        code=prize.code,
        defaults={"name": prize.name, "kind": prize.kind, "unit_cost": prize.unit_cost, "source_prize": prize},
    )
    if (target.kind, target.unit_cost) != (prize.kind, prize.unit_cost):
        raise ValidationError(_("The target pool has a different prize with this code."))
    # Both rows locked in pk order: two opposite transfers cannot deadlock.
    list(Prize.objects.select_for_update().filter(pk__in=[prize.pk, target.pk]).order_by("pk").values_list("pk"))
    if not _take(Prize, prize.pk, "stock_available", quantity):
        raise ValidationError(_("Not enough stock available."), code="sold_out")
    _give(Prize, target.pk, "stock_available", quantity)
    if prize.kind == PrizeKind.COUPON:
        _move_codes(prize, target, quantity)
    StockMovement.objects.create(prize=prize, kind=MovementKind.TRANSFER_OUT, delta=-quantity, actor=actor, reason=reason)
    StockMovement.objects.create(prize=target, kind=MovementKind.TRANSFER_IN, delta=quantity, actor=actor, reason=reason)
    audit_record(
        actor=actor, action="stock.transfer", obj=prize,
        changes={"quantity": quantity, "to_pool": target_pool.code}, reason=reason,
    )
    return target


def _move_codes(prize: Prize, target: Prize, quantity: int) -> None:
    codes = list(
        CouponCode.objects.select_for_update(skip_locked=True)
        .filter(prize=prize, grant__isnull=True).order_by("pk").values_list("pk", flat=True)[:quantity]
    )
    if len(codes) < quantity:
        raise ValidationError(_("Not enough unissued coupon codes to move."), code="sold_out")
    try:
        with transaction.atomic():
            CouponCode.objects.filter(pk__in=codes).update(prize=target)
    except IntegrityError as exc:
        raise ValidationError(_("The target prize already has some of these coupon codes.")) from exc


# --- budget ---------------------------------------------------------------------


@transaction.atomic
def budget_add(*, actor, pool: PrizePool, amount: Decimal, reason: str) -> BudgetMovement:
    _require(actor, Verb.MANAGE_POOLS, pool)
    _positive(amount, _("The amount must be positive."))
    _give(PrizePool, pool.pk, "budget_available", amount)
    movement = BudgetMovement.objects.create(pool=pool, kind=MovementKind.ADDED, amount=amount, actor=actor, reason=reason)
    audit_record(actor=actor, action="budget.add", obj=pool, changes={"amount": str(amount)}, reason=reason)
    return movement


@transaction.atomic
def budget_transfer(*, actor, source: PrizePool, target: PrizePool, amount: Decimal, reason: str = "") -> None:
    _require(actor, Verb.MANAGE_POOLS, source)
    _require(actor, Verb.MANAGE_POOLS, target)
    _positive(amount, _("The amount must be positive."))
    if source.pk == target.pk or not target.owner_branch.is_within(source.owner_branch):
        raise ValidationError(_("Budget moves only to a pool of a branch below the source pool's branch."))
    list(PrizePool.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk").values_list("pk"))
    if not _take(PrizePool, source.pk, "budget_available", amount):
        raise ValidationError(_("Not enough budget available."), code="budget")
    _give(PrizePool, target.pk, "budget_available", amount)
    BudgetMovement.objects.create(pool=source, kind=MovementKind.TRANSFER_OUT, amount=-amount, actor=actor, reason=reason)
    BudgetMovement.objects.create(pool=target, kind=MovementKind.TRANSFER_IN, amount=amount, actor=actor, reason=reason)
    audit_record(actor=actor, action="budget.transfer", obj=source, changes={"amount": str(amount), "to_pool": target.code}, reason=reason)


# --- reservations ---------------------------------------------------------------


@transaction.atomic
def reservation_create(*, actor, prize: Prize, quantity: int, source_ref: str) -> Reservation:
    """Set stock aside for one source (a campaign, when it is approved).

    No verb check here: the caller's own service (campaign approval) decides
    who may approve; the actor is recorded on the movement and the audit entry.
    """
    _positive(quantity, _("The quantity must be positive."))
    if not _take(Prize, prize.pk, "stock_available", quantity):
        raise ValidationError(_("Not enough stock available."), code="sold_out")
    reservation, _created = Reservation.objects.get_or_create(prize=prize, source_ref=source_ref)
    if reservation.released_at is not None:
        raise ValidationError(_("This reservation was released; make a new one."))
    _give(Reservation, reservation.pk, "remaining", quantity)
    StockMovement.objects.create(
        prize=prize, reservation=reservation, kind=MovementKind.RESERVED, delta=-quantity,
        reserved_delta=quantity, actor=actor, reason=source_ref,
    )
    audit_record(actor=actor, action="stock.reserve", obj=prize, changes={"quantity": quantity, "for": source_ref})
    reservation.refresh_from_db()
    return reservation


@transaction.atomic
def reservation_release(*, actor, reservation: Reservation, reason: str = "") -> int:
    """Return what is left of a reservation to the prize's stock; returns how much."""
    reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
    if reservation.released_at is not None:
        return 0
    left = reservation.remaining
    Reservation.objects.filter(pk=reservation.pk).update(remaining=0, released_at=timezone.now())
    if left:
        _give(Prize, reservation.prize_id, "stock_available", left)
    StockMovement.objects.create(
        prize_id=reservation.prize_id, reservation=reservation, kind=MovementKind.RELEASED, delta=left,
        reserved_delta=-left, actor=actor, reason=reason or reservation.source_ref,
    )
    audit_record(actor=actor, action="stock.release", obj=reservation.prize, changes={"quantity": left, "for": reservation.source_ref}, reason=reason)
    return left


@transaction.atomic
def reservation_reduce(*, actor, reservation: Reservation, quantity: int, reason: str = "") -> None:
    """Return part of an open reservation to the prize's stock (a campaign
    re-approved with a smaller quantity); the reservation stays open."""
    _positive(quantity, _("The quantity must be positive."))
    if reservation.released_at is not None or not _take(Reservation, reservation.pk, "remaining", quantity):
        raise ValidationError(_("The reservation does not hold that much."))
    _give(Prize, reservation.prize_id, "stock_available", quantity)
    StockMovement.objects.create(
        prize_id=reservation.prize_id, reservation=reservation, kind=MovementKind.RELEASED, delta=quantity,
        reserved_delta=-quantity, actor=actor, reason=reason or reservation.source_ref,
    )
    audit_record(actor=actor, action="stock.release", obj=reservation.prize, changes={"quantity": quantity, "for": reservation.source_ref}, reason=reason)


# --- grants ---------------------------------------------------------------------


def grant_create(
    *, prize: Prize, customer, idempotency_key: str, source: str, source_ref: str = "",
    reservation: Reservation | None = None, actor=None, then: Callable[[Grant], None] | None = None,
) -> Grant:
    """One reward to one customer, exactly once per ``idempotency_key``.

    Atomically: one unit of stock (from the reservation when given), the cost
    from the pool's budget, a coupon code for coupon prizes, the grant row and
    its ledger rows. The same key again returns the first grant and changes
    nothing (``then`` is not called). Raises ValidationError with code
    "sold_out" or "budget".

    ``then(grant)`` writes the caller's own rows for a new grant in the same
    transaction, before the stock and budget counters are taken: those rows
    are locked from their update to the commit, so the less that follows
    them, the less concurrent grants of the prize wait (the campaign runtime).
    """
    if not idempotency_key:
        raise ValidationError(_("A grant needs an idempotency key."))
    existing = Grant.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _same_request(existing, prize, customer)
    try:
        with transaction.atomic():
            return _grant_new(prize, customer, idempotency_key, source, source_ref, reservation, actor, then)
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with its grant.
        existing = Grant.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _same_request(existing, prize, customer)


def _same_request(grant: Grant, prize: Prize, customer) -> Grant:
    if (grant.prize_id, grant.customer_id) != (prize.pk, customer.pk):
        raise ValidationError(_("This idempotency key was already used for another grant."), code="conflict")
    return grant


def pool_valid_today(pool: PrizePool) -> bool:
    today = timezone.localdate()
    return (pool.valid_from is None or pool.valid_from <= today) and (
        pool.valid_until is None or today <= pool.valid_until
    )


def grants_create_many(
    *, prize: Prize, reservation: Reservation | None, wanted: list[GrantWanted], actor=None,
    then: Callable[[list[Grant]], None] | None = None,
) -> list[Grant]:
    """Several grants of one prize (from one reservation) at once, all or
    none: one unit of stock and the cost each, taken by one conditional update
    of each counter for the lot. For the campaign runtime's background
    drain, which grants awards in batches; it calls ``grant_create`` one by one
    for a lot that fails, to find which grant is refused and why. Keys already
    used fail the lot (IntegrityError). Raises ValidationError like
    ``grant_create``; ``then(grants)`` as there."""
    if not wanted:
        return []
    with transaction.atomic():
        return _grants_new(prize, reservation, wanted, actor, then)


class GrantWanted(NamedTuple):
    customer: Any  # a Customer, or its id
    idempotency_key: str
    source: str
    source_ref: str = ""


def _grant_new(prize, customer, key, source, source_ref, reservation, actor, then=None) -> Grant:
    one = [GrantWanted(customer, key, source, source_ref)]
    return _grants_new(prize, reservation, one, actor, (lambda grants: then(grants[0])) if then else None)[0]


def _grants_new(prize, reservation, wanted: list[GrantWanted], actor, then=None) -> list[Grant]:
    if not pool_valid_today(prize.pool):
        raise ValidationError(_("The prize pool is not valid today."), code="expired")
    if reservation is not None and reservation.prize_id != prize.pk:
        raise ValidationError(_("The reservation is for another prize."))
    cost, count = prize.unit_cost, len(wanted)
    created_by = actor if getattr(actor, "pk", None) else None
    fulfilment = Fulfilment.TO_SHIP if prize.kind == PrizeKind.GIFT else ""
    grants = [
        Grant(
            idempotency_key=w.idempotency_key, prize=prize, reservation=reservation, cost=cost, source=w.source,
            source_ref=w.source_ref, created_by=created_by, fulfilment=fulfilment,
            **({"customer": w.customer} if hasattr(w.customer, "pk") else {"customer_id": w.customer}),
        )
        for w in wanted
    ]
    grants = Grant.objects.bulk_create(grants) if count > 1 else [_saved(grants[0])]
    if prize.kind == PrizeKind.COUPON:
        codes = list(
            CouponCode.objects.select_for_update(skip_locked=True)
            .filter(prize=prize, grant__isnull=True)
            .order_by("pk")[:count]
        )
        if len(codes) < count:
            raise ValidationError(_("No coupon codes are left for this prize."), code="sold_out")
        for code, grant in zip(codes, grants, strict=True):
            code.grant = grant
        CouponCode.objects.bulk_update(codes, ["grant"])
    StockMovement.objects.bulk_create([
        StockMovement(
            prize=prize, reservation=reservation, grant=grant, kind=MovementKind.GRANTED,
            delta=0 if reservation else -1, reserved_delta=-1 if reservation else 0,
            actor=created_by, reason=grant.source,
        )
        for grant in grants
    ])
    if cost:
        BudgetMovement.objects.bulk_create([
            BudgetMovement(
                pool_id=prize.pool_id, grant=grant, kind=MovementKind.GRANTED, amount=-cost, actor=created_by,
                reason=grant.source,
            )
            for grant in grants
        ])
    if then is not None:
        then(grants)
    # The counters last: their row locks (the prize or reservation row, then
    # the pool row — every writer takes them in that order) are held only from
    # here to the commit, so concurrent grants of one prize queue briefly. A
    # counter that is too low fails the update and the caller's transaction
    # undoes the rows above.
    if reservation is not None:
        taken = _take(Reservation, reservation.pk, "remaining", count)
    else:
        taken = _take(Prize, prize.pk, "stock_available", count)
    if not taken:
        raise ValidationError(_("This prize is sold out."), code="sold_out")
    if cost and not _take(PrizePool, prize.pool_id, "budget_available", cost * count):
        raise ValidationError(_("The prize pool's budget is used up."), code="budget")
    # Delivery starts once the grants are committed; if this process dies first,
    # the sweeper finds the pending grants (DESIGN.md §6.2).
    ids = [grant.pk for grant in grants]
    transaction.on_commit(lambda: _enqueue(ids))
    return grants


def _saved(grant: Grant) -> Grant:
    grant.save(force_insert=True)
    return grant


def _enqueue(grant_ids: list[int]) -> None:
    from rewards.services import delivery

    delivery.grants_enqueue(grant_ids=grant_ids)


@transaction.atomic
def grant_revoke(*, actor, grant: Grant, reason: str) -> Grant:
    """Take a grant back: its unit returns to stock (or to its open reservation)
    and its cost to the budget. A coupon code stays spent."""
    if not reason.strip():
        raise ValidationError(_("Say why the grant is revoked."))
    _require(actor, Verb.MANAGE_POOLS, grant)
    revocable = [GrantStatus.PENDING, GrantStatus.FAILED, GrantStatus.DELIVERED]
    if Grant.objects.filter(pk=grant.pk, status__in=revocable).update(status=GrantStatus.REVOKED) != 1:
        raise ValidationError(_("This grant is already revoked or being dispatched."))
    reservation = grant.reservation
    to_reservation = reservation is not None and reservation.released_at is None
    if to_reservation:
        _give(Reservation, reservation.pk, "remaining", 1)
    else:
        _give(Prize, grant.prize_id, "stock_available", 1)
    StockMovement.objects.create(
        prize_id=grant.prize_id, reservation=reservation if to_reservation else None, grant=grant,
        kind=MovementKind.REVOKED, delta=0 if to_reservation else 1, reserved_delta=1 if to_reservation else 0,
        actor=actor, reason=reason,
    )
    if grant.cost:
        _give(PrizePool, grant.prize.pool_id, "budget_available", grant.cost)
        BudgetMovement.objects.create(
            pool_id=grant.prize.pool_id, grant=grant, kind=MovementKind.REVOKED, amount=grant.cost, actor=actor, reason=reason
        )
    audit_record(actor=actor, action="grant.revoke", obj=grant, changes={"customer": grant.customer_id}, reason=reason)
    grant.refresh_from_db()
    return grant
