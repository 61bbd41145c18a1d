from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from accounts.scope import ScopedQuerySet


class Branch(models.Model):
    """A node of the bank's branch tree; head office is the root.

    ``path`` is the materialised path of primary keys (``/1/4/9/``): a subtree is
    one indexed ``LIKE 'prefix%'`` query on any database, without recursion.
    It is written only by ``accounts.services``.
    """

    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Use letters, digits, - and _ only."))],
    )
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent branch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(_("tree path"), max_length=255, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["path"]
        constraints = [
            # Exactly one root: head office.
            # (Coalesce, because NULLs never collide in a plain unique index.)
            models.UniqueConstraint(
                Coalesce("parent", models.Value(0)),
                condition=models.Q(parent__isnull=True),
                name="branch_single_root",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    @property
    def is_head_office(self) -> bool:
        return self.parent_id is None

    def is_within(self, other: Branch) -> bool:
        """True when self is ``other`` or below it."""
        return self.path.startswith(other.path)


class Role(models.TextChoices):
    HEAD_OFFICE_ADMIN = "head_office_admin", _("Head-office admin")
    BRANCH_ADMIN = "branch_admin", _("Branch admin")
    OPERATOR = "operator", _("Operator")
    REVIEWER = "reviewer", _("Reviewer")
    ANALYST = "analyst", _("Analyst")


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):
    pass


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class User(AbstractUser):
    """A member of staff. The role decides the verbs, the branch the scope."""

    branch = models.ForeignKey(
        Branch,
        verbose_name=_("branch"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        help_text=_("Required for everyone but superusers; the user's scope is this subtree."),
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.ANALYST)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=settings.TIME_ZONE, choices=_time_zone_choices
    )

    scope_field = "branch"
    objects = ScopedUserManager()

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(branch__isnull=False) | models.Q(is_superuser=True),
                name="user_branch_required_unless_superuser",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.branch_id is None and not self.is_superuser:
            raise ValidationError({"branch": _("Every user except a superuser belongs to a branch.")})
        if (
            self.role == Role.HEAD_OFFICE_ADMIN
            and self.branch_id is not None
            and not self.branch.is_head_office
        ):
            raise ValidationError({"role": _("A head-office admin must belong to head office.")})


class AuditEntry(models.Model):
    """Append-only record of a change that matters: who, what, when, why.

    Every service that changes stock, budget, grants, approvals, roles or the
    branch tree writes one in the same transaction as the change.
    """

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty for system actions (jobs, channel API)."),
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    branch = models.ForeignKey(
        Branch, verbose_name=_("branch"), on_delete=models.PROTECT, related_name="+"
    )
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    scope_field = "branch"
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_repr}"
