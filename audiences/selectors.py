"""Reads for audiences. Lists start from the user's scope; segment members are
counted by the bitmap index within the segment owner's subtree."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from pyroaring import FrozenBitMap

from accounts.dashboard import Card
from accounts.models import Branch, Role
from accounts.scope import BranchScope
from audiences import bitmaps, rules
from audiences.models import (
    Customer,
    CustomerTag,
    ImportBatch,
    ImportStatus,
    Segment,
    SegmentSnapshot,
    Tag,
    TagCategory,
)
from config import jobs

SAMPLE_SIZE = 20


def sees_full_phone(user) -> bool:
    return bool(user.is_superuser or user.role == Role.HEAD_OFFICE_ADMIN)


def mask_phone(phone: str) -> str:
    """``13812341234`` → ``138****1234``; short numbers keep only their last two."""
    if len(phone) >= 7:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def phone_for(user, phone: str) -> str:
    return phone if sees_full_phone(user) else mask_phone(phone)


def customer_list(*, user) -> QuerySet[Customer]:
    return Customer.objects.visible_to(user).select_related("branch")


def customer_get_for_user(*, user, customer_ref: str) -> Customer:
    return get_object_or_404(customer_list(user=user), customer_ref=customer_ref)


def customer_tags_by_category(*, customer: Customer, user) -> list[tuple[TagCategory, list[CustomerTag]]]:
    visible = Tag.objects.visible_to(user)
    rows = (
        CustomerTag.objects.filter(customer=customer, tag__in=visible)
        .select_related("tag__category")
        .order_by("tag__category__order", "tag__code")
    )
    grouped: dict[TagCategory, list[CustomerTag]] = defaultdict(list)
    for row in rows:
        grouped[row.tag.category].append(row)
    return list(grouped.items())


def scope_universe(user) -> FrozenBitMap:
    """Every customer id in the user's scope."""
    keys = [bitmaps.branch_key(pk) for pk in Branch.objects.visible_to(user).values_list("pk", flat=True)]
    return bitmaps.cache.union(bitmaps.get_many(keys))


def tag_list(*, user) -> QuerySet[Tag]:
    return Tag.objects.visible_to(user).select_related("category", "owner_branch")


def tag_member_counts(*, user, tags) -> dict[int, int]:
    """Members of each tag within the user's scope, from the bitmap index."""
    universe = scope_universe(user)
    maps = bitmaps.get_many(bitmaps.tag_key(t.pk) for t in tags)
    return {t.pk: maps[bitmaps.tag_key(t.pk)].intersection_cardinality(universe) for t in tags}


def tag_has_members_filter(tag_ids):
    return Exists(CustomerTag.objects.filter(customer=OuterRef("pk"), tag_id__in=tag_ids))


def segment_list(*, user) -> QuerySet[Segment]:
    return Segment.objects.visible_to(user).select_related("owner_branch", "created_by")


def segment_get_for_user(*, user, pk: int) -> Segment:
    return get_object_or_404(segment_list(user=user), pk=pk)


def segment_members(*, rule, owner_branch: Branch, segment: Segment | None = None) -> FrozenBitMap:
    """Members of ``rule`` within ``owner_branch``'s subtree. Raises RuleError."""
    normalised, ctx = rules.validate(rule, user=BranchScope(owner_branch), segment=segment)
    return rules.evaluate(normalised, ctx)


@dataclass
class Preview:
    size: int
    by_branch: list[tuple[Branch, int]]
    sample: list[Customer]


def segment_preview(*, rule, owner_branch: Branch, segment: Segment | None = None) -> Preview:
    """Size, breakdown by branch and a sample, for the builder. Raises RuleError."""
    members = segment_members(rule=rule, owner_branch=owner_branch, segment=segment)
    branches = list(Branch.objects.visible_to(BranchScope(owner_branch)))
    maps = bitmaps.get_many(bitmaps.branch_key(b.pk) for b in branches)
    by_branch = [(b, members.intersection_cardinality(maps[bitmaps.branch_key(b.pk)])) for b in branches]
    size = len(members)
    # Evenly spread over the member ids, so the sample is not just the oldest customers.
    step = max(size // SAMPLE_SIZE, 1)
    ids = [members[i] for i in range(0, size, step)][:SAMPLE_SIZE]
    sample = list(Customer.objects.filter(pk__in=ids).select_related("branch").order_by("customer_ref"))
    return Preview(size=size, by_branch=[(b, n) for b, n in by_branch if n], sample=sample)


def snapshot_members(snapshot: SegmentSnapshot) -> FrozenBitMap:
    return FrozenBitMap.deserialize(bytes(snapshot.members))


def dashboard_cards(user) -> list[Card]:
    return [
        Card(
            key="customers",
            title=_("Customers in scope"),
            count=len(scope_universe(user)),
            url=reverse("audiences:customer_list"),
        ),
        Card(
            key="segments",
            title=_("Segments"),
            count=segment_list(user=user).filter(is_archived=False).count(),
            url=reverse("audiences:segment_list"),
        ),
    ]


# ------------------------------------------------------------------ imports

logger = logging.getLogger(__name__)

IMPORT_IN_FLIGHT = (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING)


def import_batch_list(*, user) -> QuerySet[ImportBatch]:
    return ImportBatch.objects.visible_to(user).select_related("branch", "uploaded_by")


def import_batch_get_for_user(*, user, pk: int) -> ImportBatch:
    return get_object_or_404(import_batch_list(user=user), pk=pk)


def import_progress_key(batch: ImportBatch) -> str:
    """Where the batch's job writes its progress (``services.imports``)."""
    # The job id makes the key unique even where batch ids repeat (test databases).
    return f"audiences:import:{batch.pk}:{batch.job_id}:progress"


def import_progress_get(*, batch: ImportBatch) -> dict[str, Any] | None:
    """The checking or importing job's progress from Redis; None when unknown."""
    if batch.status not in IMPORT_IN_FLIGHT or not batch.job_id:
        return None
    data = jobs.progress_get(import_progress_key(batch))
    if data is None:
        return None
    phases = {
        "read": _("Reading the file"),
        "check": _("Checking rows"),
        "write": _("Writing"),
        "report": _("Writing the report"),
    }
    # Reading counts bytes, the other phases rows: only rows are worth showing.
    return {**data, "phase": phases.get(data.get("phase"), ""), "rows": data.get("phase") != "read"}


def import_batch_stuck(*, batch: ImportBatch) -> bool:
    """Did the job this batch waits for die (worker killed, job lost or failed)?

    Yes when the batch is checking, queued or importing and its rq job is gone,
    failed, stopped, or finished without moving the batch on, or has been
    running longer than its timeout (a worker killed outright leaves its job
    "started"). When Redis cannot be asked the answer is no: a batch is never
    run again on a guess.
    """
    if batch.status not in IMPORT_IN_FLIGHT or not batch.job_id:
        return False
    started = batch.started_at if batch.status == ImportStatus.RUNNING else None
    dead = jobs.job_dead(batch.job_id, started_at=started)
    # A job commits the batch's next status before rq marks it finished: if
    # the batch has not moved on now, after the job was asked about, it never will.
    return dead and ImportBatch.objects.filter(pk=batch.pk, status=batch.status, job_id=batch.job_id).exists()
