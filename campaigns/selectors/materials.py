"""Reads of the materials library, always within the user's scope."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from campaigns.models import Material


def material_list(*, user) -> QuerySet[Material]:
    """Every material in the user's scope, archived ones included."""
    return Material.objects.visible_to(user).select_related("owner_branch", "created_by")


def material_get_for_user(*, user, pk: int) -> Material:
    """The material, or 404 when it is missing or outside the user's scope."""
    return get_object_or_404(material_list(user=user), pk=pk)


def material_choices(*, user, kinds: Iterable[str] | None = None) -> QuerySet[Material]:
    """Materials a campaign in the user's scope may use: not archived, optionally
    of some kinds; for the querysets of choice fields (a tampered id fails)."""
    materials = material_list(user=user).filter(is_archived=False)
    if kinds is not None:
        materials = materials.filter(kind__in=list(kinds))
    return materials.order_by("name", "pk")
