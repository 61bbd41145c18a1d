"""Reads for accounts. Every queryset starts from the user's scope."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.dashboard import Card
from accounts.models import AuditEntry, Branch, User
from accounts.permissions import Verb, can


def branch_list(*, user: User) -> QuerySet[Branch]:
    return (
        Branch.objects.visible_to(user)
        .select_related("parent")
        .annotate(user_count=Count("users", filter=Q(users__is_active=True)))
        .order_by("path")
    )


def branch_get_for_user(*, user: User, code: str) -> Branch:
    """The branch with ``code`` if it is in the user's scope; 404 otherwise."""
    return get_object_or_404(Branch.objects.visible_to(user).select_related("parent"), code=code)


def user_list(*, user: User) -> QuerySet[User]:
    return User.objects.visible_to(user).select_related("branch").order_by("branch__path", "username")


def audit_list(*, user: User) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.visible_to(user).select_related("actor", "branch")


def dashboard_cards(user: User) -> list[Card]:
    branches = Branch.objects.visible_to(user)
    cards = [
        Card(
            key="branches",
            title=_("Branches in scope"),
            count=branches.count(),
            url=reverse("accounts:branch_list"),
        ),
    ]
    if can(user, Verb.MANAGE_USERS):
        cards.append(
            Card(
                key="users",
                title=_("Active users in scope"),
                count=User.objects.visible_to(user).filter(is_active=True).count(),
                url=reverse("accounts:user_list"),
            )
        )
    return cards
