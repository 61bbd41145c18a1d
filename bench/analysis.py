"""Post-campaign analysis at scale: the pandas computation and the cached page against one query per figure.

Builds one ended lottery campaign of 30 days whose approved revision froze an
audience with a control group (bitmaps), and fills it with numpy-generated rows
written with COPY on PostgreSQL (secondary indexes and constraints dropped for
the load and recreated after it, then VACUUM ANALYZE) or executemany on SQLite:

- ``--customers`` customers (default 400,000) over eight branches; three
  quarters are the audience, a tenth of which is held out as the control
  group; the rest are unrelated to the campaign;
- ``--activities`` Activity rows (default 1,000,000): the control group's
  ``held_out``, one ``join`` per participant, views before joining and by
  members who never join, draws, a ``win`` per award, a few business-event
  steps — over three channels, more of them early in the window;
- ``--awards`` awards (default 100,000; a few queued, a few refused by the
  pool) and the grants of the granted ones (mostly delivered);
- ``--conversions`` business events of participants between their first
  participation and the end of the conversion window (default 100,000), plus
  events of participants before they joined, of members who never took part,
  of the control group, ``--other-events`` of unrelated customers in the
  window (default 400,000) and a fifth of that outside it, so the analysis
  has to pick its customers' events out of many;
- 300 active tags in ten categories, some over-indexed among participants,
  and a bitmap per tag and per branch in BitmapIndex (built from the arrays;
  the analysis reads tags from the index only, so no CustomerTag rows);
- a later campaign with ``--other-activities`` rows and a tenth as many awards,
  so the records of the measured campaign are not the newest of their tables.

Then it prints:

- ``cold``: ``campaign_analysis`` itself (it reads no cache; the process's
  copies of the bitmaps are dropped before each run), ``--cold-repeat``
  times: the first run and the median; and how long the generation took;
- ``warm``: GET of the analysis page through Django's test Client, logged in
  as a head-office admin, with the cache warm: the median of
  ``--warm-requests`` requests (target ≤ 200 ms), its SQL queries, and the
  records-version query alone;
- ``naive``: the day-by-day figures by branch the naive way, one ORM query
  per figure per branch per day (views, new participants, new winners, cost,
  conversions, conversion amount) plus one per total. The full grid is
  ``8 branches x ~60 days x 6`` queries; by default all branches on every
  ``--naive-every``-th day of the table are timed and the time of the whole
  grid extrapolated from them (the output says so; ``--naive-every 1`` runs all
  of it). The naive figures are checked against the analysis: the branches of
  each timed day add up to its row of the daily table, and the totals to the KPIs.

Runs on DATABASE_URL (PostgreSQL gives the figures worth quoting; the database
must be empty) or a temporary SQLite file, with REDIS_URL for the cache.
Targets: warm page ≤ 200 ms (median) and cold at least 10 times faster than naive.
"""

import argparse
import datetime as dt
import secrets
import statistics
import time
import warnings
from contextlib import contextmanager
from decimal import Decimal

import numpy as np
import pandas as pd
from _setup import ratio, report, setup_django

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--customers", type=int, default=400_000)
parser.add_argument("--activities", type=int, default=1_000_000)
parser.add_argument("--awards", type=int, default=100_000)
parser.add_argument("--conversions", type=int, default=100_000)
parser.add_argument("--other-events", type=int, default=400_000, help="events of unrelated customers in the window")
parser.add_argument("--other-activities", type=int, default=300_000, help="activities of a later campaign")
parser.add_argument("--cold-repeat", type=int, default=5)
parser.add_argument("--warm-requests", type=int, default=30)
parser.add_argument("--naive-every", type=int, default=5, help="time the naive queries on every n-th day (1: all)")
parser.add_argument("--seed", type=int, default=2026)
ARGS = parser.parse_args()

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, F, Min, OuterRef, Subquery, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from pyroaring import BitMap  # noqa: E402

from accounts import services as accounts  # noqa: E402
from accounts.models import Role, User  # noqa: E402
from audiences import bitmaps  # noqa: E402
from audiences.models import BitmapIndex, Customer, Tag, TagCategory  # noqa: E402
from campaigns.models import (  # noqa: E402
    Activity,
    ApiChannel,
    ApiChannelKind,
    Award,
    AwardStatus,
    BusinessEvent,
    Campaign,
    CampaignAudience,
    CampaignRevision,
    CampaignStatus,
    RevisionState,
)
from campaigns.selectors import analysis, analysis_cache  # noqa: E402
from rewards.models import Grant, Prize, PrizePool  # noqa: E402

# WhiteNoise warns once per process that no collected static files exist: the page needs none.
warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
# Time queries as production runs them, without DEBUG's query log.
settings.DEBUG = False
if "testserver" not in settings.ALLOWED_HOSTS:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

POSTGRES = connection.vendor == "postgresql"
ZONE = timezone.get_default_timezone()
DAY = 86_400
WINDOW_DAYS = 30
CODE = "LOT-BENCH-ANALYSIS"
# (code, parent, share of customers)
BRANCHES = [("HO", None, 0.02), ("BJ", "HO", 0.20), ("SH", "HO", 0.20), ("GZ", "HO", 0.18), ("SZ", "HO", 0.12),
            ("BJ-HD", "BJ", 0.12), ("SH-PD", "SH", 0.10), ("GZ-TH", "GZ", 0.06)]
CHANNELS, CHANNEL_SHARES = ["app", "wechat", "sms"], [0.6, 0.25, 0.15]
# (code, unit cost in fen, share of awards)
PRIZES = [("RP5", 500, 0.55), ("RP10", 1_000, 0.25), ("CPN20", 2_000, 0.15), ("GIFT88", 8_800, 0.05)]
EVENT_TYPES = ["first_deposit", "card_spend", "fund_purchase", "wealth_purchase", "salary_credit", "login"]
EVENT_SHARES = [0.15, 0.30, 0.15, 0.10, 0.10, 0.20]
TAGS, TAG_CATEGORIES = 300, 10


# --- writing rows --------------------------------------------------------------------------


def stamps(seconds: np.ndarray) -> np.ndarray:
    """Unix seconds as the text the database reads as an aware UTC timestamp."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    if POSTGRES:
        return np.char.add(text, "+00")
    return np.char.replace(text, "T", " ")  # Django's SQLite format: naive UTC


def money(fen: np.ndarray) -> np.ndarray:
    """Whole fen as decimal yuan text."""
    return np.char.add(np.char.add((fen // 100).astype(str), "."), np.char.zfill((fen % 100).astype(str), 2))


@contextmanager
def bulk_load(*tables: str):
    """On PostgreSQL, drop the tables' secondary indexes, unique and foreign-key
    constraints for the load and recreate them after: one sort per index and one
    pass per constraint beat a million index inserts and trigger calls."""
    if not POSTGRES:
        yield
        return
    qn = connection.ops.quote_name
    dropped: list[tuple[str, str, str | None]] = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
                [table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
                dropped.append((table, definition, name))
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {qn(name)}")
                dropped.append((table, definition, None))
    yield
    with connection.cursor() as cursor:
        # The indexes, then the constraints (each checked in one pass over its table).
        for table, definition, name in sorted(dropped, key=lambda item: item[2] is not None):
            if name is None:
                cursor.execute(definition)
            else:
                cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")


def write(model, columns: dict[str, np.ndarray], chunk: int = 200_000) -> None:
    """Rows of ``model`` from equally long column arrays (None / NaN is NULL)."""
    table = model._meta.db_table
    frame = pd.DataFrame(columns)
    qn = connection.ops.quote_name
    names = ", ".join(qn(name) for name in frame.columns)
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        if POSTGRES:
            with raw.copy(f"COPY {qn(table)} ({names}) FROM STDIN") as copy:
                for start in range(0, len(frame), chunk):
                    copy.write(frame.iloc[start:start + chunk].to_csv(sep="\t", header=False, index=False, na_rep=r"\N"))
            if "id" in frame.columns and len(frame):
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, int(frame["id"].max())])
        else:
            # Table and column names come from the models, not from input.
            sql = f"INSERT INTO {qn(table)} ({names}) VALUES ({', '.join('?' * len(frame.columns))})"  # noqa: S608
            rows = frame.astype(object).where(frame.notna(), None)
            for start in range(0, len(rows), chunk):
                raw.executemany(sql, rows.iloc[start:start + chunk].itertuples(index=False, name=None))


# --- the synthetic campaign ---------------------------------------------------------------


class Data:
    """The generated arrays (customer ids are 1..N, times are Unix seconds)."""


def local_days(seconds: np.ndarray) -> np.ndarray:
    return pd.to_datetime(seconds, unit="s", utc=True).tz_convert(ZONE).strftime("%Y-%m-%d").to_numpy()


def arrival(rng: np.random.Generator, n: int, span: int) -> np.ndarray:
    """Offsets in [0, span): more customers come early in the window than late."""
    return (span * rng.random(n) ** 1.6).astype(np.int64)


def after(rng: np.random.Generator, first: np.ndarray, until: int) -> np.ndarray:
    """A time in [first, until) for each first (first < until)."""
    return first + (rng.random(len(first)) * (until - first)).astype(np.int64)


def synthesize(rng: np.random.Generator, starts: int, ends: int) -> Data:
    d = Data()
    n = ARGS.customers
    d.starts, d.ends = starts, ends
    d.conversion_end = ends + analysis.CONVERSION_WINDOW_DAYS * DAY
    d.horizon = int(analysis.events_horizon(dt.datetime.fromtimestamp(ends, dt.UTC)).timestamp())
    d.branch_of = rng.choice(len(BRANCHES), size=n, p=[share for *_x, share in BRANCHES]).astype(np.int8)
    days_ago = (15 * 365 * rng.random(n) ** 1.8).astype(np.int64) + 1
    today = timezone.localdate()
    window_days_ago = (today - dt.datetime.fromtimestamp(starts, ZONE).date()).days
    new = rng.random(n) < 0.03  # opened their account during the campaign
    days_ago[new] = window_days_ago - rng.integers(0, WINDOW_DAYS, size=int(new.sum()))
    d.opened_on = (np.datetime64(today) - days_ago.astype("timedelta64[D]")).astype(str)
    ids = np.arange(1, n + 1, dtype=np.int64)
    members = np.sort(rng.choice(ids, size=int(n * 0.75), replace=False))
    d.control = np.sort(rng.choice(members, size=len(members) // 10, replace=False))
    d.members = members
    d.treatment = np.setdiff1d(members, d.control)
    d.participants = np.sort(rng.choice(d.treatment, size=int(len(d.treatment) * 0.65), replace=False))
    d.unrelated = np.setdiff1d(ids, members)
    span = ends - starts
    first = starts + arrival(rng, len(d.participants), span)

    # Activities: held out, joins, views, awards' draws and wins, other draws and steps.
    n_awards = ARGS.awards
    winner_index = rng.integers(0, len(d.participants), size=n_awards)
    award_at = after(rng, first[winner_index], ends)
    order = np.argsort(award_at, kind="stable")
    winner_index, award_at = winner_index[order], award_at[order]
    d.award_customer = d.participants[winner_index]
    d.award_at = award_at
    fixed = len(d.control) + len(d.participants) + 2 * n_awards
    rest = ARGS.activities - fixed
    if rest < 0:
        raise SystemExit("--activities is too small for the participants and awards")
    n_views, n_steps = int(rest * 0.48), int(rest * 0.05)
    n_draws = rest - n_views - n_steps
    viewers_first = rng.random(len(d.participants)) < 0.7
    n_first_views = min(int(viewers_first.sum()), n_views)
    viewing = np.flatnonzero(viewers_first)[:n_first_views]
    first_views = np.maximum(starts, first[viewing] - rng.integers(1, 3_600, size=n_first_views))
    n_other_views = n_views - n_first_views
    other_viewers = rng.choice(d.treatment, size=n_other_views)
    drawers = rng.integers(0, len(d.participants), size=n_draws)
    steppers = rng.integers(0, len(d.participants), size=n_steps)
    parts = [
        (d.control, "held_out", starts + arrival(rng, len(d.control), span)),
        (d.participants, "join", first),
        (d.participants[viewing], "view", first_views),
        (other_viewers, "view", starts + arrival(rng, n_other_views, span)),
        (d.award_customer, "draw", award_at),
        (d.award_customer, "win", award_at),
        (d.participants[drawers], "draw", after(rng, first[drawers], ends)),
        (d.participants[steppers], "event", after(rng, first[steppers], ends)),
    ]
    customer = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts])
    at = np.concatenate([p[2] for p in parts])
    award = np.full(len(customer), np.nan)
    win_start = len(d.control) + len(d.participants) + n_views + n_awards
    award[win_start:win_start + n_awards] = np.arange(1, n_awards + 1)
    order = np.argsort(at, kind="stable")
    d.activity = {
        "customer": customer[order], "kind": kind[order], "at": at[order], "award": award[order],
        "channel": rng.choice(CHANNELS, size=len(customer), p=CHANNEL_SHARES),
    }

    # Awards: the prize, and what became of it.
    d.award_prize = rng.choice(len(PRIZES), size=n_awards, p=[share for *_x, share in PRIZES])
    state = rng.random(n_awards)
    d.award_status = np.where(state < 0.02, AwardStatus.FAILED, np.where(state < 0.05, AwardStatus.QUEUED,
                                                                         AwardStatus.GRANTED)).astype(object)
    grant_state = rng.random(n_awards)
    d.grant_status = np.select(
        [grant_state < 0.04, grant_state < 0.06, grant_state < 0.10], ["pending", "dispatching", "failed"], "delivered"
    ).astype(object)

    # Business events: the conversions, then everything the analysis must leave out or only count for uplift.
    converter = rng.integers(0, len(d.participants), size=ARGS.conversions)
    before = rng.integers(0, len(d.participants), size=ARGS.conversions // 10)
    before = before[first[before] > starts]
    idle = np.setdiff1d(d.treatment, d.participants)
    n_out = ARGS.other_events // 5
    early = rng.random(n_out) < 0.5
    out_at = np.where(early, starts - 1 - rng.integers(0, 60 * DAY, size=n_out),
                      d.horizon + rng.integers(0, 14 * DAY, size=n_out))
    events = [
        (d.participants[converter], after(rng, first[converter], d.conversion_end)),
        (d.participants[before], starts + (rng.random(len(before)) * (first[before] - starts)).astype(np.int64)),
        (rng.choice(idle, size=ARGS.conversions // 5), starts + rng.integers(0, d.horizon - starts, size=ARGS.conversions // 5)),
        (rng.choice(d.control, size=ARGS.conversions * 3 // 20),
         starts + rng.integers(0, d.horizon - starts, size=ARGS.conversions * 3 // 20)),
        (rng.choice(d.unrelated, size=ARGS.other_events), starts + rng.integers(0, d.horizon - starts, size=ARGS.other_events)),
        (rng.choice(ids, size=n_out), out_at),
    ]
    event_customer = np.concatenate([e[0] for e in events])
    event_at = np.concatenate([e[1] for e in events])
    order = np.argsort(event_at, kind="stable")
    d.event_customer, d.event_at = event_customer[order], event_at[order]
    d.event_type = rng.choice(EVENT_TYPES, size=len(order), p=EVENT_SHARES)
    fen = (rng.lognormal(10, 1.2, size=len(order))).astype(np.int64) + 100
    d.event_fen = np.where(d.event_type == "login", -1, fen)

    # Tags: Zipf-like shares; every tenth tag twice as common among participants.
    shares = np.minimum(0.5, 0.6 / np.arange(1, TAGS + 1) ** 0.7)
    is_participant = np.zeros(n + 1, dtype=bool)
    is_participant[d.participants] = True
    d.tag_members = []
    for rank, share in enumerate(shares):
        chance = np.full(n, share)
        if rank % 10 == 0:
            chance[is_participant[1:]] = min(0.9, 2 * share)
        d.tag_members.append(ids[rng.random(n) < chance])
    return d


def other_campaign_rows(rng: np.random.Generator, d: Data, award_id0: int, grant_id0: int) -> tuple[dict, dict, dict]:
    """Views and draws of a campaign that came later, with a tenth as many awards, all granted and delivered."""
    n = ARGS.other_activities
    starts = d.ends + 10 * DAY
    customer = rng.integers(1, ARGS.customers + 1, size=n)
    at = np.sort(starts + rng.integers(0, WINDOW_DAYS * DAY, size=n))
    activity = {"customer": customer, "kind": rng.choice(np.array(["view", "draw"], dtype=object), size=n),
                "at": at, "award": np.full(n, np.nan), "channel": rng.choice(CHANNELS, size=n, p=CHANNEL_SHARES)}
    picked = np.sort(rng.choice(n, size=n // 10, replace=False))
    m = len(picked)
    award_ids = np.arange(award_id0, award_id0 + m)
    grant_ids = np.arange(grant_id0, grant_id0 + m)
    award = {"id": award_ids, "customer": customer[picked], "at": at[picked], "prize": np.zeros(m, dtype=np.int64),
             "status": np.full(m, AwardStatus.GRANTED.value, dtype=object), "grant": grant_ids}
    grant = {"id": grant_ids, "customer": customer[picked], "at": at[picked], "prize": np.zeros(m, dtype=np.int64),
             "status": np.full(m, "delivered", dtype=object)}
    return activity, award, grant


def seq_within(customers: np.ndarray) -> np.ndarray:
    """1, 2, … for each customer's rows in the given order."""
    frame = pd.DataFrame({"c": customers})
    return frame.groupby("c").cumcount().to_numpy() + 1


class Frame:
    """What the rows refer to: branches, the users, prizes, the API channel, the two campaigns."""


def create_frame(d: Data) -> Frame:
    f = Frame()
    if Customer.objects.exists() or Campaign.objects.exists():
        raise SystemExit("bench/analysis.py needs an empty database")
    branches = {}
    for code, parent, _share in BRANCHES:
        branches[code] = accounts.branch_create(actor=None, code=code, name=f"{code} branch", parent=branches.get(parent))
    admin = User.objects.create_user(username="bench-ho", password=None, role=Role.HEAD_OFFICE_ADMIN, branch=branches["HO"])
    pool = PrizePool.objects.create(code="BENCH", name="bench", owner_branch=branches["HO"])
    prizes = [Prize.objects.create(pool=pool, code=code, name=f"prize {code}", kind="cash", unit_cost=Decimal(fen) / 100)
              for code, fen, _s in PRIZES]
    prize_ids = np.array([p.pk for p in prizes], dtype=np.int64)
    channel = ApiChannel.objects.create(name="core", kind=ApiChannelKind.CORE, key_id="bench-core",
                                        secret=secrets.token_hex(32))
    zone_start = dt.datetime.fromtimestamp(d.starts, ZONE)
    campaign = Campaign.objects.create(
        code=CODE, name="Spring lottery (benchmark)", kind="lottery", owner_branch=branches["HO"],
        starts_at=zone_start, ends_at=dt.datetime.fromtimestamp(d.ends, ZONE), budget_total=Decimal("2000000.00"),
        status=CampaignStatus.ENDED, created_by=admin, control_percent=10,
    )
    later = Campaign.objects.create(
        code="LOT-BENCH-LATER", name="later", kind="lottery", owner_branch=branches["HO"],
        starts_at=zone_start + dt.timedelta(days=40), ends_at=zone_start + dt.timedelta(days=70),
        budget_total=Decimal("1000000.00"), status=CampaignStatus.ENDED, created_by=admin,
    )
    revision = CampaignRevision.objects.create(
        campaign=campaign, number=1, state=RevisionState.APPROVED, submitted_by=admin,
        config={"starts_at": campaign.starts_at.isoformat(), "ends_at": campaign.ends_at.isoformat(),
                "budget_total": "2000000.00"},
    )
    members, control = BitMap(d.members.astype(np.uint32)), BitMap(d.control.astype(np.uint32))
    CampaignAudience.objects.create(revision=revision, members=members.serialize(), control=control.serialize(),
                                    size=len(members), control_size=len(control))
    Campaign.objects.filter(pk=campaign.pk).update(live_revision=revision)
    campaign.refresh_from_db()
    f.branches, f.admin, f.prize_ids, f.channel, f.campaign, f.later = branches, admin, prize_ids, channel, campaign, later
    return f


def load_rows(d: Data, f: Frame, rng: np.random.Generator, timings: dict[str, float]) -> None:
    """Customers, grants, awards, activities and business events, timed by table."""
    campaign, later, branches, prize_ids = f.campaign, f.later, f.branches, f.prize_ids
    branch_ids = np.array([branches[code].pk for code, *_r in BRANCHES], dtype=np.int64)
    now = timezone.now().isoformat()
    started = time.perf_counter()
    n = ARGS.customers
    with bulk_load(Customer._meta.db_table):
        ids = np.arange(1, n + 1)
        write(Customer, {
            "id": ids, "customer_ref": np.char.add("B", ids.astype(str)), "name": np.char.add("客户", ids.astype(str)),
            "phone": np.full(n, ""), "branch_id": branch_ids[d.branch_of], "opened_on": d.opened_on,
            "created_at": np.full(n, now), "updated_at": np.full(n, now),
        })
    timings["load_customers"] = time.perf_counter() - started

    started = time.perf_counter()
    other_activity, other_award, other_grant = other_campaign_rows(rng, d, ARGS.awards + 1, ARGS.awards + 1)
    granted = d.award_status == AwardStatus.GRANTED
    n_awards = ARGS.awards
    grant_of = np.full(n_awards, np.nan)
    grant_of[granted] = np.arange(1, int(granted.sum()) + 1)
    award_rows = {
        "id": np.concatenate([np.arange(1, n_awards + 1), other_award["id"]]),
        "campaign_id": np.concatenate([np.full(n_awards, campaign.pk), np.full(len(other_award["id"]), later.pk)]),
        "customer": np.concatenate([d.award_customer, other_award["customer"]]),
        "at": np.concatenate([d.award_at, other_award["at"]]),
        "prize": np.concatenate([d.award_prize, other_award["prize"]]),
        "status": np.concatenate([d.award_status, other_award["status"]]),
        "grant": np.concatenate([grant_of, other_award["grant"]]),
    }
    fen = np.array([f for _c, f, _s in PRIZES], dtype=np.int64)[award_rows["prize"]]
    seq = seq_within(award_rows["campaign_id"] * (n + 1) + award_rows["customer"])
    slot_units = seq_within(award_rows["campaign_id"] * len(PRIZES) + award_rows["prize"])
    keys = np.char.add("bench:award:", award_rows["id"].astype(str))
    grant_mask = ~np.isnan(award_rows["grant"])
    grant_status = np.concatenate([d.grant_status[granted], other_grant["status"]])
    grant_at = award_rows["at"][grant_mask]
    m = int(grant_mask.sum())
    delivered = grant_status == "delivered"
    with bulk_load(Grant._meta.db_table, Award._meta.db_table, Activity._meta.db_table):
        write(Grant, {
            "id": award_rows["grant"][grant_mask].astype(np.int64), "idempotency_key": keys[grant_mask],
            "cost": money(fen[grant_mask]), "source": np.char.add("campaign:", np.where(
                award_rows["campaign_id"][grant_mask] == campaign.pk, CODE, later.code)),
            "source_ref": np.char.add(np.char.add(np.char.add("campaign:", np.where(
                award_rows["campaign_id"][grant_mask] == campaign.pk, CODE, later.code)), ":slot:"),
                (award_rows["prize"][grant_mask] + 1).astype(str)),
            "status": grant_status, "attempts": np.where(grant_status == "pending", 0, 1),
            "last_error": np.full(m, ""), "delivered_at": np.where(delivered, stamps(grant_at + 60), None),
            "created_at": stamps(grant_at), "updated_at": stamps(grant_at + np.where(delivered, 60, 5)),
            "customer_id": award_rows["customer"][grant_mask], "prize_id": prize_ids[award_rows["prize"][grant_mask]],
            "claim_token": np.full(m, ""), "failure_kind": np.full(m, ""), "fulfilment": np.full(m, ""),
        })
        total = len(award_rows["id"])
        write(Award, {
            "id": award_rows["id"], "slot_key": award_rows["prize"] + 1, "unit": slot_units, "action": np.full(total, "draw"),
            "seq": seq, "part": np.zeros(total, dtype=np.int64), "day": local_days(award_rows["at"]), "day_seq": seq,
            "cost": money(fen), "at": stamps(award_rows["at"]), "campaign_id": award_rows["campaign_id"],
            "customer_id": award_rows["customer"], "grant_id": pd.array(award_rows["grant"], dtype="Int64"),
            "prize_id": prize_ids[award_rows["prize"]], "key": keys, "status": award_rows["status"],
            "failure": np.where(award_rows["status"] == AwardStatus.FAILED, "pool budget exhausted", ""),
        })
        for campaign_id, rows in ((campaign.pk, d.activity), (later.pk, other_activity)):
            count = len(rows["customer"])
            write(Activity, {
                "kind": rows["kind"], "channel": rows["channel"], "at": stamps(rows["at"]), "ref": np.full(count, ""),
                "campaign_id": np.full(count, campaign_id), "customer_id": rows["customer"],
                "award_id": pd.array(rows["award"], dtype="Int64"),
            })
    timings["load_awards_grants_activities"] = time.perf_counter() - started

    started = time.perf_counter()
    count = len(d.event_customer)
    with bulk_load(BusinessEvent._meta.db_table):
        write(BusinessEvent, {
            "event_id": np.char.add("E", np.arange(count).astype(str)), "type": d.event_type,
            "amount": np.where(d.event_fen < 0, None, money(np.maximum(d.event_fen, 0))), "product": np.full(count, ""),
            "occurred_at": stamps(d.event_at), "received_at": stamps(d.event_at + 1), "outcome": np.full(count, "[]"),
            "channel_id": np.full(count, f.channel.pk), "customer_id": d.event_customer,
        })
    timings["load_business_events"] = time.perf_counter() - started


def build_tags(d: Data, f: Frame) -> None:
    """The tags and the BitmapIndex rows of every tag and branch, built from the arrays."""
    n = ARGS.customers
    categories = TagCategory.objects.bulk_create(
        TagCategory(code=f"cat{i}", name_zh=f"类别{i}", name_en=f"Category {i}", order=i) for i in range(TAG_CATEGORIES)
    )
    tags = Tag.objects.bulk_create(
        Tag(code=f"T{rank:03d}", name_zh=f"标签{rank}", name_en=f"Tag {rank}", category=categories[rank % TAG_CATEGORIES],
            owner_branch=f.branches["HO"])
        for rank in range(TAGS)
    )
    rows = []
    built = {bitmaps.tag_key(tag.pk): members for tag, members in zip(tags, d.tag_members, strict=True)}
    ids = np.arange(1, n + 1)
    for number, (code, *_r) in enumerate(BRANCHES):
        built[bitmaps.branch_key(f.branches[code].pk)] = ids[d.branch_of == number]
    for key, members_of in built.items():
        bitmap = BitMap(members_of.astype(np.uint32))
        bitmap.run_optimize()
        rows.append(BitmapIndex(key=key, data=bitmap.serialize(), cardinality=len(bitmap)))
    BitmapIndex.objects.bulk_create(rows, batch_size=50)


def load(d: Data, rng: np.random.Generator, timings: dict[str, float]) -> tuple[Campaign, User]:
    f = create_frame(d)
    load_rows(d, f, rng, timings)
    started = time.perf_counter()
    build_tags(d, f)
    timings["build_bitmap_index"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if POSTGRES else "ANALYZE")
    timings["vacuum_analyze"] = time.perf_counter() - started
    return f.campaign, f.admin


# --- measuring ------------------------------------------------------------------------------


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def cold(campaign: Campaign) -> tuple[analysis.CampaignAnalysis, float, float]:
    def run():
        bitmaps.cache.clear()
        return analysis.campaign_analysis(campaign)

    started = time.perf_counter()
    result = run()
    first = (time.perf_counter() - started) * 1000
    return result, first, median_ms(run, ARGS.cold_repeat)


def warm(campaign: Campaign, admin: User) -> tuple[float, float, int]:
    """The first GET computes (this run's campaign has a records version no cache
    has seen); the next ones read the analysis from the cache."""
    client = Client()
    client.force_login(admin)
    url = reverse("campaigns:campaign_analysis", args=[campaign.code])
    started = time.perf_counter()
    response = client.get(url)
    first = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    report("page_bytes", len(response.content), "bytes")

    def get():
        answer = client.get(url)
        assert answer.status_code == 200, answer.status_code

    queries = []
    # The request_started signal empties connection.queries: count with a wrapper instead.
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        get()
    return first, median_ms(get, ARGS.warm_requests), len(queries)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZONE)


def naive_cell(campaign: Campaign, branch_id: int, day: dt.date, conversion_end: dt.datetime) -> dict[str, float]:
    """The six daily figures of one branch on one day, one query each."""
    low, high = local_midnight(day), local_midnight(day + dt.timedelta(days=1))
    activities = Activity.objects.filter(campaign=campaign, customer__branch_id=branch_id)
    participation = activities.filter(kind__in=analysis.PARTICIPATION)
    won = Award.objects.filter(campaign=campaign, customer__branch_id=branch_id).exclude(status=AwardStatus.FAILED)
    first = Subquery(
        Activity.objects.filter(campaign=campaign, customer=OuterRef("customer"), kind__in=analysis.PARTICIPATION)
        .order_by("at").values("at")[:1]
    )
    converted = BusinessEvent.objects.filter(
        customer__branch_id=branch_id, occurred_at__gte=low, occurred_at__lt=min(high, conversion_end)
    ).alias(first=first).filter(occurred_at__gte=F("first"))
    return {
        "views": activities.filter(kind=analysis.VIEW, at__gte=low, at__lt=high).count(),
        "participants": participation.values("customer").annotate(first=Min("at"))
        .filter(first__gte=low, first__lt=high).count(),
        "winners": won.values("customer").annotate(first=Min("at")).filter(first__gte=low, first__lt=high).count(),
        "cost": float(won.filter(at__gte=low, at__lt=high).aggregate(s=Sum("cost"))["s"] or 0),
        "conversions": converted.count(),
        "conversion_amount": float(converted.aggregate(s=Sum("amount"))["s"] or 0),
    }


def naive_totals(campaign: Campaign, conversion_end: dt.datetime, starts: dt.datetime) -> dict[str, float]:
    activities = Activity.objects.filter(campaign=campaign)
    won = Award.objects.filter(campaign=campaign).exclude(status=AwardStatus.FAILED)
    first = Subquery(
        activities.filter(customer=OuterRef("customer"), kind__in=analysis.PARTICIPATION).order_by("at").values("at")[:1]
    )
    converted = BusinessEvent.objects.filter(occurred_at__gte=starts, occurred_at__lt=conversion_end).alias(
        first=first
    ).filter(occurred_at__gte=F("first"))
    return {
        "viewed": activities.filter(kind=analysis.VIEW).values("customer").distinct().count(),
        "participants": activities.filter(kind__in=analysis.PARTICIPATION).values("customer").distinct().count(),
        "winners": won.values("customer").distinct().count(),
        "cost": float(won.aggregate(s=Sum("cost"))["s"] or 0),
        "conversions": converted.count(),
        "converted_customers": converted.aggregate(n=Count("customer", distinct=True))["n"],
        "conversion_amount": float(converted.aggregate(s=Sum("amount"))["s"] or 0),
    }


def naive(campaign: Campaign, result: analysis.CampaignAnalysis) -> float:
    """Seconds the whole naive grid takes (measured, or extrapolated from the timed days)."""
    conversion_end = result.ends_at + dt.timedelta(days=result.conversion_window_days)
    branch_ids = sorted(set(Customer.objects.values_list("branch_id", flat=True).distinct()))
    days = list(result.daily["day"])
    timed_days = days[::ARGS.naive_every]
    daily = result.daily.set_index("day")
    started = time.perf_counter()
    for day in timed_days:
        cells = [naive_cell(campaign, branch_id, day, conversion_end) for branch_id in branch_ids]
        for name in ("views", "participants", "winners", "conversions"):
            assert sum(c[name] for c in cells) == daily.loc[day, name], f"naive {name} on {day} differs"
        for name in ("cost", "conversion_amount"):
            assert abs(sum(c[name] for c in cells) - daily.loc[day, name]) < 0.005, f"naive {name} on {day} differs"
    grid_seconds = time.perf_counter() - started
    started = time.perf_counter()
    totals = naive_totals(campaign, conversion_end, result.starts_at)
    totals_seconds = time.perf_counter() - started
    kpis = result.kpis
    for name in ("viewed", "participants", "winners", "conversions", "converted_customers"):
        assert totals[name] == getattr(kpis, name), f"naive total {name} differs"
    for name in ("cost", "conversion_amount"):
        assert abs(totals[name] - float(getattr(kpis, name))) < 0.005, f"naive total {name} differs"
    cells_all, cells_timed = len(branch_ids) * len(days), len(branch_ids) * len(timed_days)
    report("naive_branches", len(branch_ids), "branches")
    report("naive_days", len(days), "days")
    report("naive_queries[grid]", cells_all * 6, "queries")
    report("naive_queries[timed]", cells_timed * 6 + len(totals), "queries")
    report("naive_timed_grid", grid_seconds, "s")
    report("naive_totals", totals_seconds, "s")
    whole = grid_seconds * cells_all / cells_timed + totals_seconds
    if cells_timed < cells_all:
        print(f"naive: timed {len(timed_days)} of {len(days)} days (one in {ARGS.naive_every}) on all branches; "
              f"the grid's time is extrapolated x{cells_all / cells_timed:.2f} from them, the totals are measured")
        report("naive_extrapolated", whole, "s")
    else:
        report("naive", whole, "s")
    return whole


def main() -> None:
    timings: dict[str, float] = {}
    rng = np.random.default_rng(ARGS.seed)
    today = timezone.localdate()
    starts_day = today - dt.timedelta(days=75)
    starts = int(local_midnight(starts_day).timestamp())
    ends = starts + WINDOW_DAYS * DAY
    started = time.perf_counter()
    d = synthesize(rng, starts, ends)
    timings["generate_arrays"] = time.perf_counter() - started
    campaign, admin = load(d, rng, timings)
    timings["generate_total"] = sum(timings.values())

    report("customers", ARGS.customers, "customers")
    report("activities", ARGS.activities, "rows")
    report("awards", ARGS.awards, "rows")
    report("business_events", len(d.event_customer), "rows")
    report("other_campaign_activities", ARGS.other_activities, "rows")
    for name, seconds in timings.items():
        report(name, seconds, "s")

    result, cold_first, cold_median = cold(campaign)
    kpis = result.kpis
    assert kpis.audience == len(d.treatment) and kpis.control == len(d.control)
    assert kpis.participants == len(d.participants), (kpis.participants, len(d.participants))
    assert kpis.conversions == ARGS.conversions, (kpis.conversions, ARGS.conversions)
    assert kpis.winners == len(np.unique(d.award_customer[d.award_status != AwardStatus.FAILED]))
    report("participants", kpis.participants, "customers")
    report("conversions", kpis.conversions, "events")
    report("by_tag_rows", len(result.by_tag), "rows")
    report("daily_rows", len(result.daily), "rows")
    report("cold_first", cold_first, "ms")
    report("cold_median", cold_median, "ms")

    version_ms = median_ms(lambda: analysis_cache.analysis_version(campaign), 50)
    report("records_version_median", version_ms, "ms")
    page_first, page_median, page_queries = warm(campaign, admin)
    report("page_first[computes]", page_first, "ms")
    report("page_warm_queries", page_queries, "queries")
    report("page_warm_median", page_median, "ms")
    ratio("200ms/page_warm_median", 200 / page_median, 1)

    naive_seconds = naive(campaign, result)
    ratio("naive/cold_median", naive_seconds * 1000 / cold_median, 10)


main()
