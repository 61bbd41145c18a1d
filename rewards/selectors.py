"""Reads for rewards, and the reconciliation of counters with their ledgers."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, models
from django.db.models import CharField, Count, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pyroaring import FrozenBitMap

from accounts.dashboard import Card
from accounts.models import AuditEntry
from accounts.permissions import Verb, can
from audiences.models import Customer
from config import jobs
from rewards.models import (
    BatchStatus,
    BudgetMovement,
    CouponCode,
    DispatchBatch,
    Fulfilment,
    Grant,
    GrantStatus,
    Prize,
    PrizePool,
    Reservation,
    StockMovement,
)

logger = logging.getLogger(__name__)

# --- scoped look-ups: out of scope answers 404 like a missing id -------------------


def pool_list(*, user):
    return PrizePool.objects.visible_to(user).select_related("owner_branch")


def pool_get_for_user(*, user, code: str) -> PrizePool:
    return get_object_or_404(pool_list(user=user), code=code)


def prize_list(*, user):
    return Prize.objects.visible_to(user).select_related("pool", "pool__owner_branch")


def prize_get_for_user(*, user, pk: int) -> Prize:
    return get_object_or_404(prize_list(user=user), pk=pk)


def grant_list(*, user):
    return Grant.objects.visible_to(user).select_related("prize", "prize__pool", "customer")


def grant_get_for_user(*, user, pk: int) -> Grant:
    return get_object_or_404(grant_list(user=user), pk=pk)


def batch_list(*, user):
    return DispatchBatch.objects.visible_to(user).select_related("prize", "prize__pool", "created_by", "decided_by")


def batch_get_for_user(*, user, pk: int) -> DispatchBatch:
    return get_object_or_404(batch_list(user=user), pk=pk)


def dashboard_cards(user) -> list[Card]:
    """Pools in scope; grants that failed and wait for a person; manual
    dispatches this user may approve (not their own)."""
    cards = [
        Card(key="pools", title=_("Prize pools"), count=pool_list(user=user).count(), url=reverse("rewards:pool_list")),
        Card(
            key="failed_grants",
            title=_("Failed grants to resolve"),
            count=grant_list(user=user).filter(status=GrantStatus.FAILED).count(),
            url=reverse("rewards:grant_list") + f"?status={GrantStatus.FAILED}",
        ),
    ]
    if can(user, Verb.APPROVE):
        waiting = batch_list(user=user).filter(status=BatchStatus.AWAITING_APPROVAL).exclude(created_by=user)
        cards.append(
            Card(
                key="batches_to_approve",
                title=_("Manual dispatches to approve"),
                count=waiting.count(),
                url=reverse("rewards:batch_list") + f"?status={BatchStatus.AWAITING_APPROVAL}",
            )
        )
    return cards


# --- reconciliation --------------------------------------------------------------


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


# --- batches --------------------------------------------------------------------

BATCH_IN_FLIGHT = ("queued", "running")
BATCH_SEARCH_LIMIT = 50
_BATCH_DEAD_JOB = ("failed", "stopped", "canceled", "finished")


@dataclass(frozen=True)
class BatchCheck:
    """What a manual dispatch of ``count`` units of a prize needs, and what blocks it."""

    count: int
    unit_cost: Decimal
    total_cost: Decimal
    stock_available: int
    budget_available: Decimal
    pool_valid: bool
    threshold: Decimal
    errors: tuple[str, ...]

    @property
    def needs_approval(self) -> bool:
        return self.total_cost > self.threshold

    @property
    def stock_short(self) -> bool:
        return self.count > self.stock_available

    @property
    def budget_short(self) -> bool:
        return self.total_cost > self.budget_available


def batch_check(*, prize: Prize, count: int) -> BatchCheck:
    """Stock, budget and validity for dispatching ``count`` units, read fresh."""

    prize = Prize.objects.select_related("pool").get(pk=prize.pk)
    pool = prize.pool
    total = prize.unit_cost * count
    today = timezone.localdate()
    valid = (pool.valid_from is None or pool.valid_from <= today) and (pool.valid_until is None or today <= pool.valid_until)
    errors = []
    if count <= 0:
        errors.append(_("No customers are chosen."))
    if not valid:
        errors.append(_("The prize pool is not valid today."))
    if count > prize.stock_available:
        errors.append(
            _("Not enough stock: %(needed)s needed, %(available)s available.")
            % {"needed": count, "available": prize.stock_available}
        )
    if total > pool.budget_available:
        errors.append(
            _("Not enough budget: CNY %(needed)s needed, CNY %(available)s available.")
            % {"needed": total, "available": pool.budget_available}
        )
    return BatchCheck(
        count=count, unit_cost=prize.unit_cost, total_cost=total, stock_available=prize.stock_available,
        budget_available=pool.budget_available, pool_valid=valid, threshold=settings.REWARDS_BATCH_APPROVAL_ABOVE,
        errors=tuple(errors),
    )


def batch_members(batch: DispatchBatch):

    return FrozenBitMap.deserialize(bytes(batch.members))


def batch_awaiting_approval(*, user):
    """Batches in scope waiting for a decision that ``user`` may take (not their own)."""
    return batch_list(user=user).filter(status="awaiting_approval").exclude(created_by=user)


def batch_customer_search(*, user, q: str):
    """Customers in scope whose number starts with, or whose name contains, ``q``."""


    q = q.strip()
    if not q:
        return Customer.objects.none()
    return (
        Customer.objects.visible_to(user)
        .filter(Q(customer_ref__istartswith=q) | Q(name__icontains=q))
        .select_related("branch")
        .order_by("customer_ref")
    )


def batch_customers_by_ref(*, user, refs: list[str]) -> dict[str, int]:
    """``customer_ref → id`` for the refs that are customers in the user's scope."""

    found: dict[str, int] = {}
    visible = Customer.objects.visible_to(user)
    for start in range(0, len(refs), 2000):
        chunk = refs[start : start + 2000]
        found.update(visible.filter(customer_ref__in=chunk).values_list("customer_ref", "pk"))
    return found


def batch_progress_key(batch: DispatchBatch) -> str:
    # The job id keeps the key unique where batch ids repeat (test databases) and per resumption.
    return f"rewards:batch:{batch.pk}:{batch.job_id}:progress"


def batch_progress_get(*, batch: DispatchBatch) -> dict | None:
    """The running job's ``{done, total, percent}`` from Redis; None when unknown."""
    if batch.status not in BATCH_IN_FLIGHT or not batch.job_id:
        return None
    return jobs.progress_get(batch_progress_key(batch))


def batch_stuck(*, batch: DispatchBatch) -> bool:
    """Did the job this queued or running batch waits for die?

    Yes when its rq job is gone, failed, stopped, or finished without moving the
    batch on, or has run past its timeout (a worker killed outright leaves its
    job "started"). When Redis cannot be asked the answer is no: nobody resumes
    a batch on a guess (resuming is safe, but would be noise).
    """


    if batch.status not in BATCH_IN_FLIGHT or not batch.job_id:
        return False
    dead = jobs.job_dead(batch.job_id, started_at=batch.started_at)
    # The job commits the batch's end before rq marks it finished: re-read the batch.
    return dead and DispatchBatch.objects.filter(pk=batch.pk, status=batch.status, job_id=batch.job_id).exists()


def batch_grant_counts(*, batch: DispatchBatch) -> dict[str, int]:
    """The batch's grants by delivery status (one grouped query)."""

    rows = Grant.objects.filter(source_ref=batch.source_ref).values_list("status").annotate(n=Count("id")).order_by()
    return dict(rows)


# --- pool and prize pages --------------------------------------------------------


def pool_list_with_totals(*, user):
    """Pools in scope with their number of prizes and total available stock (one query)."""
    return pool_list(user=user).annotate(
        prize_count=Count("prizes"), stock_total=Coalesce(Sum("prizes__stock_available"), 0)
    )


def _with_counts(prizes):
    """Prizes with the stock reserved for campaigns and the number of grants (revoked ones not counted)."""
    reserved = (
        Reservation.objects.filter(prize=OuterRef("pk"), released_at__isnull=True)
        .values("prize").annotate(total=Sum("remaining")).values("total")
    )
    granted = (
        Grant.objects.filter(prize=OuterRef("pk")).exclude(status=GrantStatus.REVOKED)
        .values("prize").annotate(total=Count("pk")).values("total")
    )
    return prizes.annotate(
        reserved=Coalesce(Subquery(reserved), 0), granted=Coalesce(Subquery(granted), 0)
    )


def pool_prizes(*, pool: PrizePool):
    return _with_counts(pool.prizes.order_by("code"))


def prize_get_with_counts(*, user, pk: int) -> Prize:
    return get_object_or_404(_with_counts(prize_list(user=user)), pk=pk)


def coupon_code_counts(*, prize: Prize) -> dict[str, int]:
    return prize.coupon_codes.aggregate(
        available=Count("pk", filter=Q(grant__isnull=True)), issued=Count("pk", filter=Q(grant__isnull=False))
    )


def fulfilment_counts(*, prize: Prize) -> dict[str, int]:
    """Physical gifts per fulfilment step (revoked grants left out)."""
    counts = dict(
        Grant.objects.filter(prize=prize).exclude(status=GrantStatus.REVOKED).exclude(fulfilment="")
        .values("fulfilment").annotate(n=Count("pk")).values_list("fulfilment", "n")
    )
    return {value: counts.get(value, 0) for value in Fulfilment.values}


def budget_summary(*, pool: PrizePool) -> dict[str, Decimal]:
    """The pool's budget ledger summed by kind of movement."""
    return dict(pool.budget_movements.values("kind").annotate(total=Sum("amount")).values_list("kind", "total"))


def stock_ledger(*, pool: PrizePool):
    return StockMovement.objects.filter(prize__pool=pool).select_related("prize", "actor", "reservation")


def budget_ledger(*, pool: PrizePool):
    return BudgetMovement.objects.filter(pool=pool).select_related("actor")


def transfer_targets(*, user, pool: PrizePool):
    """Pools in the user's scope that stock or budget can move to from ``pool``: below its owner branch."""
    return (
        pool_list(user=user)
        .filter(owner_branch__path__startswith=pool.owner_branch.path)
        .exclude(pk=pool.pk)
        .order_by("owner_branch__path", "code")
    )


# --- grants and history ----------------------------------------------------------


GRANT_AUDIT_TYPE = "rewards.grant"


def grant_status_counts(queryset) -> dict[str, int]:
    """How many grants of ``queryset`` are in each status (one grouped query)."""
    return dict(queryset.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))


def mask_code(code: str) -> str:
    """A coupon code with all but its last four characters hidden (all of a short one)."""
    if len(code) <= 4:
        return "*" * len(code)
    return "*" * (len(code) - 4) + code[-4:]


def grant_coupon_code_masked(*, grant: Grant) -> str | None:
    code = CouponCode.objects.filter(grant=grant).values_list("code", flat=True).first()
    return None if code is None else mask_code(code)


def grant_stock_movements(*, grant: Grant):
    return StockMovement.objects.filter(grant=grant).select_related("actor", "prize", "reservation")


def grant_budget_movements(*, grant: Grant):
    return BudgetMovement.objects.filter(grant=grant).select_related("actor")


def grant_audit_entries(*, user, grant: Grant):
    return (
        AuditEntry.objects.visible_to(user)
        .filter(object_type=GRANT_AUDIT_TYPE, object_id=str(grant.pk))
        .select_related("actor")
    )


def customer_grants(*, user, customer):
    """The customer's grants from the pools in the user's scope."""
    return grant_list(user=user).filter(customer=customer)


class HistoryKind(models.TextChoices):
    """What a history row is about. Every row is exactly one of these."""

    STOCK = "stock", gettext_lazy("Stock (additions, adjustments, transfers, reservations)")
    BUDGET = "budget", gettext_lazy("Budget (additions, transfers)")
    GRANT = "grant", gettext_lazy("Grants (granted, revoked, resolved)")
    ADMIN = "admin", gettext_lazy("Approvals and administration")


# Audit actions whose facts (actor, amount, reason, time) the ledger row written
# in the same transaction already shows; listing both would say everything twice.
LEDGER_MIRRORED_ACTIONS = ("stock.add", "stock.adjust", "stock.reserve", "stock.release", "budget.add")

AUDIT_ACTION_LABELS = {
    "pool.create": gettext_lazy("Pool created"),
    "pool.update": gettext_lazy("Pool changed"),
    "prize.create": gettext_lazy("Prize created"),
    "prize.update": gettext_lazy("Prize changed"),
    "stock.add": gettext_lazy("Stock added"),
    "stock.adjust": gettext_lazy("Stock adjusted"),
    "stock.transfer": gettext_lazy("Stock transferred"),
    "stock.reserve": gettext_lazy("Stock reserved"),
    "stock.release": gettext_lazy("Reservation released"),
    "budget.add": gettext_lazy("Budget added"),
    "budget.transfer": gettext_lazy("Budget transferred"),
    "grant.revoke": gettext_lazy("Grant revoked"),
    "grant.retry": gettext_lazy("Grant sent again"),
    "grant.mark_delivered": gettext_lazy("Grant marked delivered"),
    "grant.fulfilment": gettext_lazy("Gift fulfilment changed"),
    "coupon_codes.add": gettext_lazy("Coupon codes uploaded"),
    "batch.create": gettext_lazy("Manual dispatch created"),
    "batch.approve": gettext_lazy("Manual dispatch approved"),
    "batch.reject": gettext_lazy("Manual dispatch rejected"),
    "batch.resume": gettext_lazy("Manual dispatch resumed"),
    "batch.done": gettext_lazy("Manual dispatch finished"),
    "batch.failed": gettext_lazy("Manual dispatch failed"),
    "reconcile.fix": gettext_lazy("Counter repaired from its ledger"),
}

_STOCK, _BUDGET, _AUDIT = 1, 2, 3
_SOURCE_MODELS = {_STOCK: StockMovement, _BUDGET: BudgetMovement, _AUDIT: AuditEntry}


@dataclass(frozen=True)
class HistoryRow:
    """One row of a history: a stock or budget movement, or an audit entry."""

    entry: StockMovement | BudgetMovement | AuditEntry

    @property
    def source(self) -> str:
        return {StockMovement: "stock", BudgetMovement: "budget", AuditEntry: "audit"}[type(self.entry)]

    @property
    def at(self):
        return self.entry.at

    @property
    def actor(self):
        return self.entry.actor

    @property
    def reason(self) -> str:
        return self.entry.reason

    @property
    def kind(self) -> str:
        if isinstance(self.entry, AuditEntry):
            return HistoryKind.GRANT if self.entry.object_type == GRANT_AUDIT_TYPE else HistoryKind.ADMIN
        if self.entry.grant_id:
            return HistoryKind.GRANT
        return HistoryKind.STOCK if isinstance(self.entry, StockMovement) else HistoryKind.BUDGET

    @property
    def grant_id(self) -> int | None:
        if isinstance(self.entry, AuditEntry):
            return int(self.entry.object_id) if self.entry.object_type == GRANT_AUDIT_TYPE else None
        return self.entry.grant_id

    @property
    def action_label(self) -> str:
        if isinstance(self.entry, AuditEntry):
            return str(AUDIT_ACTION_LABELS.get(self.entry.action, self.entry.action))
        return self.entry.get_kind_display()

    @property
    def changes(self) -> list[tuple[str, str]]:
        """An audit entry's changes as (field, "old → new" or value) pairs, one level deep."""
        if not isinstance(self.entry, AuditEntry):
            return []
        pairs = []
        for key, value in (self.entry.changes or {}).items():
            if isinstance(value, list) and len(value) == 2:
                pairs.append((key, f"{value[0] or '—'} → {value[1] or '—'}"))
            elif isinstance(value, dict):
                pairs.extend((f"{key} {inner}", str(v)) for inner, v in value.items() if v not in (None, ""))
            elif not isinstance(value, list):
                pairs.append((key, str(value)))
        return pairs


class History:
    """A merged, newest-first sequence of ledger rows and audit entries, for a Paginator.

    The database merges the sources (one UNION ALL of (at, source, id) keys,
    ordered and sliced), then each source's rows of the page are loaded in one
    query: a page costs a count, the keys and at most three loads, whatever
    the length of the history. Where the database allows it (PostgreSQL), each
    source is cut to the rows the page could possibly need before merging.
    """

    def __init__(self, *, stock, budget, audit, kind: str = "", since=None, until=None):
        parts: list[tuple[int, QuerySet]] = []
        # A ledger row made by a grant or its revocation counts as a grant row.
        if kind in ("", HistoryKind.STOCK, HistoryKind.GRANT):
            if kind:
                stock = stock.filter(grant__isnull=kind == HistoryKind.STOCK)
            parts.append((_STOCK, stock))
        if kind in ("", HistoryKind.BUDGET, HistoryKind.GRANT):
            if kind:
                budget = budget.filter(grant__isnull=kind == HistoryKind.BUDGET)
            parts.append((_BUDGET, budget))
        if kind in ("", HistoryKind.GRANT, HistoryKind.ADMIN):
            audit = audit.exclude(action__in=LEDGER_MIRRORED_ACTIONS)
            if kind == HistoryKind.GRANT:
                audit = audit.filter(object_type=GRANT_AUDIT_TYPE)
            elif kind == HistoryKind.ADMIN:
                audit = audit.exclude(object_type=GRANT_AUDIT_TYPE)
            parts.append((_AUDIT, audit))
        # Whole local days, as a range on the indexed column.
        bounds = {}
        if since:
            bounds["at__gte"] = _local_midnight(since)
        if until:
            bounds["at__lt"] = _local_midnight(until + dt.timedelta(days=1))
        self.parts = [
            qs.filter(**bounds).order_by().annotate(src=Value(source)).values_list("at", "src", "id")
            for source, qs in parts
        ]

    def _merged(self, limit: int | None = None):
        if len(self.parts) == 1:
            return self.parts[0]
        parts = self.parts
        if limit is not None and connection.features.supports_slicing_ordering_in_compound:
            parts = [qs.order_by("-at", "-id")[:limit] for qs in parts]
        first, *rest = parts
        return first.union(*rest, all=True)

    def count(self) -> int:
        return self._merged().count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice) or index.stop is None:
            raise TypeError("History supports slices with an end only.")
        if index.stop <= (index.start or 0):
            return []
        keys = list(self._merged(limit=index.stop).order_by("-at", "-src", "-id")[index])
        wanted: dict[int, list[int]] = {}
        for _at, source, pk in keys:
            wanted.setdefault(source, []).append(pk)
        loaded = {
            (source, obj.pk): obj
            for source, pks in wanted.items()
            for obj in _history_load(source, pks)
        }
        return [HistoryRow(loaded[source, pk]) for _at, source, pk in keys if (source, pk) in loaded]


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _history_load(source: int, pks: list[int]):
    model = _SOURCE_MODELS[source]
    queryset = model.objects.filter(pk__in=pks).select_related("actor").order_by()
    if model is StockMovement:
        queryset = queryset.select_related("prize", "grant__customer")
    elif model is BudgetMovement:
        queryset = queryset.select_related("grant__customer")
    return queryset


def _pks_as_text(queryset):
    """The pks of ``queryset`` as a text subquery, to match ``AuditEntry.object_id``."""
    return queryset.order_by().annotate(sid=Cast("id", output_field=CharField())).values("sid")


def pool_history(*, user, pool: PrizePool, kind: str = "", since=None, until=None) -> History:
    """What changed in a pool: its stock and budget ledgers, and the audit
    entries about it, its prizes, their grants and their dispatch batches."""
    audit = AuditEntry.objects.visible_to(user).filter(
        Q(object_type="rewards.prizepool", object_id=str(pool.pk))
        | Q(object_type="rewards.prize", object_id__in=_pks_as_text(Prize.objects.filter(pool=pool)))
        | Q(object_type=GRANT_AUDIT_TYPE, object_id__in=_pks_as_text(Grant.objects.filter(prize__pool=pool)))
        | Q(
            object_type="rewards.dispatchbatch",
            object_id__in=_pks_as_text(DispatchBatch.objects.filter(prize__pool=pool)),
        )
    )
    return History(
        stock=StockMovement.objects.filter(prize__pool=pool),
        budget=BudgetMovement.objects.filter(pool=pool),
        audit=audit,
        kind=kind,
        since=since,
        until=until,
    )


def customer_history(*, user, customer) -> History:
    """The ledger rows and audit entries of a customer's grants in the user's scope."""
    grants = Grant.objects.visible_to(user).filter(customer=customer)
    return History(
        stock=StockMovement.objects.filter(grant__in=grants.values("id")),
        budget=BudgetMovement.objects.filter(grant__in=grants.values("id")),
        audit=AuditEntry.objects.visible_to(user).filter(
            object_type=GRANT_AUDIT_TYPE, object_id__in=_pks_as_text(grants)
        ),
    )
