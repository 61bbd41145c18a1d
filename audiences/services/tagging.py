"""Adding and removing customer tags — from imports, campaigns or by hand."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from pyroaring import BitMap

from accounts.services import audit_record
from audiences import bitmaps
from audiences.models import CustomerTag, Tag
from audiences.services.customers import add_tag_rows

CHUNK = 5000


def customer_tags_add(
    *, tag: Tag, customer_ids: Iterable[int], source: str, source_ref: str = "", actor=None
) -> int:
    """Give ``tag`` to the customers; returns how many did not have it yet.

    The tag's bitmap row is locked first, so the rows and the bitmap change
    together and concurrent writers of the same tag take turns. Idempotent.
    """
    ids = list(dict.fromkeys(customer_ids))
    with transaction.atomic(), bitmaps.locked([bitmaps.tag_key(tag.pk)]) as maps:
        added = add_tag_rows(tag.pk, ids, maps[bitmaps.tag_key(tag.pk)], source, source_ref, timezone.now())
        if added and actor is not None:
            audit_record(actor=actor, action="tag.assign", obj=tag, changes={"added": added, "source": source_ref})
    return added


def customer_tags_remove(*, tag: Tag, customer_ids: Iterable[int], actor=None, reason: str = "") -> int:
    """Take ``tag`` away from the customers; returns how many had it."""
    ids = list(dict.fromkeys(customer_ids))
    removed = 0
    with transaction.atomic(), bitmaps.locked([bitmaps.tag_key(tag.pk)]) as maps:
        bitmap = maps[bitmaps.tag_key(tag.pk)]
        present = [cid for cid in ids if cid in bitmap]
        for start in range(0, len(present), CHUNK):
            chunk = present[start : start + CHUNK]
            removed += CustomerTag.objects.filter(tag=tag, customer_id__in=chunk).delete()[0]
        bitmap.difference_update(BitMap(present))
        if removed and actor is not None:
            audit_record(actor=actor, action="tag.unassign", obj=tag, changes={"removed": removed}, reason=reason)
    return removed
