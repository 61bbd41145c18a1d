"""Reads for campaigns: scoped look-ups and the choices an editor may offer.

Choices are the intersection of two scopes: what the *user* sees, and what the
campaign's *owner branch* may use (its subtree; for tags also the bank-wide
and regional tags above it). A campaign of Beijing never draws on a Shanghai
pool, whoever edits it. ``keep`` lists ids the campaign already uses, so an
archived segment or inactive tag stays selectable instead of failing the form.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import Branch
from accounts.scope import BranchScope, scope_path
from audiences import selectors as audience_selectors
from audiences.models import Segment, Tag
from campaigns.models import Campaign, CampaignChannel, CampaignTemplate, Material, RewardSlot
from rewards import selectors as reward_selectors
from rewards.models import Prize


def campaign_list(*, user) -> QuerySet[Campaign]:
    return Campaign.objects.visible_to(user).select_related("owner_branch", "created_by")


def campaign_get_for_user(*, user, code: str) -> Campaign:
    """The campaign if it is in the user's scope; 404 otherwise (existence never leaks)."""
    return get_object_or_404(campaign_list(user=user), code=code)


def campaign_with_parts(campaign: Campaign) -> Campaign:
    """The campaign with its slots (and prizes), channels and many-to-many choices prefetched."""
    return (
        Campaign.objects.select_related(
            "owner_branch", "created_by", "banner", "template", "live_revision", "live_revision__decided_by"
        )
        .prefetch_related(
            Prefetch("slots", queryset=RewardSlot.objects.select_related("prize", "prize__pool").order_by("position", "pk")),
            Prefetch("channels", queryset=CampaignChannel.objects.select_related("material").order_by("channel")),
            Prefetch("segments_in", queryset=Segment.objects.order_by("name")),
            Prefetch("segments_out", queryset=Segment.objects.order_by("name")),
            "blacklist_tags",
            Prefetch("target_branches", queryset=Branch.objects.order_by("path")),
        )
        .get(pk=campaign.pk)
    )


def campaign_slots(campaign: Campaign) -> QuerySet[RewardSlot]:
    return campaign.slots.select_related("prize", "prize__pool").order_by("position", "pk")


def campaign_channels(campaign: Campaign) -> QuerySet[CampaignChannel]:
    return campaign.channels.select_related("material").order_by("channel")


def slot_get(*, campaign: Campaign, pk: int) -> RewardSlot:
    """A slot of this campaign (the campaign was looked up in scope); 404 for another's."""
    return get_object_or_404(campaign_slots(campaign), pk=pk)


# --- choices for the editor ------------------------------------------------------


def _kept(keep: Iterable[int]) -> Q:
    ids = [pk for pk in keep if pk]
    return Q(pk__in=ids) if ids else Q(pk__in=[])


def prize_choices(*, user, owner_branch: Branch) -> QuerySet[Prize]:
    """Prizes from pools in the user's scope that the owner branch may use (its subtree's pools)."""
    return (
        reward_selectors.prize_list(user=user)
        .filter(pool__owner_branch__path__startswith=owner_branch.path)
        .order_by("pool__owner_branch__path", "pool__code", "code")
    )


def segment_choices(*, user, owner_branch: Branch, keep: Iterable[int] = ()) -> QuerySet[Segment]:
    usable = Segment.objects.visible_to(BranchScope(owner_branch)).values("pk")
    return (
        audience_selectors.segment_list(user=user)
        .filter(pk__in=usable)
        .filter(Q(is_archived=False) | _kept(keep))
        .order_by("name", "pk")
    )


def tag_choices(*, user, owner_branch: Branch, keep: Iterable[int] = ()) -> QuerySet[Tag]:
    usable = Tag.objects.visible_to(BranchScope(owner_branch)).values("pk")
    return (
        Tag.objects.visible_to(user)
        .filter(pk__in=usable)
        .filter(Q(is_active=True) | _kept(keep))
        .select_related("category")
        .order_by("category__order", "code")
    )


def branch_choices(*, user, owner_branch: Branch) -> QuerySet[Branch]:
    """Target branches: the owner branch's subtree, within the user's scope."""
    return Branch.objects.visible_to(user).filter(path__startswith=owner_branch.path).order_by("path")


def owner_branch_choices(*, user) -> QuerySet[Branch]:
    return Branch.objects.visible_to(user).order_by("path")


def template_choices(*, user) -> QuerySet[CampaignTemplate]:
    """Templates of the user's subtree, and those head office published to every branch."""
    own = CampaignTemplate.objects.visible_to(user).values("pk")
    if scope_path(user) is None:
        return CampaignTemplate.objects.none()
    return CampaignTemplate.objects.filter(Q(pk__in=own) | Q(published=True)).order_by("kind", "name")


def material_choices(*, user, owner_branch: Branch, keep: Iterable[int] = ()) -> QuerySet[Material]:
    usable = Q(owner_branch__path__startswith=owner_branch.path)
    return (
        Material.objects.visible_to(user)
        .filter(usable)
        .filter(Q(is_archived=False) | _kept(keep))
        .order_by("-created_at", "-pk")
    )
