"""Rebuild the bitmap index from the database (the truth)."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from pyroaring import BitMap

from audiences import bitmaps
from audiences.models import BitmapIndex, Customer, CustomerTag


def index_rebuild(*, batch: int = 100_000) -> dict[str, int]:
    """Recompute every bitmap from Customer and CustomerTag; returns ``{key: members}``.

    The existing bitmaps are locked before the data is read, so a writer cannot
    slip a change in between; readers go on with the old versions meanwhile.
    """
    with transaction.atomic():
        existing = set(BitmapIndex.objects.values_list("key", flat=True))
        with bitmaps.locked(existing) as maps:
            built: dict[str, BitMap] = defaultdict(BitMap)
            customers = Customer.objects.values_list("pk", "branch_id", "opened_on")
            for pk, branch_id, opened_on in customers.iterator(chunk_size=batch):
                for key in bitmaps.customer_keys(branch_id, opened_on):
                    built[key].add(pk)
            tag_rows = CustomerTag.objects.values_list("customer_id", "tag_id")
            for customer_id, tag_id in tag_rows.iterator(chunk_size=batch):
                built[bitmaps.tag_key(tag_id)].add(customer_id)
            for key, bitmap in maps.items():
                bitmap.clear()
                bitmap.update(built.get(key, BitMap()))
        with bitmaps.locked(set(built) - existing) as maps:
            for key, bitmap in maps.items():
                bitmap.update(built[key])
    bitmaps.cache.clear()
    return {key: len(bitmap) for key, bitmap in built.items()}
