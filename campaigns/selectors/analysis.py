"""The post-campaign analysis (DESIGN.md §4): what a campaign reached, what it
cost and what it changed, computed with pandas from a handful of bulk queries.

Each table is read once into a DataFrame (activities, awards with their grants,
the business events of the window of the audience and of the customers the
campaign recorded, the customers involved, tags and branches from the bitmap
index); every figure is a vectorised operation on those frames, so the cost
grows with the rows read, not with customers by days by branches.

Who is who:

- the *audience* (treatment) is the frozen audience of the approved revision
  without its control group; the *control* group is held out and never served;
- a *participant* is any customer with a participation activity (join, draw,
  claim, event, step, chain, invite, referral) — referral referees take part
  from outside the audience, so participants are not always members;
- a *conversion* is a business event of a participant at or after their first
  participation and before the campaign's end plus the conversion window.

Days are the bank's calendar days (``settings.TIME_ZONE``, as
``campaigns.runtime.state.local_day``). Money is exact in the KPIs
(``Decimal``) and a float rounded to the fen in the tables (for charts and
exports). Tags and branches are read from the bitmap index as they are now.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from django.db import connection
from django.db.models import BooleanField, CharField, F, Func, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from pyroaring import BitMap, FrozenBitMap

from accounts.models import Branch
from audiences import bitmaps
from audiences.models import Customer, Tag
from campaigns.models import (
    Activity,
    ActivityKind,
    Award,
    AwardStatus,
    BusinessEvent,
    Campaign,
    Referral,
)
from campaigns.services.revisions import approved_window
from rewards.models import GrantStatus, Prize

# Plain strings: pandas compares them with the values read, not with enum members.
PARTICIPATION = [
    k.value for k in (
        ActivityKind.JOIN, ActivityKind.DRAW, ActivityKind.CLAIM, ActivityKind.EVENT, ActivityKind.STEP,
        ActivityKind.CHAIN, ActivityKind.INVITE, ActivityKind.REFERRAL,
    )
]
VIEW, HELD_OUT = ActivityKind.VIEW.value, ActivityKind.HELD_OUT.value
AWARD_FAILED, AWARD_GRANTED = AwardStatus.FAILED.value, AwardStatus.GRANTED.value
DELIVERED = GrantStatus.DELIVERED.value
CONVERSION_WINDOW_DAYS = 30
RETENTION_DAYS = (1, 7, 30)
# Two-sided 95 %: the normal quantile 0.975 (1.959963…).
Z_95 = NormalDist().inv_cdf(0.975)
# An award the prize pool refused: its own status in the grants table, apart from a grant that failed to deliver.
REFUSED = "refused"

# Ids per IN (…) list: well under SQLite's limit of bound parameters.
ID_CHUNK = 10_000

FUNNEL_STAGES = ("audience", "reached", "viewed", "joined", "won", "redeemed")


@dataclass
class Kpis:
    audience: int = 0
    control: int = 0
    reached: int = 0
    viewed: int = 0
    participants: int = 0
    participation_rate: float | None = None
    winners: int = 0
    cost: Decimal = Decimal("0.00")
    budget_total: Decimal = Decimal("0.00")
    budget_used: float | None = None
    cost_per_participant: Decimal | None = None
    cost_per_conversion: Decimal | None = None
    new_customers: int = 0
    conversions: int = 0
    converted_customers: int = 0
    conversion_amount: Decimal = Decimal("0.00")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Uplift:
    """Conversion of the whole treatment group (intention to treat) against the
    control group; the interval is the normal approximation with the unpooled
    standard error."""

    treatment_size: int
    treatment_converted: int
    treatment_rate: float
    control_size: int
    control_converted: int
    control_rate: float
    difference: float
    ci_low: float
    ci_high: float
    significant: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CampaignAnalysis:
    """Everything the analysis page shows. The tables are small DataFrames with
    stable column names (see ``campaign_analysis``), ready for a template, a
    chart or an export."""

    campaign_id: int
    code: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    conversion_window_days: int
    computed_at: dt.datetime
    kpis: Kpis
    grants: pd.DataFrame
    conversions_by_type: pd.DataFrame
    funnel: pd.DataFrame
    daily: pd.DataFrame
    by_branch: pd.DataFrame
    by_channel: pd.DataFrame
    by_prize: pd.DataFrame
    by_tag: pd.DataFrame
    uplift: Uplift | None
    retention: pd.DataFrame


# --- reading ---------------------------------------------------------------------------


def _window(campaign: Campaign) -> tuple[dt.datetime, dt.datetime, Decimal, FrozenBitMap, FrozenBitMap]:
    """Window, budget and audience of what was approved (the working copy may differ since)."""
    starts, ends = approved_window(campaign)
    revision = campaign.live_revision if campaign.live_revision_id else None
    if revision is None:
        return starts, ends, campaign.budget_total, bitmaps.EMPTY, bitmaps.EMPTY
    budget = Decimal(revision.config.get("budget_total") or campaign.budget_total)
    audience = getattr(revision, "audience", None)
    if audience is None:
        return starts, ends, budget, bitmaps.EMPTY, bitmaps.EMPTY
    members = FrozenBitMap.deserialize(bytes(audience.members))
    control = FrozenBitMap.deserialize(bytes(audience.control))
    return starts, ends, budget, FrozenBitMap(members - control), control


def events_horizon(ends: dt.datetime, conversion_window_days: int = CONVERSION_WINDOW_DAYS) -> dt.datetime:
    """Business events are read up to here: the end plus the longer of the
    conversion window and the retention horizon."""
    return ends + dt.timedelta(days=max(conversion_window_days, max(RETENTION_DAYS)))


def _ids(bitmap: FrozenBitMap | BitMap) -> np.ndarray:
    return np.asarray(bitmap.to_array(), dtype=np.int64)


def _union(*ids: np.ndarray) -> np.ndarray:
    """The distinct ids of the arrays, in no particular order (by hashing, not sorting)."""
    return pd.unique(np.concatenate(ids))


def _frame(rows: QuerySet, columns: dict[str, str], *, times: tuple[str, ...] = ()) -> pd.DataFrame:
    """``rows`` as a DataFrame, in no particular order: ``columns`` maps each
    column to the field it is read from; ``times`` are timestamp columns, made
    aware UTC ``datetime64``.

    Reading is most of what an analysis costs. On PostgreSQL the rows come in
    binary through a psycopg cursor of their own (Django's cursors bind
    parameters on the client and read text): the driver builds each value in C,
    about 40 % less time for a million activities. Elsewhere timestamps are read
    as text, which pandas parses in C. No ordering: the figures do not depend
    on it, and sorting a million rows is not free."""
    rows = rows.order_by()
    names = list(columns)
    if connection.vendor == "postgresql":
        sql, params = rows.values_list(*columns.values()).query.sql_with_params()
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=names)
        for name in times:
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame
    fields = [_text(field) if name in times else F(field) for name, field in columns.items()]
    frame = pd.DataFrame.from_records(list(rows.values_list(*fields)), columns=names)
    for name in times:
        frame[name] = _utc(frame[name])
    return frame


def _frames(queries: list[QuerySet], columns: dict[str, str], *, times: tuple[str, ...] = ()) -> pd.DataFrame:
    """Several querysets read as one DataFrame (see ``_frame``)."""
    if not queries:
        frame = pd.DataFrame.from_records([], columns=list(columns))
        for name in times:
            frame[name] = _utc(frame[name])
        return frame
    return pd.concat([_frame(rows, columns, times=times) for rows in queries], ignore_index=True)


def _of(rows: QuerySet, field: str, ids: np.ndarray) -> list[QuerySet]:
    """``rows`` whose ``field`` is one of ``ids``: on PostgreSQL one query with the
    ids as one array (``= ANY``, matched by hashing); elsewhere IN lists of ID_CHUNK."""
    if not len(ids):
        return []
    if connection.vendor == "postgresql":
        return [rows.filter(_AnyOf(field, ids))]
    return [rows.filter(**{f"{field}__in": ids[i:i + ID_CHUNK].tolist()}) for i in range(0, len(ids), ID_CHUNK)]


class _AnyOf(Func):
    """``field = ANY(%s::bigint[])`` with the ids as one PostgreSQL array literal,
    where ``field__in`` would bind (and the database parse) one parameter per id."""

    output_field = BooleanField()

    def __init__(self, field: str, ids: np.ndarray) -> None:
        super().__init__(F(field))
        self.array = "{" + ",".join(map(str, ids.tolist())) + "}"

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} = ANY(%s::bigint[])", [*params, self.array]


def _text(field: str) -> Cast:
    """A timestamp read as text (SQLite): pandas parses a million ISO strings in
    C, where the database driver would build a million datetime objects one by one."""
    return Cast(field, output_field=CharField())


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _fen(values: pd.Series) -> pd.Series:
    """Decimal CNY to whole fen (int64), exactly: sums in fen never drift."""
    if values.empty:
        return pd.Series([], dtype="int64", index=values.index)
    return (values.astype("float64").fillna(0.0) * 100).round().astype("int64")


def _cny(fen: int | np.integer) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def _local_days(at: pd.Series) -> pd.Series:
    """The bank's calendar day of each aware timestamp, as midnight (datetime64)."""
    if at.empty:
        return pd.Series([], dtype="datetime64[ns]", index=at.index)
    zone = timezone.get_default_timezone_name()
    return pd.to_datetime(at, utc=True).dt.tz_convert(zone).dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _read(
    campaign: Campaign, *, horizon: dt.datetime, starts: dt.datetime, members: FrozenBitMap
) -> dict[str, pd.DataFrame]:
    activities = _frame(
        Activity.objects.filter(campaign=campaign),
        {"customer": "customer_id", "kind": "kind", "channel": "channel", "at": "at"}, times=("at",),
    )
    activities["kind"] = activities["kind"].astype("category")
    activities["channel"] = activities["channel"].astype("category")
    awards = _frame(
        Award.objects.filter(campaign=campaign),
        {"customer": "customer_id", "prize": "prize_id", "status": "status", "cost": "cost", "at": "at",
         "grant_status": "grant__status"},
        times=("at",),
    )
    awards["fen"] = _fen(awards["cost"])
    referees = _frame(Referral.objects.filter(campaign=campaign), {"customer": "referee_id"})
    # The customers contacted (not only held out), awarded or referred, by id
    # from the rows just read: no second pass over the activities.
    contacted = activities.loc[activities["kind"] != HELD_OUT, "customer"].to_numpy(dtype="int64")
    awarded = awards["customer"].to_numpy(dtype="int64"), referees["customer"].to_numpy(dtype="int64")
    customers = _frames(
        _of(Customer.objects.all(), "pk", _union(contacted, *awarded)),
        {"customer": "pk", "branch": "branch_id", "opened_on": "opened_on"},
    )
    # The events of the window of the customers the figures are about: the
    # audience (treatment and control, for the uplift) and everyone the campaign
    # recorded (participants, for conversions and retention), not the rest of
    # the bank. Each figure then keeps its own customers (participants by a
    # merge, the two groups by ``isin``).
    about = _union(_ids(members), activities["customer"].to_numpy(dtype="int64"))
    events = _frames(
        _of(BusinessEvent.objects.filter(occurred_at__gte=starts, occurred_at__lt=horizon), "customer_id", about),
        {"customer": "customer_id", "type": "type", "amount": "amount", "at": "occurred_at"}, times=("at",),
    )
    events["fen"] = _fen(events["amount"])
    return {"activities": activities, "awards": awards, "referees": referees, "customers": customers, "events": events}


# --- the analysis ----------------------------------------------------------------------


@dataclass
class _Base:
    """What every figure and every participant group is derived from."""

    starts: dt.datetime
    ends: dt.datetime
    conversion_end: dt.datetime
    budget: Decimal
    treatment: FrozenBitMap
    control: FrozenBitMap
    data: dict[str, pd.DataFrame]
    contacts: pd.DataFrame  # activities other than held_out
    first_part: pd.Series  # customer -> first participation
    won: pd.DataFrame  # awards the pool did not refuse
    conv: pd.DataFrame  # participants' business events that count as conversions


def _base(campaign: Campaign, conversion_window_days: int) -> _Base:
    starts, ends, budget, treatment, control = _window(campaign)
    conversion_end = ends + dt.timedelta(days=conversion_window_days)
    data = _read(
        campaign, horizon=events_horizon(ends, conversion_window_days), starts=starts,
        members=FrozenBitMap(treatment | control),
    )
    activities, awards, events = data["activities"], data["awards"], data["events"]
    contacts = activities[activities["kind"] != HELD_OUT]
    participation = contacts[contacts["kind"].isin(PARTICIPATION)]
    first_part = participation.groupby("customer")["at"].min().rename("first").rename_axis(None)
    won = awards[awards["status"] != AWARD_FAILED]
    conv = events.merge(first_part, left_on="customer", right_index=True, how="inner")
    conv = conv[(conv["at"] >= conv["first"]) & (conv["at"] < pd.Timestamp(conversion_end))]
    return _Base(
        starts=starts, ends=ends, conversion_end=conversion_end, budget=budget, treatment=treatment,
        control=control, data=data, contacts=contacts, first_part=first_part, won=won, conv=conv,
    )


def participant_groups(
    campaign: Campaign, *, conversion_window_days: int = CONVERSION_WINDOW_DAYS
) -> dict[str, BitMap]:
    """The customers of each re-marketing group, as the analysis counts them:
    ``participants`` (KPI participants), ``winners`` (KPI winners, referees
    included), ``non_winners`` (participants without a win), ``converted``
    (KPI converted customers) and ``control`` (the held-out group)."""
    base = _base(campaign, conversion_window_days)
    participants = BitMap(base.first_part.index.to_numpy(dtype=np.uint32))
    winners = BitMap(base.won["customer"].unique().astype(np.uint32))
    return {
        "participants": participants,
        "winners": winners,
        "non_winners": participants - winners,
        "converted": BitMap(base.conv["customer"].unique().astype(np.uint32)),
        "control": BitMap(base.control),
    }


def campaign_analysis(
    campaign: Campaign, *, conversion_window_days: int = CONVERSION_WINDOW_DAYS, now: dt.datetime | None = None
) -> CampaignAnalysis:
    """The whole analysis of ``campaign`` (scope is the caller's to check).

    Definitions the numbers follow:

    - reached: treatment members with any recorded contact (an activity other
      than ``held_out``); viewed: customers with a ``view`` activity;
    - winners: customers with an award the prize pool did not refuse; cost:
      the sum of those awards' cost; budget used: cost / approved total budget;
    - grants by prize and status: ``queued`` and ``refused`` (the award's own
      state) or else the grant's status (pending … delivered, failed, revoked);
    - new customers: participants who opened their account within the
      campaign's (local) days, plus every referee who accepted an invitation;
    - conversions: business events of participants from their first
      participation to the end plus ``conversion_window_days``; cost per
      conversion divides by the number of those events;
    - funnel: treatment members only, each stage inside the previous one (a
      member who joined without a recorded view counts as viewed; redeemed:
      a delivered grant) — so referees from outside the audience are counted
      in the KPIs but not in the funnel;
    - daily: views are ``view`` activities that day; participants and winners
      count each customer once, on the day of their first participation / win,
      so the columns add up to the KPIs;
    - uplift: a member converted if they had any business event from the
      start to the end plus the window, whether they took part or not; None
      when either group is empty;
    - retention after N days: among participants whose first participation is
      at least N days before ``now``, the share with any activity or business
      event N days or more after it. Business events are read up to the end
      plus the longer of the conversion window and 30 days, so later activity
      does not count.
    """
    now = now or timezone.now()
    base = _base(campaign, conversion_window_days)
    starts, ends, budget, treatment, control = base.starts, base.ends, base.budget, base.treatment, base.control
    conversion_end = base.conversion_end
    data = base.data
    awards, events, customers = data["awards"], data["events"], data["customers"]
    treatment_ids, control_ids = _ids(treatment), _ids(control)
    contacts, first_part, won, conv = base.contacts, base.first_part, base.won, base.conv
    participant_ids = first_part.index.to_numpy()
    winner_ids = won["customer"].unique()

    kpis = Kpis(
        audience=len(treatment), control=len(control),
        reached=int(np.isin(contacts["customer"].unique(), treatment_ids).sum()),
        viewed=int(contacts.loc[contacts["kind"] == VIEW, "customer"].nunique()),
        participants=len(participant_ids), winners=len(winner_ids), cost=_cny(won["fen"].sum()),
        budget_total=Decimal(budget).quantize(Decimal("0.01")),
        conversions=len(conv), converted_customers=int(conv["customer"].nunique()),
        conversion_amount=_cny(conv["fen"].sum()),
    )
    kpis.participation_rate = _ratio(kpis.participants, kpis.audience)
    kpis.budget_used = _ratio(float(kpis.cost), float(kpis.budget_total))
    if kpis.participants:
        kpis.cost_per_participant = (kpis.cost / kpis.participants).quantize(Decimal("0.01"))
    if kpis.conversions:
        kpis.cost_per_conversion = (kpis.cost / kpis.conversions).quantize(Decimal("0.01"))
    first_day, last_day = timezone.localdate(starts, timezone.get_default_timezone()), timezone.localdate(
        ends - dt.timedelta(microseconds=1), timezone.get_default_timezone()
    )
    opened = customers[customers["customer"].isin(participant_ids)]["opened_on"]
    new_ids = set(customers.loc[opened[(opened >= first_day) & (opened <= last_day)].index, "customer"])
    kpis.new_customers = len(new_ids | set(data["referees"]["customer"]))

    prize_names = dict(Prize.objects.filter(pk__in=awards["prize"].unique().tolist()).values_list("pk", "name"))
    return CampaignAnalysis(
        campaign_id=campaign.pk, code=campaign.code, starts_at=starts, ends_at=ends,
        conversion_window_days=conversion_window_days, computed_at=now, kpis=kpis,
        grants=_grants(awards, prize_names),
        conversions_by_type=_conversions_by_type(conv),
        funnel=_funnel(treatment_ids, contacts, participant_ids, won, awards),
        daily=_daily(contacts, first_part, won, conv, first_day, last_day),
        by_branch=_by_branch(customers, participant_ids, won, conv, treatment),
        by_channel=_by_channel(contacts),
        by_prize=_by_prize(awards, prize_names),
        by_tag=_by_tag(participant_ids, treatment),
        uplift=_uplift(events[events["at"] < pd.Timestamp(conversion_end)], treatment_ids, control_ids),
        retention=_retention(first_part, contacts, events, now),
    )


def _grants(awards: pd.DataFrame, prize_names: dict[int, str]) -> pd.DataFrame:
    """Columns: prize_id, prize, status, grants."""
    status = awards["grant_status"].where(awards["status"] == AWARD_GRANTED, awards["status"])
    status = status.where(awards["status"] != AWARD_FAILED, REFUSED).fillna(GrantStatus.PENDING.value)
    table = (
        awards.assign(status=status.astype(str)).groupby(["prize", "status"]).size().rename("grants").reset_index()
    )
    table.insert(1, "prize_name", table["prize"].map(prize_names))
    return table.rename(columns={"prize": "prize_id", "prize_name": "prize"})[["prize_id", "prize", "status", "grants"]]


def _conversions_by_type(conv: pd.DataFrame) -> pd.DataFrame:
    """Columns: type, conversions, customers, amount."""
    table = conv.groupby("type").agg(
        conversions=("customer", "size"), customers=("customer", "nunique"), fen=("fen", "sum")
    )
    table["amount"] = table.pop("fen") / 100
    return table.reset_index().sort_values(["conversions", "type"], ascending=[False, True], ignore_index=True)


def _funnel(
    treatment_ids: np.ndarray, contacts: pd.DataFrame, participant_ids: np.ndarray, won: pd.DataFrame,
    awards: pd.DataFrame,
) -> pd.DataFrame:
    """Columns: stage, customers, share_of_audience, share_of_previous (None where the previous stage is empty)."""
    redeemed = awards.loc[awards["grant_status"] == DELIVERED, "customer"].unique()
    won_ids = _union(won["customer"].unique(), redeemed)
    joined = _union(participant_ids, won_ids)
    viewed = _union(contacts.loc[contacts["kind"] == VIEW, "customer"].unique(), joined)
    reached = _union(contacts["customer"].unique(), viewed)
    counts = [len(treatment_ids)] + [
        int(np.isin(treatment_ids, stage).sum()) for stage in (reached, viewed, joined, won_ids, redeemed)
    ]
    rows = []
    for position, (stage, count) in enumerate(zip(FUNNEL_STAGES, counts, strict=True)):
        previous = counts[position - 1] if position else counts[0]
        rows.append(
            {"stage": stage, "customers": count, "share_of_audience": _ratio(count, counts[0]),
             "share_of_previous": _ratio(count, previous)}
        )
    return pd.DataFrame(rows)


def _daily(
    contacts: pd.DataFrame, first_part: pd.Series, won: pd.DataFrame, conv: pd.DataFrame, first_day: dt.date,
    last_day: dt.date,
) -> pd.DataFrame:
    """One row per local day from the campaign's first day to its last (or the
    last day with a record, when conversions come later). Columns: day (date),
    views, participants, winners, cost, conversions, conversion_amount."""
    views = _local_days(contacts.loc[contacts["kind"] == VIEW, "at"]).value_counts()
    participants = _local_days(first_part).value_counts()
    winners = _local_days(won.groupby("customer")["at"].min()).value_counts()
    cost = won.groupby(_local_days(won["at"]))["fen"].sum() / 100
    conv_days = _local_days(conv["at"])
    conversions = conv_days.value_counts()
    amount = conv.groupby(conv_days)["fen"].sum() / 100
    series = [views, participants, winners, cost, conversions, amount]
    low, high = pd.Timestamp(first_day), pd.Timestamp(last_day)
    for s in series:
        if len(s):
            low, high = min(low, s.index.min()), max(high, s.index.max())
    days = pd.date_range(low, high, freq="D")
    table = pd.DataFrame(
        {
            name: s.reindex(days, fill_value=0)
            for name, s in zip(
                ("views", "participants", "winners", "cost", "conversions", "conversion_amount"), series, strict=True
            )
        },
        index=days,
    )
    for name in ("views", "participants", "winners", "conversions"):
        table[name] = table[name].astype("int64")
    for name in ("cost", "conversion_amount"):
        table[name] = table[name].astype("float64")
    table.insert(0, "day", [d.date() for d in days])
    return table.reset_index(drop=True)


def _by_branch(
    customers: pd.DataFrame, participant_ids: np.ndarray, won: pd.DataFrame, conv: pd.DataFrame,
    treatment: FrozenBitMap,
) -> pd.DataFrame:
    """Per customer branch: branch_id, branch, code, audience, participants,
    winners, cost, conversions, conversion_amount — branches with none of them left out."""
    branch_of = customers.set_index("customer")["branch"]
    participants = branch_of.reindex(participant_ids).value_counts()
    winners = branch_of.reindex(won["customer"].unique()).value_counts()
    cost = won.groupby(won["customer"].map(branch_of))["fen"].sum() / 100
    conv_branch = conv["customer"].map(branch_of)
    conversions = conv_branch.value_counts()
    amount = conv.groupby(conv_branch)["fen"].sum() / 100
    branches = list(Branch.objects.order_by("path").values_list("pk", "name", "code"))
    maps = bitmaps.get_many([bitmaps.branch_key(pk) for pk, _, _ in branches]) if treatment else {}
    rows = []
    for pk, name, code in branches:
        audience = treatment.intersection_cardinality(maps[bitmaps.branch_key(pk)]) if treatment else 0
        row = {
            "branch_id": pk, "branch": name, "code": code, "audience": audience,
            "participants": int(participants.get(pk, 0)), "winners": int(winners.get(pk, 0)),
            "cost": float(cost.get(pk, 0.0)), "conversions": int(conversions.get(pk, 0)),
            "conversion_amount": float(amount.get(pk, 0.0)),
        }
        if audience or row["participants"] or row["winners"] or row["conversions"]:
            rows.append(row)
    columns = ["branch_id", "branch", "code", "audience", "participants", "winners", "cost", "conversions",
               "conversion_amount"]
    return pd.DataFrame(rows, columns=columns)


def _by_channel(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per activity channel (the API channel's kind): channel, customers (any
    contact), views, participants, activities."""
    participation = contacts["kind"].isin(PARTICIPATION)
    table = pd.DataFrame(
        {
            "customers": contacts.groupby("channel")["customer"].nunique(),
            "views": (contacts["kind"] == VIEW).groupby(contacts["channel"]).sum(),
            "participants": contacts[participation].groupby("channel")["customer"].nunique(),
            "activities": contacts.groupby("channel").size(),
        }
    )
    table = table.fillna(0).astype("int64").rename_axis("channel").reset_index()
    return table.sort_values(["customers", "channel"], ascending=[False, True], ignore_index=True)[
        ["channel", "customers", "views", "participants", "activities"]
    ]


def _by_prize(awards: pd.DataFrame, prize_names: dict[int, str]) -> pd.DataFrame:
    """Per prize: prize_id, prize, awards (not refused), refused, cost, delivered."""
    given = awards["status"] != AWARD_FAILED
    table = pd.DataFrame(
        {
            "awards": given.groupby(awards["prize"]).sum(),
            "refused": (~given).groupby(awards["prize"]).sum(),
            "fen": awards["fen"].where(given, 0).groupby(awards["prize"]).sum(),
            "delivered": (awards["grant_status"] == DELIVERED).groupby(awards["prize"]).sum(),
        }
    )
    table = table.astype("int64")
    table["cost"] = table.pop("fen") / 100
    table = table.rename_axis("prize_id").reset_index()
    table.insert(1, "prize", table["prize_id"].map(prize_names))
    return table.sort_values(["cost", "prize_id"], ascending=[False, True], ignore_index=True)[
        ["prize_id", "prize", "awards", "refused", "cost", "delivered"]
    ]


def _by_tag(participant_ids: np.ndarray, treatment: FrozenBitMap) -> pd.DataFrame:
    """Which tags over-index among participants: for every active tag held by a
    member or a participant, category, tag, participants and audience with the
    tag, the share of each and index = participant share / audience share * 100
    (NaN when no member has the tag). Sorted by category, then index, highest first."""
    columns = ["category_id", "category", "tag_id", "tag", "code", "participants", "participant_share",
               "audience", "audience_share", "index"]
    if not treatment and not len(participant_ids):
        return pd.DataFrame(columns=columns)
    participants = FrozenBitMap(participant_ids.astype(np.uint32))
    tags = list(
        Tag.objects.filter(is_active=True).select_related("category").order_by("category__order", "category__code", "code")
    )
    maps = bitmaps.get_many([bitmaps.tag_key(tag.pk) for tag in tags])
    rows = []
    for order, tag in enumerate(tags):
        members = maps[bitmaps.tag_key(tag.pk)]
        in_participants = participants.intersection_cardinality(members)
        in_audience = treatment.intersection_cardinality(members)
        if not in_participants and not in_audience:
            continue
        participant_share = _ratio(in_participants, len(participants)) or 0.0
        audience_share = _ratio(in_audience, len(treatment))
        rows.append(
            {
                "category_id": tag.category_id, "category": tag.category.name, "tag_id": tag.pk, "tag": tag.name,
                "code": tag.code, "participants": in_participants, "participant_share": participant_share,
                "audience": in_audience, "audience_share": audience_share or 0.0,
                "index": participant_share / audience_share * 100 if audience_share else np.nan, "_order": order,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["_category_order"] = table.groupby("category_id")["_order"].transform("min")
    table = table.sort_values(["_category_order", "index", "code"], ascending=[True, False, True], na_position="last")
    return table[columns].reset_index(drop=True)


def _uplift(events: pd.DataFrame, treatment_ids: np.ndarray, control_ids: np.ndarray) -> Uplift | None:
    n_t, n_c = len(treatment_ids), len(control_ids)
    if not n_t or not n_c:
        return None
    converted = events["customer"].unique()
    x_t = int(np.isin(treatment_ids, converted).sum())
    x_c = int(np.isin(control_ids, converted).sum())
    p_t, p_c = x_t / n_t, x_c / n_c
    difference = p_t - p_c
    margin = Z_95 * math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    low, high = difference - margin, difference + margin
    return Uplift(
        treatment_size=n_t, treatment_converted=x_t, treatment_rate=p_t, control_size=n_c, control_converted=x_c,
        control_rate=p_c, difference=difference, ci_low=low, ci_high=high, significant=low > 0 or high < 0,
    )


def _retention(first_part: pd.Series, contacts: pd.DataFrame, events: pd.DataFrame, now: dt.datetime) -> pd.DataFrame:
    """Columns: days, eligible (participants whose first participation is at
    least that many days before now), retained, share (None when none is eligible)."""
    seen = pd.concat([contacts[["customer", "at"]], events[["customer", "at"]]], ignore_index=True)
    seen = seen.merge(first_part, left_on="customer", right_index=True, how="inner")
    # The latest sign of life after the first participation decides every threshold at once.
    last = seen.groupby("customer")["at"].max().reindex(first_part.index)
    since = (last - first_part).fillna(pd.Timedelta(0))
    age = pd.Timestamp(now) - first_part
    rows = []
    for days in RETENTION_DAYS:
        span = pd.Timedelta(days=days)
        eligible = age >= span
        retained = int((eligible & (since >= span)).sum())
        rows.append(
            {"days": days, "eligible": int(eligible.sum()), "retained": retained,
             "share": _ratio(retained, int(eligible.sum()))}
        )
    return pd.DataFrame(rows)
