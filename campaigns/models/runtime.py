"""What the runtime records while customers take part, and the API clients
(channels) they come through (DESIGN.md §5).

Every row here is written by ``campaigns.runtime`` inside the transaction that
makes the change it records; unique constraints make the database the last word
on per-customer caps even if a Redis counter were wrong:

- ``Award``: one per reward a campaign gives (its grant follows in the
  background); ``(campaign, customer, seq, part)`` and ``(campaign, customer,
  day, day_seq, part)`` are unique and ``seq`` / ``day_seq`` never exceed the
  campaign's limits, so a customer can never be rewarded more often than the
  rules allow; ``(campaign, slot, unit)`` is unique with ``unit`` below the
  slot's quantity, so a slot never gives more than it reserved.
- ``Draw``: one per lottery draw; ``(campaign, customer, number)`` unique with
  ``number`` ≤ the draws allowed.
- Stock is capped again by the rewards ledger: a campaign's grants come out
  of the slot's reservation (``remaining >= 0``, checked by the database).

Slots are named by ``slot_key``, the slot's id in the approved revision's
configuration (the working-copy row may be edited or deleted later).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audiences.models import Customer
from campaigns.models.config import MONEY, Campaign, CampaignRevision
from rewards.models import Grant, Prize, Reservation

__all__ = [
    "Activity", "ActivityKind", "ApiChannel", "ApiChannelKind", "ApiRequest", "Award", "AwardStatus", "BusinessEvent", "Draw",
    "DrawOutcome", "Invite", "Referral", "ReferralStatus", "TaskProgress",
]


class ApiChannelKind(models.TextChoices):
    APP = "app", _("mobile app")
    SMS = "sms", _("SMS gateway")
    WECHAT = "wechat", _("WeChat")
    CORE = "core", _("core banking (business events)")


class ApiChannel(models.Model):
    """A machine client of the channel API: the app, the SMS gateway's landing
    pages, the WeChat backend, or the core system reporting business events.

    ``secret`` signs requests (HMAC-SHA256, DESIGN.md §5); it is shown once,
    when made or rotated. After a rotation the previous secret still verifies
    until ``previous_valid_until``, so the channel can roll out the new one.
    Customer-facing actions are served for campaigns that enable the channel's
    kind; business events are taken from any active channel.
    """

    name = models.CharField(_("name"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ApiChannelKind.choices)
    key_id = models.CharField(_("key id"), max_length=40, unique=True)
    secret = models.CharField(max_length=128, editable=False)
    previous_secret = models.CharField(max_length=128, blank=True, editable=False)
    previous_valid_until = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    rate_per_minute = models.PositiveIntegerField(_("requests per minute (channel)"), default=60_000)
    customer_rate_per_minute = models.PositiveIntegerField(_("requests per minute (per customer)"), default=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API channel")
        verbose_name_plural = _("API channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiRequest(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``: the same key with
    the same body gets it again and changes nothing. Stored in the transaction
    that made the change (answers that changed nothing are not stored)."""

    channel = models.ForeignKey(ApiChannel, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=120)
    body_hash = models.CharField(max_length=64)
    path = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("API idempotent answer")
        verbose_name_plural = _("API idempotent answers")
        constraints = [models.UniqueConstraint(fields=["channel", "key"], name="api_request_key_once")]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.key}"


class ActivityKind(models.TextChoices):
    VIEW = "view", _("viewed")
    HELD_OUT = "held_out", _("held out (control group)")
    JOIN = "join", _("joined")
    DRAW = "draw", _("drew")
    WIN = "win", _("won")
    CLAIM = "claim", _("claimed")
    INVITE = "invite", _("invited")
    REFERRAL = "referral", _("referred friend accepted")
    EVENT = "event", _("business event")
    STEP = "step", _("task done")
    CHAIN = "chain", _("task chain completed")


class Activity(models.Model):
    """One thing a customer did in a campaign, for the analysis: exposures,
    participation, wins and the business events (with amounts) that counted.
    ``channel`` is the API channel's kind; control-group customers are
    recorded as ``held_out`` and not served."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)
    slot_key = models.PositiveIntegerField(null=True, blank=True)
    award = models.ForeignKey("Award", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount (CNY)"), null=True, blank=True, **MONEY)
    ref = models.CharField(_("reference"), max_length=80, blank=True)

    scope_field = "campaign__owner_branch"

    class Meta:
        verbose_name = _("campaign activity")
        verbose_name_plural = _("campaign activities")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["campaign", "kind", "at"], name="activity_campaign_kind_at"),
            models.Index(fields=["campaign", "customer"], name="activity_campaign_customer"),
            # The campaign's newest record, for the analysis' records version.
            models.Index(fields=["campaign", "id"], name="activity_campaign_newest"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], condition=models.Q(kind="join"), name="activity_join_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id} {self.kind}"


class AwardStatus(models.TextChoices):
    QUEUED = "queued", _("queued for granting")
    GRANTED = "granted", _("granted")
    FAILED = "failed", _("refused by the prize pool")


class Award(models.Model):
    """A reward a campaign gave a customer, written in the request that won it;
    its grant is made from it in the background (``campaigns.runtime.awards``).

    ``seq`` is the customer's n-th rewarded action in the campaign, ``day_seq``
    the n-th that day (the bank's time zone). Rewarding one action with several
    slots (an event with two rewards) shares its seq; ``part`` numbers its
    awards from 0, so every rewarded action holds its ``(seq, 0)``: two
    actions can never share a number, whatever a counter said. ``unit`` is
    the unit of the slot's stock it took, below the slot's quantity and
    unique per slot: a campaign never gives more than it reserved, whatever a
    counter said. The grant's own ledger (the reservation's ``remaining >=
    0``, the pool's budget) is the second cap; an award it refuses is
    ``failed`` with the reason, for a person to look at."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    slot_key = models.PositiveIntegerField()
    unit = models.PositiveIntegerField(null=True, blank=True)
    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="+")
    reservation = models.ForeignKey(Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(_("grant idempotency key"), max_length=120, unique=True)
    grant = models.OneToOneField(Grant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("status"), max_length=16, choices=AwardStatus.choices, default=AwardStatus.QUEUED)
    failure = models.CharField(_("why it failed"), max_length=300, blank=True)
    action = models.CharField(_("action"), max_length=16)
    seq = models.PositiveIntegerField()
    part = models.PositiveSmallIntegerField(default=0)
    day = models.DateField()
    day_seq = models.PositiveIntegerField()
    cost = models.DecimalField(_("cost (CNY)"), **MONEY)
    at = models.DateTimeField(_("at"), default=timezone.now)

    scope_field = "campaign__owner_branch"

    class Meta:
        verbose_name = _("campaign award")
        verbose_name_plural = _("campaign awards")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer", "seq", "part"], name="award_seq_once"),
            models.UniqueConstraint(fields=["campaign", "customer", "day", "day_seq", "part"], name="award_day_seq_once"),
            models.UniqueConstraint(fields=["campaign", "slot_key", "unit"], name="award_unit_once"),
            models.CheckConstraint(condition=models.Q(seq__gte=1, day_seq__gte=1), name="award_seq_positive"),
        ]
        indexes = [
            models.Index(fields=["campaign", "day"], name="award_campaign_day"),
            models.Index(fields=["at"], condition=models.Q(status="queued"), name="award_queued"),
            # The campaign's newest award and its count of queued ones, for the analysis' records version.
            models.Index(fields=["campaign", "id"], name="award_campaign_newest"),
            models.Index(fields=["campaign", "status"], name="award_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id} #{self.seq}"


class DrawOutcome(models.TextChoices):
    WON = "won", _("won")
    NO_PRIZE = "no_prize", _("no prize")
    SOLD_OUT = "sold_out", _("landed on a prize that was gone")
    CAPPED = "capped", _("landed on a prize beyond the customer's limit")
    BUDGET = "budget", _("landed on a prize beyond the budget")


class Draw(models.Model):
    """One lottery draw, replayable by ``manage.py draws_verify``: ``value`` is
    the 64-bit random value (hex) derived from the revision's seed, the customer
    and ``number``; ``landed_key`` the slot it picked (None: the no-prize
    share); ``outcome`` what the customer got."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    revision = models.ForeignKey(CampaignRevision, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    day = models.DateField()
    day_number = models.PositiveIntegerField()
    value = models.CharField(max_length=16)
    landed_key = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=DrawOutcome.choices)
    award = models.OneToOneField(Award, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    scope_field = "campaign__owner_branch"

    class Meta:
        verbose_name = _("lottery draw")
        verbose_name_plural = _("lottery draws")
        ordering = ["campaign", "at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer", "number"], name="draw_number_once"),
            models.UniqueConstraint(fields=["campaign", "customer", "day", "day_number"], name="draw_day_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id} #{self.number}"


class Invite(models.Model):
    """A referrer's invite code for a referral campaign: one per customer and campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("invite code"), max_length=24, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("invite")
        verbose_name_plural = _("invites")
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="invite_once_per_customer")]

    def __str__(self) -> str:
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("waiting for the qualifying action")
    REWARDED = "rewarded", _("rewarded")
    CAPPED = "capped", _("referee rewarded; referrer over the cap")
    EXPIRED = "expired", _("expired")


class Referral(models.Model):
    """A referee who accepted an invite; rewarded when the referee's qualifying
    event arrives before ``qualify_by``. ``referrer_seq`` numbers the referrer's
    rewarded referrals (unique, at most the campaign's cap)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    invite = models.ForeignKey(Invite, on_delete=models.PROTECT, related_name="referrals")
    referrer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    referee = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.PENDING)
    accepted_at = models.DateTimeField(default=timezone.now)
    qualify_by = models.DateTimeField()
    qualified_at = models.DateTimeField(null=True, blank=True)
    referrer_seq = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "referee"], name="referral_referee_once"),
            models.UniqueConstraint(fields=["campaign", "referrer", "referrer_seq"], name="referral_referrer_seq_once"),
            models.CheckConstraint(condition=~models.Q(referrer=models.F("referee")), name="referral_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referee_id}"


class TaskProgress(models.Model):
    """A customer's progress through a task chain: per task, the count and the
    amount so far, and the steps done (1-based, in the order they were done)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    counts = models.JSONField(default=list)
    amounts = models.JSONField(default=list)
    done = models.JSONField(default=list)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("task-chain progress")
        verbose_name_plural = _("task-chain progress")
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="task_progress_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id}"


class BusinessEvent(models.Model):
    """A business event a channel reported (``POST /api/v1/events``), once per
    ``event_id``; ``outcome`` is the answer given, returned again on a replay.
    Kept for every known customer, in an audience or not: the analysis compares
    participants with the control group on these."""

    channel = models.ForeignKey(ApiChannel, on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(_("event id"), max_length=80)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(_("type"), max_length=32)
    amount = models.DecimalField(_("amount (CNY)"), null=True, blank=True, **MONEY)
    product = models.CharField(_("product"), max_length=40, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    outcome = models.JSONField(default=list)

    class Meta:
        verbose_name = _("business event")
        verbose_name_plural = _("business events")
        constraints = [models.UniqueConstraint(fields=["channel", "event_id"], name="business_event_once")]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="business_event_customer"),
            # An analysis reads the events of its window.
            models.Index(fields=["occurred_at"], name="business_event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
