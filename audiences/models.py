from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Branch
from accounts.scope import ScopedQuerySet, scope_path

CODE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.-]+$", _("Use letters, digits, '.', '-' and '_' only."))


class BilingualName(models.Model):
    """Bank taxonomy names are kept in both interface languages."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class Customer(models.Model):
    customer_ref = models.CharField(
        _("customer number"), max_length=32, unique=True, validators=[CODE_VALIDATOR]
    )
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, related_name="customers"
    )
    opened_on = models.DateField(_("customer since"), db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_field = "branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["customer_ref"]
        constraints = [
            # Bitmap ids are 32-bit.
            models.CheckConstraint(condition=models.Q(id__lt=2**32), name="customer_id_fits_bitmap"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_ref} {self.name}"


class TagCategory(BilingualName):
    code = models.CharField(_("code"), max_length=40, unique=True, validators=[CODE_VALIDATOR])
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("tag category")
        verbose_name_plural = _("tag categories")
        ordering = ["order", "code"]


class TagQuerySet(models.QuerySet):
    def visible_to(self, user) -> TagQuerySet:
        """Tags owned in the user's subtree, plus the bank-wide and regional
        tags of the branches above (every branch builds segments with head
        office's taxonomy)."""
        prefix = scope_path(user)
        if prefix is None:
            return self.none()
        if prefix == "":
            return self.all()
        ancestors = [int(pk) for pk in prefix.strip("/").split("/")]
        return self.filter(
            models.Q(owner_branch_id__in=ancestors)
            | models.Q(owner_branch__path__startswith=prefix)
        )


class Tag(BilingualName):
    code = models.CharField(_("code"), max_length=60, unique=True, validators=[CODE_VALIDATOR])
    category = models.ForeignKey(
        TagCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="tags"
    )
    description = models.TextField(_("description"), blank=True)
    owner_branch = models.ForeignKey(
        Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_field = "owner_branch"
    objects = TagQuerySet.as_manager()

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["category__order", "code"]


class TagSource(models.TextChoices):
    IMPORT = "import", _("import")
    RULE = "rule", _("rule")
    CAMPAIGN = "campaign", _("campaign")
    MANUAL = "manual", _("manual")


class CustomerTag(models.Model):
    """Which customer has which tag, since when, and where it came from.

    Written only through ``audiences.services.tagging``, which keeps the bitmap
    index in step in the same transaction.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="customer_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_tags")
    since = models.DateTimeField(_("since"))
    source = models.CharField(_("source"), max_length=16, choices=TagSource.choices)
    # The source object as data ("import:42", "campaign:SPRING-2026"); audiences
    # never imports the apps that tag customers.
    source_ref = models.CharField(_("source reference"), max_length=80, blank=True)

    scope_field = "customer__branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [
            models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique"),
        ]
        indexes = [models.Index(fields=["tag", "customer"])]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class BitmapIndex(models.Model):
    """One compressed bitmap of customer ids (tag, branch, opening month or day).

    The rows are derived data: ``manage.py audiences_rebuild_index`` recreates
    them from Customer and CustomerTag. ``version`` lets every process keep a
    cached copy and refresh only what changed.
    """

    key = models.CharField(max_length=40, unique=True)
    version = models.PositiveBigIntegerField(default=1)
    data = models.BinaryField()
    cardinality = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("bitmap index entry")
        verbose_name_plural = _("bitmap index")

    def __str__(self) -> str:
        return f"{self.key} v{self.version} ({self.cardinality})"


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    owner_branch = models.ForeignKey(
        Branch, verbose_name=_("owner branch"), on_delete=models.PROTECT, related_name="+"
    )
    rule = models.JSONField(_("rule"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    is_archived = models.BooleanField(_("archived"), default=False)

    scope_field = "owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(models.Model):
    """The frozen member set a campaign runs on (a serialized roaring bitmap)."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="snapshots")
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rule = models.JSONField(_("rule"))
    size = models.PositiveIntegerField(_("size"))
    members = models.BinaryField()
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    scope_field = "segment__owner_branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.segment} @ {self.taken_at:%Y-%m-%d %H:%M} ({self.size})"


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("customers")
    TAGS = "tags", _("tag assignments")


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("checking")
    INVALID = "invalid", _("has errors")
    VALIDATED = "validated", _("ready to import")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("importing")
    DONE = "done", _("imported")
    FAILED = "failed", _("failed")


class ImportBatch(models.Model):
    """One uploaded file: validated, previewed, confirmed, imported all-or-nothing."""

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    status = models.CharField(_("status"), max_length=16, choices=ImportStatus.choices)
    branch = models.ForeignKey(
        Branch, verbose_name=_("importer's branch"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    original_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    # Preview counts and the first row-level errors (row, column, message).
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    errors = models.JSONField(_("row errors"), default=list, blank=True)
    report = models.FileField(_("result report"), upload_to="imports/reports/%Y/%m/", blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    failure = models.TextField(_("failure"), blank=True)

    scope_field = "branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"
