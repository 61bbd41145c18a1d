"""Customer upserts (imports), keeping branch and opening-date bitmaps in step."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audiences import bitmaps
from audiences.models import BitmapIndex, Customer, CustomerTag, TagSource

CHUNK = 5000


@dataclass(frozen=True)
class CustomerRow:
    customer_ref: str
    name: str
    phone: str
    branch_id: int
    opened_on: dt.date
    tag_ids: tuple[int, ...] = ()


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    tags_added: int = 0
    created_refs: list[str] = field(default_factory=list)


KEY_RETRIES = 5


def _non_tag_keys(rows: Sequence[CustomerRow]) -> set[str]:
    keys = set(
        BitmapIndex.objects.filter(
            Q(key__startswith="branch:") | Q(key__startswith="month:") | Q(key__startswith="day:")
        ).values_list("key", flat=True)
    )
    for row in rows:
        keys.update(bitmaps.customer_keys(row.branch_id, row.opened_on))
    return keys


def customers_upsert(
    *,
    rows: Sequence[CustomerRow],
    source_ref: str,
    progress: Callable[[int], None] | None = None,
) -> UpsertResult:
    """Create or update customers by ``customer_ref``, all or nothing.

    Unchanged rows are not written (re-importing a file changes nothing). Tags
    listed for a customer are added (source "import"); tags not listed are kept.
    Callers check scope and validate rows first (see ``services.imports``).

    Locks every branch and opening-date bitmap for the duration: an import is a
    rare bulk write, and holding the whole set up front (in key order) means no
    concurrent writer can deadlock against it or interleave with it.
    """
    tag_ids = sorted({t for row in rows for t in row.tag_ids})
    keys = _non_tag_keys(rows) | {bitmaps.tag_key(t) for t in tag_ids}
    # A concurrent writer may move a customer into a bitmap that did not exist
    # when the keys were listed; then everything is undone and done again with
    # that key locked too (keys only grow, so this ends).
    for _attempt in range(KEY_RETRIES):
        try:
            return _upsert(rows, tag_ids, keys, source_ref, progress)
        except _KeysMissing as exc:
            keys |= exc.keys
    raise RuntimeError("customers_upsert: the bitmap keys kept moving")


class _KeysMissing(Exception):
    def __init__(self, keys: set[str]) -> None:
        super().__init__(sorted(keys))
        self.keys = keys


def _upsert(rows, tag_ids, keys, source_ref, progress) -> UpsertResult:
    result = UpsertResult()
    now = timezone.now()
    with transaction.atomic(), bitmaps.locked(keys) as maps:
        tagged: dict[int, list[int]] = defaultdict(list)
        done = 0
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            existing = {
                c.customer_ref: c
                for c in Customer.objects.filter(customer_ref__in=[r.customer_ref for r in chunk]).only(
                    "id", "customer_ref", "name", "phone", "branch_id", "opened_on"
                )
            }
            new, changed = [], []
            for row in chunk:
                current = existing.get(row.customer_ref)
                if current is None:
                    new.append(
                        Customer(
                            customer_ref=row.customer_ref,
                            name=row.name,
                            phone=row.phone,
                            branch_id=row.branch_id,
                            opened_on=row.opened_on,
                        )
                    )
                    continue
                before = (current.name, current.phone, current.branch_id, current.opened_on)
                after = (row.name, row.phone, row.branch_id, row.opened_on)
                if before == after:
                    result.unchanged += 1
                    continue
                current_keys = bitmaps.customer_keys(current.branch_id, current.opened_on)
                if missing := set(current_keys) - maps.keys():
                    raise _KeysMissing(missing)
                for key in current_keys:
                    maps[key].discard(current.pk)
                current.name, current.phone, current.branch_id, current.opened_on = after
                current.updated_at = now
                changed.append(current)
            Customer.objects.bulk_create(new, batch_size=1000)
            Customer.objects.bulk_update(
                changed, ["name", "phone", "branch", "opened_on", "updated_at"], batch_size=1000
            )
            for customer in (*new, *changed):
                for key in bitmaps.customer_keys(customer.branch_id, customer.opened_on):
                    maps[key].add(customer.pk)
            result.created += len(new)
            result.updated += len(changed)
            result.created_refs.extend(c.customer_ref for c in new)
            ids = {c.customer_ref: c.pk for c in (*new, *changed, *existing.values())}
            for row in chunk:
                for tag_id in row.tag_ids:
                    tagged[tag_id].append(ids[row.customer_ref])
            done += len(chunk)
            if progress:
                progress(done)
        for tag_id, customer_ids in tagged.items():
            result.tags_added += add_tag_rows(
                tag_id, customer_ids, maps[bitmaps.tag_key(tag_id)], TagSource.IMPORT, source_ref, now
            )
    return result


# The table name is the model's own; every value is a query parameter.
_INSERT_TAGS = f"INSERT INTO {CustomerTag._meta.db_table} (customer_id, tag_id, since, source, source_ref) "
_ON_CONFLICT = " ON CONFLICT (customer_id, tag_id) DO NOTHING"
_INSERT_TAGS_ARRAY = (
    _INSERT_TAGS + "SELECT c, %s, %s, %s, %s FROM unnest(%s::bigint[]) AS c" + _ON_CONFLICT  # noqa: S608
)
_INSERT_TAGS_ROW = _INSERT_TAGS + "VALUES (%s, %s, %s, %s, %s)" + _ON_CONFLICT


def add_tag_rows(tag_id, customer_ids, bitmap, source, source_ref, now) -> int:
    """Insert the CustomerTag rows the (locked) tag bitmap lacks; returns how many.

    One statement for many rows: building a model instance per row costs
    several times the insert itself at import sizes (hundreds of thousands).
    PostgreSQL takes a whole chunk as one array; SQLite runs a prepared insert.
    """
    fresh = [cid for cid in dict.fromkeys(customer_ids) if cid not in bitmap]
    since = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(fresh), CHUNK * 10):
            chunk = fresh[start : start + CHUNK * 10]
            if connection.vendor == "postgresql":
                cursor.execute(_INSERT_TAGS_ARRAY, [tag_id, since, source, source_ref, chunk])
            else:
                cursor.executemany(
                    _INSERT_TAGS_ROW,
                    [(cid, tag_id, since, source, source_ref) for cid in chunk],
                )
    bitmap.update(fresh)
    return len(fresh)
