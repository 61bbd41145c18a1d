"""Prize pools, prizes, their stock and budget ledgers, and grants.

Stock and budget are counters kept beside append-only ledgers: a counter only
ever changes by a conditional UPDATE in the same transaction as the movement
that explains it, so ``manage.py rewards_reconcile`` can rebuild any counter
from its ledger, and the database refuses a negative one.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from accounts.scope import ScopedQuerySet
from audiences.models import CODE_VALIDATOR, Customer

MONEY = {"max_digits": 14, "decimal_places": 2}


class PrizePool(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=120)
    owner_branch = models.ForeignKey(
        Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+"
    )
    budget_available = models.DecimalField(_("budget available (CNY)"), default=Decimal("0"), **MONEY)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("prize pool")
        verbose_name_plural = _("prize pools")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(budget_available__gte=0), name="pool_budget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class PrizeKind(models.TextChoices):
    POINTS = "points", _("points")
    COUPON = "coupon", _("coupon")
    CASH = "cash", _("cash red packet")
    RATE_COUPON = "rate_coupon", _("interest-rate coupon")
    FEE_WAIVER = "fee_waiver", _("fee waiver")
    GIFT = "gift", _("physical gift")


class Prize(models.Model):
    pool = models.ForeignKey(PrizePool, verbose_name=_("prize pool"), on_delete=models.PROTECT, related_name="prizes")
    code = models.CharField(_("code"), max_length=40, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=PrizeKind.choices)
    unit_cost = models.DecimalField(
        _("unit cost (CNY)"), validators=[MinValueValidator(Decimal("0"))], **MONEY
    )
    stock_available = models.PositiveIntegerField(_("stock available"), default=0)
    # Where transferred stock came from: every unit can be traced to head office.
    source_prize = models.ForeignKey(
        "self", verbose_name=_("transferred from"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("prize")
        verbose_name_plural = _("prizes")
        ordering = ["pool", "code"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "code"], name="prize_code_unique_in_pool"),
            models.CheckConstraint(condition=models.Q(stock_available__gte=0), name="prize_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name="prize_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.pool.code}/{self.code})"


class Reservation(models.Model):
    """Stock set aside for one source (a campaign): only it can grant from it."""

    prize = models.ForeignKey(Prize, verbose_name=_("prize"), on_delete=models.PROTECT, related_name="reservations")
    source_ref = models.CharField(_("reserved for"), max_length=80)
    remaining = models.PositiveIntegerField(_("remaining"), default=0)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "prize__pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [
            models.UniqueConstraint(fields=["prize", "source_ref"], name="reservation_unique_per_source"),
            models.CheckConstraint(condition=models.Q(remaining__gte=0), name="reservation_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.prize} → {self.source_ref} ({self.remaining})"


class MovementKind(models.TextChoices):
    ADDED = "added", _("added")
    RESERVED = "reserved", _("reserved for a campaign")
    RELEASED = "released", _("released")
    GRANTED = "granted", _("granted")
    REVOKED = "revoked", _("revoked / returned")
    ADJUSTED = "adjusted", _("adjusted")
    EXPIRED = "expired", _("expired")
    TRANSFER_OUT = "transfer_out", _("transferred out")
    TRANSFER_IN = "transfer_in", _("transferred in")


class LedgerEntry(models.Model):
    """What every ledger row records besides its amount: what kind of change,
    for which grant (if any), by whom, why and when."""

    kind = models.CharField(_("kind"), max_length=16, choices=MovementKind.choices)
    grant = models.ForeignKey("Grant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-at", "-id"]


class StockMovement(LedgerEntry):
    """One change of stock: ``delta`` moves the prize's available stock,
    ``reserved_delta`` its reservation's remaining stock (grants from a
    reservation move only the latter)."""

    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="movements")
    reservation = models.ForeignKey(Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    delta = models.IntegerField(_("change of available stock"))
    reserved_delta = models.IntegerField(_("change of reserved stock"), default=0)

    scope_field = "prize__pool__owner_branch"

    class Meta(LedgerEntry.Meta):
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.delta:+d} {self.prize_id}"


class BudgetMovement(LedgerEntry):
    """One change of a pool's available budget (``amount``, signed, CNY)."""

    pool = models.ForeignKey(PrizePool, on_delete=models.PROTECT, related_name="budget_movements")
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)

    scope_field = "pool__owner_branch"

    class Meta(LedgerEntry.Meta):
        verbose_name = _("budget movement")
        verbose_name_plural = _("budget movements")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.pool_id}"


class GrantStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DISPATCHING = "dispatching", _("dispatching")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    REVOKED = "revoked", _("revoked")


class FailureKind(models.TextChoices):
    TRANSIENT = "transient", _("transient (retried)")
    PERMANENT = "permanent", _("permanent")


class Fulfilment(models.TextChoices):
    """Where a physical gift is on its way to the customer."""

    TO_SHIP = "to_ship", _("to be shipped")
    SHIPPED = "shipped", _("shipped")
    RECEIVED = "received", _("received")
    RETURNED = "returned", _("returned")


class Grant(models.Model):
    """One reward to one customer. ``idempotency_key`` makes it exactly once."""

    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    prize = models.ForeignKey(Prize, verbose_name=_("prize"), on_delete=models.PROTECT, related_name="grants")
    reservation = models.ForeignKey(Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="grants")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+")
    cost = models.DecimalField(_("cost (CNY)"), **MONEY)
    source = models.CharField(_("source"), max_length=120)
    source_ref = models.CharField(_("source reference"), max_length=80, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=GrantStatus.choices, default=GrantStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    failure_kind = models.CharField(_("kind of failure"), max_length=16, choices=FailureKind.choices, blank=True)
    # Set when a worker claims the grant (pending → dispatching); the sweeper
    # returns claims older than REWARDS_STUCK_AFTER_SECONDS to pending.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    fulfilment = models.CharField(_("fulfilment"), max_length=16, choices=Fulfilment.choices, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_field = "prize__pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["source_ref"]),
        ]

    def __str__(self) -> str:
        return f"{self.prize} → {self.customer_id} ({self.get_status_display()})"


class CouponCode(models.Model):
    """One code of a coupon prize; issued to at most one grant."""

    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="coupon_codes")
    code = models.CharField(_("code"), max_length=80)
    grant = models.OneToOneField(Grant, null=True, blank=True, on_delete=models.PROTECT, related_name="coupon_code")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "prize__pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("coupon code")
        verbose_name_plural = _("coupon codes")
        constraints = [models.UniqueConstraint(fields=["prize", "code"], name="coupon_code_unique_per_prize")]
        indexes = [models.Index(fields=["prize", "grant"])]

    def __str__(self) -> str:
        return self.code


class DeliveryRecord(models.Model):
    """One delivery as the logging backend records it (its "core system").

    Deliberately not unique per key: exactly-once delivery is the dispatcher's
    job, and counting these rows per key is how the tests check it.
    """

    grant = models.ForeignKey(Grant, verbose_name=_("grant"), on_delete=models.PROTECT, related_name="deliveries")
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, db_index=True)
    backend = models.CharField(_("backend"), max_length=120)
    payload = models.JSONField(_("payload"), default=dict)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    scope_field = "grant__prize__pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery record")
        verbose_name_plural = _("delivery records")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.idempotency_key


class BatchStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", _("awaiting approval")
    REJECTED = "rejected", _("rejected")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class BatchSelection(models.TextChoices):
    SEARCH = "search", _("picked from a search")
    SEGMENT = "segment", _("a segment")
    UPLOAD = "upload", _("an uploaded list")


class DispatchBatch(models.Model):
    """A manual dispatch: one prize to a chosen set of customers, for a reason.

    The members are frozen when the batch is confirmed (a serialised roaring
    bitmap of customer ids), so approval and the job act on exactly what the
    preview showed. Each member's grant has the key ``batch:<pk>:<customer>``:
    running the job twice grants nobody twice.
    """

    prize = models.ForeignKey(Prize, verbose_name=_("prize"), on_delete=models.PROTECT, related_name="batches")
    reason = models.CharField(_("reason"), max_length=200)
    selection = models.CharField(_("customers from"), max_length=16, choices=BatchSelection.choices)
    selection_label = models.CharField(_("selection"), max_length=200, blank=True)
    members = models.BinaryField(_("members"), editable=False)
    customer_count = models.PositiveIntegerField(_("customers"))
    total_cost = models.DecimalField(_("total cost (CNY)"), **MONEY)
    status = models.CharField(_("status"), max_length=20, choices=BatchStatus.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved or rejected by"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.CharField(_("reason for the decision"), max_length=200, blank=True)
    job_id = models.CharField(max_length=64, blank=True, editable=False)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    summary = models.JSONField(_("result"), default=dict, blank=True)
    report = models.FileField(_("report"), upload_to="rewards/batches/", blank=True)
    failure = models.TextField(_("failure"), blank=True)

    scope_field = "prize__pool__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dispatch batch")
        verbose_name_plural = _("dispatch batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prize} x {self.customer_count}"

    @property
    def source_ref(self) -> str:
        return f"batch:{self.pk}"
