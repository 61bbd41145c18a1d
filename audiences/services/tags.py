"""Tag taxonomy: head office manages categories and bank-wide tags; branch
admins add tags owned by their subtree."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from audiences.models import Tag, TagCategory

TAG_FIELDS = ("code", "name_zh", "name_en", "category", "description", "owner_branch", "is_active")
CATEGORY_FIELDS = ("code", "name_zh", "name_en", "order", "description")


def _changes(obj, fields, values) -> dict:
    changes = {}
    for name in fields:
        old, new = getattr(obj, name, None), values[name]
        if old != new:
            changes[name] = [str(old) if old is not None else None, str(new) if new is not None else None]
            setattr(obj, name, new)
    return changes


@transaction.atomic
def tag_category_save(*, actor, category: TagCategory | None = None, **values) -> TagCategory:
    if not can(actor, Verb.MANAGE_BRANCHES):  # the taxonomy's frame is head office's
        raise PermissionDenied
    category = category or TagCategory()
    created = category.pk is None
    changes = _changes(category, CATEGORY_FIELDS, {f: values.get(f, getattr(category, f)) for f in CATEGORY_FIELDS})
    category.full_clean()
    category.save()
    if changes:
        audit_record(
            actor=actor,
            action="tag_category.create" if created else "tag_category.update",
            obj=category,
            changes=changes,
            branch=actor.branch,
        )
    return category


@transaction.atomic
def tag_save(*, actor, tag: Tag | None = None, **values) -> Tag:
    """Create or change a tag; the owner branch must be in the actor's scope."""
    tag = tag or Tag()
    if tag.pk is not None and not can(actor, Verb.MANAGE_TAGS, tag):
        raise PermissionDenied
    owner = values.get("owner_branch", tag.owner_branch if tag.pk else None)
    if owner is None or not can(actor, Verb.MANAGE_TAGS, owner):
        raise ValidationError({"owner_branch": _("Choose a branch in your scope.")})
    if tag.pk is not None and values.get("code", tag.code) != tag.code:
        raise ValidationError({"code": _("A tag's code cannot change; segments refer to it.")})
    created = tag.pk is None
    changes = _changes(tag, TAG_FIELDS, {f: values.get(f, getattr(tag, f, None)) for f in TAG_FIELDS})
    tag.full_clean()
    tag.save()
    if changes:
        audit_record(actor=actor, action="tag.create" if created else "tag.update", obj=tag, changes=changes)
    return tag
