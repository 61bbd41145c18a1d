"""Campaigns: the working copy a maker edits, its approved revisions, prize
slots, channels, materials, templates and the frozen audience.

The ``Campaign`` row is the working copy. Approval freezes it into a
``CampaignRevision`` (its whole configuration as JSON); the runtime reads the
campaign's ``live_revision``, never the working copy, so editing an approved or
live campaign changes nothing for customers until the new revision is approved
(DESIGN.md §6.5).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from accounts.scope import ScopedQuerySet
from audiences.models import CODE_VALIDATOR, Segment, SegmentSnapshot, Tag
from rewards.models import Prize, Reservation

MONEY = {"max_digits": 14, "decimal_places": 2}

__all__ = [
    "Campaign", "CampaignAudience", "CampaignChannel", "CampaignRevision", "CampaignStatus", "CampaignTemplate",
    "ChannelKind", "Material", "MaterialKind", "RevisionState", "RewardSlot",
]


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    PENDING_REVIEW = "pending_review", _("pending review")
    APPROVED = "approved", _("approved (scheduled)")
    LIVE = "live", _("live")
    PAUSED = "paused", _("paused")
    ENDED = "ended", _("ended")


class ChannelKind(models.TextChoices):
    APP = "app", _("app push")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class MaterialKind(models.TextChoices):
    POSTER = "poster", _("poster")
    ANIMATED = "animated", _("animated image")
    VIDEO = "video", _("short video")
    ARTICLE = "article", _("article")


class Material(models.Model):
    """A reusable creative: an uploaded image or video checked by its content,
    or an article (rich text, sanitised). Scoped by its owner branch."""

    owner_branch = models.ForeignKey(Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=MaterialKind.choices)
    name = models.CharField(_("name"), max_length=120)
    file = models.FileField(_("file"), upload_to="materials/%Y/%m/", blank=True)
    thumbnail = models.FileField(_("thumbnail"), upload_to="materials/thumbs/%Y/%m/", blank=True)
    content_type = models.CharField(_("content type"), max_length=80, blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    body = models.TextField(_("article text"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    is_archived = models.BooleanField(_("archived"), default=False)

    scope_field = "owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CampaignTemplate(models.Model):
    """A saved configuration to start campaigns from (活动模型).

    A template belongs to its owner branch's subtree; head office publishes a
    template to every branch (``published``). Every kind also ships a built-in
    default that needs no row.
    """

    kind = models.CharField(_("kind"), max_length=20)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    owner_branch = models.ForeignKey(Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+")
    published = models.BooleanField(_("published to all branches"), default=False)
    config = models.JSONField(_("configuration"), default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign template")
        verbose_name_plural = _("campaign templates")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=120)
    # A name in ``campaigns.kinds.registry`` (not choices: adding a kind needs no migration).
    kind = models.CharField(_("kind"), max_length=20, db_index=True)
    owner_branch = models.ForeignKey(Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+")
    # Empty: the owner branch's whole subtree.
    target_branches = models.ManyToManyField(Branch, verbose_name=_("target branches"), blank=True, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(
        _("status"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, db_index=True
    )
    is_archived = models.BooleanField(_("archived"), default=False)

    # Audience: the union of segments_in (all customers in the target branches
    # when empty) minus the union of segments_out; a share held out as control.
    segments_in = models.ManyToManyField(Segment, verbose_name=_("segments included"), blank=True, related_name="+")
    segments_out = models.ManyToManyField(Segment, verbose_name=_("segments excluded"), blank=True, related_name="+")
    control_percent = models.PositiveSmallIntegerField(
        _("control group (%)"), default=0, validators=[MaxValueValidator(50)]
    )

    budget_total = models.DecimalField(_("total budget (CNY)"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY)
    budget_daily = models.DecimalField(
        _("daily budget (CNY)"), null=True, blank=True, validators=[MinValueValidator(0)], **MONEY
    )

    # Rules every kind shares.
    limit_per_day = models.PositiveIntegerField(_("per customer per day"), null=True, blank=True)
    limit_total = models.PositiveIntegerField(_("per customer in total"), null=True, blank=True)
    new_customers_only = models.BooleanField(_("new customers only"), default=False)
    new_customer_days = models.PositiveSmallIntegerField(_("new means opened within (days)"), default=30)
    blacklist_tags = models.ManyToManyField(Tag, verbose_name=_("excluded tags"), blank=True, related_name="+")
    rules_text = models.TextField(_("rules shown to customers"), blank=True)

    # Kind-specific settings, validated by the kind's form.
    kind_settings = models.JSONField(_("kind settings"), default=dict, blank=True)
    # The landing page: an ordered list of block names (banner, rules, prizes, countdown, cta).
    landing_blocks = models.JSONField(_("landing page blocks"), default=list, blank=True)
    banner = models.ForeignKey(
        Material, verbose_name=_("banner"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    template = models.ForeignKey(
        CampaignTemplate, verbose_name=_("made from template"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    live_revision = models.ForeignKey(
        "CampaignRevision", verbose_name=_("approved revision"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    # Set while the working copy differs from live_revision (an approved or live
    # campaign being changed): it needs approval again.
    has_unapproved_changes = models.BooleanField(_("changed since approval"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_field = "owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="campaign_window_ordered"),
            models.CheckConstraint(condition=models.Q(control_percent__lte=50), name="campaign_control_at_most_half"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RewardSlot(models.Model):
    """A prize a campaign gives, in the order the customer sees it.

    ``role`` is the kind's: a lottery's wheel slots ("prize"; no prize =
    the "no prize" slot), an event's "reward", a referral's "referrer" and
    "referee", a task chain's "step" and "chain", a flash sale's "item".
    ``quantity`` is reserved from the prize's stock at approval.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    role = models.CharField(_("role"), max_length=16, default="prize")
    label = models.CharField(_("label"), max_length=80)
    prize = models.ForeignKey(
        Prize, verbose_name=_("prize"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.PositiveIntegerField(_("quantity to reserve"), default=0)
    # Lottery: chance out of 10,000 (basis points); the "no prize" slot takes the rest.
    weight = models.PositiveIntegerField(_("weight (of 10,000)"), default=0, validators=[MaxValueValidator(10_000)])
    options = models.JSONField(_("options"), default=dict, blank=True)
    reservation = models.ForeignKey(
        Reservation, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    scope_field = "campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("reward slot")
        verbose_name_plural = _("reward slots")
        ordering = ["campaign", "position", "id"]

    def __str__(self) -> str:
        return self.label


class CampaignChannel(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="channels")
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Placeholders: {name}, {campaign}, {link}.
    template = models.TextField(_("message template"), blank=True)
    material = models.ForeignKey(
        Material, verbose_name=_("material"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    scope_field = "campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign channel")
        verbose_name_plural = _("campaign channels")
        ordering = ["campaign", "channel"]
        constraints = [models.UniqueConstraint(fields=["campaign", "channel"], name="campaign_channel_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.channel}"


class RevisionState(models.TextChoices):
    PENDING = "pending", _("pending review")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class CampaignRevision(models.Model):
    """The campaign's whole configuration as submitted, frozen; approved ones run.

    ``changes`` is the diff against the previous approved revision (field,
    before, after), for the history page.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("revision"))
    state = models.CharField(_("state"), max_length=16, choices=RevisionState.choices, default=RevisionState.PENDING)
    config = models.JSONField(_("configuration"))
    changes = models.JSONField(_("changes"), default=list, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved or rejected by"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason"), blank=True)
    # Lottery draws: every draw's random value is a keyed hash of this secret
    # seed, the customer and the draw number. Its SHA-256 is published when the
    # revision is approved (before it can go live); the seed itself is shown
    # once the campaign has ended, so anyone can replay every draw.
    draw_seed = models.CharField(max_length=64, blank=True, editable=False)
    draw_seed_hash = models.CharField(_("draw seed commitment (SHA-256)"), max_length=64, blank=True)

    scope_field = "campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign revision")
        verbose_name_plural = _("campaign revisions")
        ordering = ["campaign", "-number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="campaign_revision_number_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id} r{self.number}"


class CampaignAudience(models.Model):
    """The audience frozen at approval: members and the control group (held out,
    recorded, not served), as serialised roaring bitmaps of customer ids."""

    revision = models.OneToOneField(CampaignRevision, on_delete=models.CASCADE, related_name="audience")
    snapshots = models.ManyToManyField(SegmentSnapshot, blank=True, related_name="+")
    members = models.BinaryField()
    control = models.BinaryField()
    size = models.PositiveIntegerField(_("audience"))
    control_size = models.PositiveIntegerField(_("control group"))
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)

    scope_field = "revision__campaign__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign audience")
        verbose_name_plural = _("campaign audiences")

    def __str__(self) -> str:
        return f"{self.revision} ({self.size})"
