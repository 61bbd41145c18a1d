"""The segment engine's index: compressed bitmaps (roaring) of customer ids.

One bitmap per key — ``tag:<id>``, ``branch:<id>``, ``month:YYYY-MM`` and
``day:YYYY-MM-DD`` (customers by opening date) — stored in ``BitmapIndex`` rows.

Why the database and not Redis: a bitmap changes in the same transaction as the
rows it indexes, so it can never say something the committed data does not;
and every web process and worker reads the same rows, keeping a cached copy
that it refreshes by ``version`` (one small query per evaluation). Redis can be
lost without losing the index. The rows are derived data:
``manage.py audiences_rebuild_index`` recreates them from Customer and
CustomerTag.

Writers lock the bitmap rows they change (``locked``) before they touch the
rows those bitmaps index, always in key order. Two writers of the same key
therefore run one after the other, and no two writers can deadlock on keys.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone
from pyroaring import BitMap, FrozenBitMap

from audiences.models import BitmapIndex

EMPTY = FrozenBitMap()


def tag_key(tag_id: int) -> str:
    return f"tag:{tag_id}"


def branch_key(branch_id: int) -> str:
    return f"branch:{branch_id}"


def month_key(day: dt.date) -> str:
    return f"month:{day:%Y-%m}"


def day_key(day: dt.date) -> str:
    return f"day:{day:%Y-%m-%d}"


def customer_keys(branch_id: int, opened_on: dt.date) -> list[str]:
    """The non-tag keys a customer row is a member of."""
    return [branch_key(branch_id), month_key(opened_on), day_key(opened_on)]


class _Cache:
    """Per-process copies of bitmaps, refreshed when their version moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, FrozenBitMap]] = {}
        self._union: tuple[frozenset, FrozenBitMap] | None = None

    def get_many(
        self, keys: Iterable[str], ranges: Iterable[tuple[str, str]] = ()
    ) -> dict[str, FrozenBitMap]:
        """The bitmaps of ``keys`` (empty where no row exists) and of every
        existing key within the inclusive ``ranges`` — in one version query."""
        keys = set(keys)
        ranges = list(ranges)
        if not keys and not ranges:
            return {}
        versions = _versions(keys, ranges)
        keys |= versions.keys()
        with self._lock:
            stale = [k for k, v in versions.items() if self._entries.get(k, (None,))[0] != v]
        if stale:
            fresh = BitmapIndex.objects.filter(key__in=stale).values_list("key", "version", "data")
            loaded = {k: (v, FrozenBitMap.deserialize(bytes(d))) for k, v, d in fresh}
            with self._lock:
                self._entries.update(loaded)
        with self._lock:
            result = {}
            for key in keys:
                entry = self._entries.get(key)
                # A key without a row (no member ever) or deleted since: empty.
                result[key] = entry[1] if entry and versions.get(key) == entry[0] else EMPTY
            return result

    def union(self, maps: dict[str, FrozenBitMap]) -> FrozenBitMap:
        """The union of ``maps``, remembered while none of them changes (a scope's
        customers: the same few branch bitmaps on every count)."""
        with self._lock:
            # Each bitmap by the version it is (None: no row, so empty).
            signature = frozenset(
                (k, entry[0] if (entry := self._entries.get(k)) and entry[1] is bitmap else None)
                for k, bitmap in maps.items()
            )
            if self._union is not None and self._union[0] == signature:
                return self._union[1]
        result = FrozenBitMap(BitMap.union(*maps.values())) if maps else EMPTY
        with self._lock:
            self._union = (signature, result)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._union = None


cache = _Cache()


def _versions(keys: set[str], ranges: list[tuple[str, str]]) -> dict[str, int]:
    """One indexed query for the versions of ``keys`` and of the keys in ``ranges``.

    Plain SQL: this runs on every count, and building it through the ORM cost
    more than running it.
    """
    table = BitmapIndex._meta.db_table
    conditions, params = [], []
    if keys:
        conditions.append(f"key IN ({', '.join(['%s'] * len(keys))})")
        params.extend(keys)
    for low, high in ranges:
        conditions.append("(key >= %s AND key <= %s)")
        params.extend((low, high))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, version FROM {table} WHERE {' OR '.join(conditions)}", params)  # noqa: S608
        return dict(cursor.fetchall())


def get_many(keys: Iterable[str], ranges: Iterable[tuple[str, str]] = ()) -> dict[str, FrozenBitMap]:
    return cache.get_many(keys, ranges)


def opened_ranges(low: dt.date | None, high: dt.date) -> list[tuple[str, str]]:
    """Key ranges covering customers opened from ``low`` (or ever) to ``high``:
    whole months by their month keys, the partial months at the edges by day keys.
    ISO dates sort as text, so each range is a plain ``key BETWEEN`` condition."""
    if low is not None and low > high:
        return []
    first_whole = low if low is None or low.day == 1 else _next_month(low)
    after_high = high + dt.timedelta(days=1)
    end_whole = after_high if after_high.day == 1 else after_high.replace(day=1)  # exclusive
    ranges = []
    if first_whole is None or first_whole < end_whole:
        last_whole = end_whole - dt.timedelta(days=1)
        start = "month:0000-00" if first_whole is None else month_key(first_whole)
        ranges.append((start, month_key(last_whole)))
        if low is not None and low < first_whole:
            ranges.append((day_key(low), day_key(first_whole - dt.timedelta(days=1))))
        if end_whole <= high:
            ranges.append((day_key(end_whole), day_key(high)))
    else:  # low and high within one month, not covering it whole
        ranges.append((day_key(low), day_key(high)))
    return ranges


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def in_ranges(key: str, ranges: Iterable[tuple[str, str]]) -> bool:
    return any(low <= key <= high for low, high in ranges)


@contextmanager
def locked(keys: Iterable[str]):
    """Lock the bitmaps of ``keys`` for change; yields ``{key: BitMap}``.

    Must run inside ``transaction.atomic()``. Whatever the caller changes in
    the yielded bitmaps is written back (with a new version) on exit.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bitmaps.locked() needs a transaction")
    keys = sorted(set(keys))
    if not keys:
        yield {}
        return
    BitmapIndex.objects.bulk_create(
        [BitmapIndex(key=k, data=EMPTY.serialize()) for k in keys], ignore_conflicts=True
    )
    rows = list(BitmapIndex.objects.select_for_update().filter(key__in=keys).order_by("key"))
    maps = {row.key: BitMap.deserialize(bytes(row.data)) for row in rows}
    before = {key: len(bitmap) for key, bitmap in maps.items()}
    snapshot = {key: FrozenBitMap(bitmap) for key, bitmap in maps.items()}
    yield maps
    changed = []
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    for row in rows:
        bitmap = maps[row.key]
        if len(bitmap) == before[row.key] and bitmap == snapshot[row.key]:
            continue
        bitmap.run_optimize()
        changed.append((bitmap.serialize(), len(bitmap), stamp, row.pk))
    if changed:
        # One prepared statement: an import can change thousands of bitmaps.
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {BitmapIndex._meta.db_table} SET data = %s, cardinality = %s, "  # noqa: S608
                "version = version + 1, updated_at = %s WHERE id = %s",
                changed,
            )
