"""Writes for accounts: the branch tree, roles and the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, Branch, Role, User
from accounts.scope import owner_branch


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: Any,
    changes: dict[str, Any] | None = None,
    reason: str = "",
    branch: Branch | None = None,
) -> AuditEntry:
    """Append an audit entry; call inside the transaction of the change itself."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        branch=branch or owner_branch(obj),
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes or {},
        reason=reason,
    )


@transaction.atomic
def branch_create(*, actor: User | None, code: str, name: str, parent: Branch | None) -> Branch:
    if parent is None and Branch.objects.filter(parent__isnull=True).exists():
        raise ValidationError(_("There is already a head office; choose a parent branch."))
    branch = Branch(code=code, name=name, parent=parent, path=f"pending:{code}")  # unique until the pk is known
    branch.full_clean()
    branch.save()
    branch.path = f"{parent.path if parent else '/'}{branch.pk}/"
    branch.save(update_fields=["path"])
    audit_record(
        actor=actor,
        action="branch.create",
        obj=branch,
        changes={"code": code, "name": name, "parent": parent.code if parent else None},
    )
    return branch


@transaction.atomic
def branch_update(
    *, actor: User | None, branch: Branch, name: str, parent: Branch | None
) -> Branch:
    """Rename a branch and/or move it (with its subtree) under another parent."""
    branch = Branch.objects.select_for_update().get(pk=branch.pk)
    changes: dict[str, Any] = {}
    if name != branch.name:
        changes["name"] = [branch.name, name]
        branch.name = name
    if (parent.pk if parent else None) != branch.parent_id:
        if branch.parent_id is None or parent is None:
            raise ValidationError(_("Head office stays the root of the tree."))
        if parent.is_within(branch):
            raise ValidationError(_("A branch cannot move below itself."))
        old_path = branch.path
        new_path = f"{parent.path}{branch.pk}/"
        changes["parent"] = [branch.parent.code, parent.code]
        # Rewrite the whole subtree's paths in one statement.
        Branch.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
        )
        branch.refresh_from_db(fields=["path"])
        branch.parent = parent
    branch.full_clean()
    branch.save(update_fields=["name", "parent"])
    if changes:
        audit_record(actor=actor, action="branch.update", obj=branch, changes=changes)
    return branch


@transaction.atomic
def user_assign(*, actor: User | None, user: User, branch: Branch | None, role: str) -> User:
    """Change a user's branch or role: a change of permissions, so it is audited."""
    changes: dict[str, Any] = {}
    if user.branch_id != (branch.pk if branch else None):
        changes["branch"] = [user.branch.code if user.branch else None, branch.code if branch else None]
    if user.role != role:
        if role not in Role.values:
            raise ValidationError(_("Unknown role."))
        changes["role"] = [user.role, role]
    user.branch = branch
    user.role = role
    user.full_clean()
    user.save()
    if changes:
        audit_record(
            actor=actor,
            action="user.assign",
            obj=user,
            changes=changes,
            branch=branch or Branch.objects.get(parent__isnull=True),
        )
    return user
