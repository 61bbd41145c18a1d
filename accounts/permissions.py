"""The one permission helper: ``can(user, verb, obj)``.

The role decides which verbs a user has; the branch decides where. Views,
templates (``{% can %}``), the admin and services all ask this function.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from accounts.scope import branch_in_scope, owner_branch


class Verb(models.TextChoices):
    VIEW = "view", _("view")
    EDIT = "edit", _("create and edit drafts")
    DELETE = "delete", _("delete drafts")
    SUBMIT = "submit", _("submit for approval")
    APPROVE = "approve", _("approve or reject")
    MANAGE_POOLS = "manage_pools", _("manage prize pools, stock and budget")
    DISPATCH = "dispatch", _("dispatch prizes manually")
    EXPORT = "export", _("export data")
    MANAGE_TAGS = "manage_tags", _("manage tags")
    MANAGE_USERS = "manage_users", _("manage users")
    MANAGE_BRANCHES = "manage_branches", _("manage the branch tree")
    PUBLISH_TEMPLATES = "publish_templates", _("publish campaign templates to branches")
    MANAGE_CHANNELS = "manage_channels", _("manage channel API clients")


_EVERYONE = {Verb.VIEW, Verb.EXPORT}
_BUILDERS = _EVERYONE | {Verb.EDIT, Verb.DELETE, Verb.SUBMIT, Verb.DISPATCH}

# DESIGN.md §1. Approval is its own verb so that maker-checker can also require
# that the approver is not the submitter (checked where approval happens).
ROLE_VERBS: dict[str, frozenset[str]] = {
    Role.HEAD_OFFICE_ADMIN: frozenset(set(Verb)),
    Role.BRANCH_ADMIN: frozenset(
        _BUILDERS | {Verb.APPROVE, Verb.MANAGE_POOLS, Verb.MANAGE_TAGS, Verb.MANAGE_USERS}
    ),
    Role.OPERATOR: frozenset(_BUILDERS),
    Role.REVIEWER: frozenset(_EVERYONE | {Verb.APPROVE}),
    Role.ANALYST: frozenset(_EVERYONE),
}


def has_verb(user: Any, verb: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if verb not in Verb.values:
        raise ValueError(f"unknown verb {verb!r}")
    return verb in ROLE_VERBS.get(user.role, frozenset())


def can(user: Any, verb: str, obj: Any = None) -> bool:
    """May ``user`` do ``verb`` (to ``obj``, when given)?

    Without ``obj`` this answers "anywhere in the user's scope" (navigation,
    list pages); with ``obj`` the object's owning branch must be in scope too.
    """
    if not has_verb(user, verb):
        return False
    return obj is None or branch_in_scope(user, owner_branch(obj))


def require(user: Any, verb: str, obj: Any = None) -> None:
    """``can`` or PermissionDenied (403): for views, after the scoped lookup."""
    if not can(user, verb, obj):
        raise PermissionDenied
