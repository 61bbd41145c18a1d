"""Reads for rewards, and the reconciliation of counters with their ledgers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from rewards.models import BudgetMovement, Prize, PrizePool, Reservation, StockMovement


@dataclass(frozen=True)
class Difference:
    what: str  # "prize", "reservation" or "pool"
    pk: int
    label: str
    counter: int | Decimal
    ledger: int | Decimal


def reconcile() -> list[Difference]:
    """Every counter whose value differs from the sum of its ledger."""
    diffs: list[Difference] = []
    stock = dict(StockMovement.objects.values("prize").annotate(s=Sum("delta")).values_list("prize", "s"))
    for prize in Prize.objects.select_related("pool"):
        ledger = stock.get(prize.pk) or 0
        if ledger != prize.stock_available:
            diffs.append(Difference("prize", prize.pk, str(prize), prize.stock_available, ledger))
    reserved = dict(
        StockMovement.objects.filter(reservation__isnull=False)
        .values("reservation").annotate(s=Sum("reserved_delta")).values_list("reservation", "s")
    )
    for reservation in Reservation.objects.all():
        ledger = reserved.get(reservation.pk) or 0
        if ledger != reservation.remaining:
            diffs.append(Difference("reservation", reservation.pk, reservation.source_ref, reservation.remaining, ledger))
    budget = dict(BudgetMovement.objects.values("pool").annotate(s=Sum("amount")).values_list("pool", "s"))
    for pool in PrizePool.objects.all():
        ledger = budget.get(pool.pk) or Decimal("0")
        if ledger != pool.budget_available:
            diffs.append(Difference("pool", pool.pk, str(pool), pool.budget_available, ledger))
    return diffs
