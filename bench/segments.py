"""Segment counts at bank scale: the bitmap engine against SQL.

Builds a synthetic bank: ``--customers`` N (default 1,000,000) over the six
demo branches, 300 tags with Zipf-like popularity (about 20 tags per customer;
the eight most common tags on half the customers each, the rarest on 1.5%),
opening dates over 15 years skewed towards recent ones. Then, for
five representative rules, prints the median time to count the members

- with the bitmap engine: ``rules.validate`` + ``rules.evaluate`` + ``len()``
  with a warm per-process cache. The cache's version check against
  BitmapIndex is timed with it; the bitmaps themselves are not re-read, since
  they did not change;
- with SQL: ``rules.members_sql(...).count()`` on the same data, after one
  untimed warm-up run;

checks that both count the same members, and prints the index's size: the
serialized bytes stored in BitmapIndex and the bytes the bitmaps take in
memory.

How the data gets in: Customer and CustomerTag rows are generated with numpy
and written with COPY on PostgreSQL (secondary indexes and constraints are
dropped for the load and recreated after it, then VACUUM ANALYZE) or with
executemany on SQLite, never through the ORM. The BitmapIndex rows are built
directly from the generated arrays, as ``services.index_rebuild()`` would
build them from the rows but much faster; the script checks every key's
presence, and the members of a sample of keys, against SQL.
``--index-rebuild`` builds the index with ``services.index_rebuild()``
instead.

``--no-sql`` (meant for ``--customers 10000000``) loads no Customer or
CustomerTag rows at all: the BitmapIndex rows are built from the generated
arrays only, and the SQL timings and checks are skipped.

Finally it imports a customers CSV of ``--import-rows`` rows (default
1,000,000) into the filled bank through the real import pipeline and prints
its rate against a naive row-by-row import (see bench/imports.py).

Runs on DATABASE_URL when set (PostgreSQL gives the figures worth quoting; the
database must be empty, it is filled and left filled) or on a temporary
SQLite file. Targets at 1,000,000 customers: a count takes at most 5 ms
(median), at least 50 times less than SQL, and the index takes at most 300 MB;
the time and size budgets grow in proportion above that (50 ms at
10,000,000).
"""

import argparse
import array
import datetime as dt
import statistics
import time
from contextlib import contextmanager

import numpy as np
from _setup import ratio, report, setup_django

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--customers", type=int, default=1_000_000)
parser.add_argument("--no-sql", action="store_true", help="build the index only; no SQL rows or timings")
parser.add_argument("--index-rebuild", action="store_true", help="build the index with services.index_rebuild()")
parser.add_argument("--bitmap-repeat", type=int, default=50)
parser.add_argument("--sql-repeat", type=int, default=3)
parser.add_argument("--seed", type=int, default=2026)
parser.add_argument(
    "--import-rows", type=int, default=1_000_000,
    help="then import a CSV of this many customers into the filled bank (bench/imports.py); 0 skips",
)
parser.add_argument("--import-naive-rows", type=int, default=20_000)
ARGS = parser.parse_args()
if ARGS.no_sql and ARGS.index_rebuild:
    parser.error("--index-rebuild needs the SQL rows that --no-sql skips")

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from pyroaring import BitMap, FrozenBitMap  # noqa: E402

from accounts import services as accounts  # noqa: E402
from accounts.models import Branch  # noqa: E402
from accounts.scope import BranchScope  # noqa: E402
from audiences import bitmaps, rules, services  # noqa: E402
from audiences.models import BitmapIndex, Customer, CustomerTag, Tag, TagCategory  # noqa: E402

# Time queries as production runs them, without DEBUG's query log.
settings.DEBUG = False

N = ARGS.customers
TAGS = 300
TAGS_PER_CUSTOMER = 20
# (code, parent, share of customers)
BRANCHES = [("HO", None, 0.01), ("BJ", "HO", 0.22), ("SH", "HO", 0.21), ("GZ", "HO", 0.26),
            ("BJ-HD", "BJ", 0.15), ("SH-PD", "SH", 0.15)]
DAYS = 15 * 365
TODAY = timezone.localdate()
POSTGRES = connection.vendor == "postgresql"


def tag_code(rank: int) -> str:
    """Tags are named by popularity: T000 is the most common."""
    return f"T{rank:03d}"


# --- synthetic data -----------------------------------------------------------


def tag_probabilities() -> np.ndarray:
    """Zipf-like shares, capped at one half, summing to TAGS_PER_CUSTOMER."""
    weights = 1.0 / np.arange(1, TAGS + 1)
    low, high = 0.0, 100.0
    for _ in range(60):  # bisect the scale so the capped shares add up
        scale = (low + high) / 2
        low, high = (scale, high) if np.minimum(0.5, weights * scale).sum() < TAGS_PER_CUSTOMER else (low, scale)
    return np.minimum(0.5, weights * scale)


def bernoulli_indexes(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Sorted indexes < n, each present with probability p (geometric gaps: ~pn draws, not n)."""
    size = int(n * p + 6 * (n * p * (1 - p)) ** 0.5) + 64
    positions = np.cumsum(rng.geometric(p, size=size), dtype=np.int64) - 1
    while positions[-1] < n - 1:
        more = np.cumsum(rng.geometric(p, size=size // 4 + 64), dtype=np.int64)
        positions = np.concatenate([positions, positions[-1] + more])
    return positions[positions < n].astype(np.uint32)


def synthesize(rng: np.random.Generator):
    """Branch index and days since opening per customer; member indexes per tag."""
    branch_of = rng.choice(len(BRANCHES), size=N, p=[share for *_x, share in BRANCHES]).astype(np.uint8)
    days_ago = (DAYS * rng.random(N) ** 1.8).astype(np.int32)
    members = [bernoulli_indexes(rng, N, p) for p in tag_probabilities()]
    return branch_of, days_ago, members


# --- loading --------------------------------------------------------------------


def create_frame() -> tuple[dict[str, Branch], list[int]]:
    if Customer.objects.exists() or Branch.objects.exists():
        raise SystemExit("bench/segments.py needs an empty database")
    branches: dict[str, Branch] = {}
    for code, parent, _share in BRANCHES:
        branches[code] = accounts.branch_create(actor=None, code=code, name=code, parent=branches.get(parent))
    category = TagCategory.objects.create(code="bench", name_zh="基准", name_en="Benchmark")
    Tag.objects.bulk_create(
        Tag(code=tag_code(r), name_zh=tag_code(r), name_en=tag_code(r), category=category,
            owner_branch=branches["HO"])
        for r in range(TAGS)
    )
    tag_ids = dict(Tag.objects.values_list("code", "pk"))
    return branches, [tag_ids[tag_code(r)] for r in range(TAGS)]


@contextmanager
def bulk_load(table: str):
    """On PostgreSQL, drop the table's secondary indexes and constraints for the
    load and recreate them after: one sort per index beats 20M index inserts."""
    if not POSTGRES:
        yield
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            [table],
        )
        constraints = cursor.fetchall()
        for name, _definition in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
            " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        for name, definition in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")


def write_rows(table: str, columns: list[str], chunks) -> None:
    """Write chunks of tab-separated lines (COPY) or of tuples (executemany)."""
    qn = connection.ops.quote_name
    names = ", ".join(qn(c) for c in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        if POSTGRES:
            with raw.copy(f"COPY {qn(table)} ({names}) FROM STDIN") as copy:
                for lines, _rows in chunks:
                    copy.write(lines)
        else:
            # Table and column names come from the models, not from input.
            sql = f"INSERT INTO {qn(table)} ({names}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
            for _lines, rows in chunks:
                raw.executemany(sql, rows)


def customer_chunks(branch_of, days_ago, branch_ids, now: str, size: int = 200_000):
    dates = [(TODAY - dt.timedelta(days=d)).isoformat() for d in range(DAYS + 1)]
    for start in range(0, N, size):
        rows = [
            (i + 1, f"B{i + 1:09d}", f"客户{i + 1}", "", branch_ids[b], dates[d], now, now)
            for i, b, d in zip(range(start, min(N, start + size)),
                               branch_of[start:start + size].tolist(), days_ago[start:start + size].tolist(),
                               strict=True)
        ]
        yield ("".join("\t".join(map(str, row)) + "\n" for row in rows) if POSTGRES else None), rows


def customer_tag_chunks(members, tag_ids, now: str):
    for tag_id, indexes in zip(tag_ids, members, strict=True):
        ids = (indexes.astype(np.int64) + 1).tolist()
        if POSTGRES:
            yield "".join(map(f"{{}}\t{tag_id}\t{now}\timport\tbench\n".format, ids)), None
        else:
            yield None, [(cid, tag_id, now, "import", "bench") for cid in ids]


def load_rows(branch_of, days_ago, members, branches, tag_ids, timings) -> None:
    now = str(connection.ops.adapt_datetimefield_value(timezone.now()))
    branch_ids = [branches[code].pk for code, *_rest in BRANCHES]
    customer_table, tag_table = Customer._meta.db_table, CustomerTag._meta.db_table
    started = time.perf_counter()
    with bulk_load(customer_table):
        write_rows(customer_table,
                   ["id", "customer_ref", "name", "phone", "branch_id", "opened_on", "created_at", "updated_at"],
                   customer_chunks(branch_of, days_ago, branch_ids, now))
    timings["load_customers"] = time.perf_counter() - started
    started = time.perf_counter()
    with bulk_load(tag_table):
        write_rows(tag_table, ["customer_id", "tag_id", "since", "source", "source_ref"],
                   customer_tag_chunks(members, tag_ids, now))
    timings["load_customer_tags"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if POSTGRES:
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [customer_table, N])
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(customer_table)}")
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(tag_table)}")
        else:
            cursor.execute("ANALYZE")
    timings["vacuum_analyze"] = time.perf_counter() - started


# --- the index ------------------------------------------------------------------


def to_bitmap(ids: np.ndarray) -> BitMap:
    """Through array.array: pyroaring reads its buffer in one go, several times faster."""
    buffer = array.array("I")
    buffer.frombytes(ids.astype(np.uint32).tobytes())
    return BitMap(buffer)


def build_index(branch_of, days_ago, members, branches, tag_ids) -> None:
    """The BitmapIndex rows ``services.index_rebuild()`` would write, from the arrays."""
    ids = np.arange(1, N + 1, dtype=np.uint32)
    built: dict[str, BitMap] = {}
    for tag_id, indexes in zip(tag_ids, members, strict=True):
        if len(indexes):
            built[bitmaps.tag_key(tag_id)] = to_bitmap(indexes + 1)
    for number, (code, *_rest) in enumerate(BRANCHES):
        chosen = ids[branch_of == number]
        if len(chosen):
            built[bitmaps.branch_key(branches[code].pk)] = to_bitmap(chosen)
    order = np.argsort(days_ago, kind="stable")  # stable: ids stay sorted within a day
    days, starts = np.unique(days_ago[order], return_index=True)
    for days_back, start, end in zip(days.tolist(), starts.tolist(), [*starts[1:].tolist(), N], strict=True):
        day = TODAY - dt.timedelta(days=days_back)
        bitmap = to_bitmap(ids[order[start:end]])
        built[bitmaps.day_key(day)] = bitmap
        built.setdefault(bitmaps.month_key(day), BitMap()).update(bitmap)
    rows = []
    for key, bitmap in built.items():
        bitmap.run_optimize()  # as bitmaps.locked() does before it writes
        rows.append(BitmapIndex(key=key, data=bitmap.serialize(), cardinality=len(bitmap)))
    with transaction.atomic():
        BitmapIndex.objects.bulk_create(rows, batch_size=100)


def check_index(tag_ids, branches) -> int:
    """The stored index against SQL: the same keys, and the same members for a sample."""
    days = set(Customer.objects.values_list("opened_on", flat=True).distinct())
    expected = (
        {bitmaps.tag_key(t) for t in CustomerTag.objects.values_list("tag_id", flat=True).distinct()}
        | {bitmaps.branch_key(b) for b in Customer.objects.values_list("branch_id", flat=True).distinct()}
        | {bitmaps.day_key(d) for d in days}
        | {bitmaps.month_key(d) for d in days}
    )
    assert set(BitmapIndex.objects.values_list("key", flat=True)) == expected, "index keys differ from SQL"
    day = sorted(days)[len(days) // 2]
    month_start = day.replace(day=1)
    month_end = (month_start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    samples = {bitmaps.tag_key(tag_ids[r]): CustomerTag.objects.filter(tag_id=tag_ids[r]).values_list("customer_id")
               for r in (0, 1, TAGS // 2, TAGS - 1)}
    samples |= {bitmaps.branch_key(b.pk): Customer.objects.filter(branch=b).values_list("pk") for b in branches.values()}
    samples[bitmaps.day_key(day)] = Customer.objects.filter(opened_on=day).values_list("pk")
    samples[bitmaps.day_key(TODAY)] = Customer.objects.filter(opened_on=TODAY).values_list("pk")
    samples[bitmaps.month_key(day)] = Customer.objects.filter(opened_on__range=(month_start, month_end)).values_list("pk")
    stored = bitmaps.get_many(samples)
    for key, query in samples.items():
        truth = BitMap(pk for (pk,) in query.iterator(chunk_size=50_000))
        assert stored[key] == truth, f"{key}: index and SQL differ"
    bitmaps.cache.clear()
    return len(samples)


def index_size() -> tuple[float, float, int]:
    """Serialized and in-memory size of the whole index (MB), and its number of keys."""
    serialized = in_memory = keys = 0
    for data in BitmapIndex.objects.values_list("data", flat=True).iterator(chunk_size=100):
        stats = FrozenBitMap.deserialize(bytes(data)).get_statistics()
        serialized += len(data)
        in_memory += sum(stats[f"n_bytes_{kind}_containers"] for kind in ("array", "run", "bitset"))
        keys += 1
    return serialized / 2**20, in_memory / 2**20, keys


# --- the rules --------------------------------------------------------------------


def group(op, *children):
    return {"type": "group", "op": op, "children": list(children)}


def has(rank, op="has"):
    return {"type": "tag", "op": op, "tag": tag_code(rank)}


def tags(op, *ranks):
    return {"type": "tags", "op": op, "tags": [tag_code(r) for r in ranks]}


def branch(*codes):
    return {"type": "branch", "branches": list(codes)}


def opened(years_from, years_to):
    """A range over whole months plus partial months at both ends."""
    start = (TODAY - dt.timedelta(days=round(365.25 * years_from))).replace(day=17)
    end = (TODAY - dt.timedelta(days=round(365.25 * years_to))).replace(day=9)
    return {"type": "opened", "from": start.isoformat(), "to": end.isoformat()}


RULES = {
    "rule1": group("and", has(10)),
    "rule2": group("or", tags("any", 5, 40, 150)),
    "rule3": group("and", tags("all", 2, 20), branch("BJ")),
    "rule4": group("and", group("or", has(1), has(30)),
                   group("not", has(3), group("and", has(60), branch("SH")))),
    "rule5": group("and", opened(9, 2), tags("any", 4, 8), has(15), has(80, "lacks"), branch("GZ", "SH")),
}


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def time_rule(name: str, rule: dict, scope: BranchScope) -> tuple[float, float | None]:
    """Print one rule's figures; return its bitmap median (ms) and SQL/bitmap ratio."""

    def count_bitmap():
        normalised, ctx = rules.validate(rule, user=scope)
        return len(rules.evaluate(normalised, ctx))

    members_count = count_bitmap()  # loads the bitmaps into the cache
    with CaptureQueriesContext(connection) as queries:
        count_bitmap()
    bitmap_ms = median_ms(count_bitmap, ARGS.bitmap_repeat)
    validate_ms = median_ms(lambda: rules.validate(rule, user=scope), ARGS.bitmap_repeat)
    report(f"members[{name}]", members_count, "customers")
    report(f"count_bitmap_queries[{name}]", len(queries), "queries")
    report(f"count_bitmap_median[{name}]", bitmap_ms, "ms")
    report(f"validate_median[{name}]", validate_ms, "ms")
    if ARGS.no_sql:
        return bitmap_ms, None
    normalised, ctx = rules.validate(rule, user=scope)
    query = rules.members_sql(normalised, ctx)
    assert query.count() == members_count, f"{name}: SQL and bitmaps disagree"  # also warms up
    sql_ms = median_ms(query.count, ARGS.sql_repeat)
    report(f"count_sql_median[{name}]", sql_ms, "ms")
    ratio(f"sql/bitmap[{name}]", sql_ms / bitmap_ms, 50)
    return bitmap_ms, sql_ms / bitmap_ms


def main() -> None:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    branch_of, days_ago, members = synthesize(np.random.default_rng(ARGS.seed))
    timings["build_arrays"] = time.perf_counter() - started
    branches, tag_ids = create_frame()
    if not ARGS.no_sql:
        load_rows(branch_of, days_ago, members, branches, tag_ids, timings)
    started = time.perf_counter()
    if ARGS.index_rebuild:
        services.index_rebuild()
    else:
        build_index(branch_of, days_ago, members, branches, tag_ids)
    timings["index_build"] = time.perf_counter() - started
    pairs = sum(len(m) for m in members)
    del branch_of, days_ago, members

    report("customers", N, "customers")
    report("tags", TAGS, "tags")
    report("customer_tags", pairs, "rows")
    report("tags_per_customer", pairs / N, "tags")
    for name, seconds in timings.items():
        report(name, seconds, "s")
    if not ARGS.no_sql:
        report("index_keys_checked_against_sql", check_index(tag_ids, branches), "keys")

    scope = BranchScope(branches["HO"])
    results = [time_rule(name, rule, scope) for name, rule in RULES.items()]
    slowest = max(bitmap_ms for bitmap_ms, _ratio in results)
    serialized_mb, in_memory_mb, keys = index_size()
    budget_ms = 5 * max(1.0, N / 1_000_000)
    budget_mb = 300 * max(1.0, N / 1_000_000)
    report("index_keys", keys, "keys")
    report("index_size", serialized_mb, "MB")
    report("index_memory", in_memory_mb, "MB")
    report("count_bitmap_median[max]", slowest, "ms")
    ratio(f"{budget_ms:g}ms/count_bitmap_median[max]", budget_ms / slowest, 1)
    ratio(f"{budget_mb:g}MB/index_size", budget_mb / serialized_mb, 1)
    if not ARGS.no_sql:
        ratio("sql/bitmap[min over rules]", min(r for _ms, r in results), 50)
    if ARGS.import_rows:
        import imports as import_bench

        import_bench.run(rows=ARGS.import_rows, naive_rows=ARGS.import_naive_rows)


main()
