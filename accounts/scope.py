"""Branch scope: which rows a user may see.

A model joins the scope system by naming, in ``scope_field``, the lookup path to
the Branch that owns a row (``"branch"``, ``"owner_branch"``, ``"pool__owner_branch"``)
and by using ``ScopedQuerySet`` (``objects = ScopedQuerySet.as_manager()``).
The same declaration serves the queryset filter (``visible_to``) and the object
check (``can``), so the two never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from accounts.models import Branch, User


def scope_path(user: Any) -> str | None:
    """The branch-path prefix of the user's scope; "" for all, None for nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    branch = user.branch
    return branch.path if branch is not None else None


def branch_in_scope(user: Any, branch: Branch | None) -> bool:
    prefix = scope_path(user)
    if prefix is None or branch is None:
        return prefix == ""
    return branch.path.startswith(prefix)


def owner_branch(obj: Any) -> Branch | None:
    """Follow the model's ``scope_field`` path from ``obj`` to its owning Branch."""
    from accounts.models import Branch

    if isinstance(obj, Branch):
        return obj
    field = getattr(type(obj), "scope_field", None)
    if field is None:
        raise TypeError(f"{type(obj).__name__} declares no scope_field")
    current = obj
    for part in field.split("__"):
        current = getattr(current, part)
        if current is None:
            return None
    return current


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user: User | Any) -> ScopedQuerySet:
        prefix = scope_path(user)
        if prefix is None:
            return self.none()
        if prefix == "":
            return self.all()
        field = getattr(self.model, "scope_field", None)
        lookup = "path__startswith" if field is None else f"{field}__path__startswith"
        return self.filter(**{lookup: prefix})


class BranchScope:
    """Acts as "anyone whose scope is this branch's subtree" for ``visible_to``.

    Used where the scope comes from an object rather than a person: a segment
    is evaluated within its owner branch, a job works for the branch that
    started it.
    """

    is_authenticated = True
    is_active = True
    is_superuser = False

    def __init__(self, branch: Branch):
        self.branch = branch

    def __repr__(self) -> str:
        return f"BranchScope({self.branch.code})"
