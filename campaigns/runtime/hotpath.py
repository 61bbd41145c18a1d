"""The flash-sale claim's database work, cut to two statements.

A claim is the runtime's hottest path (a sale opens and every customer taps
at once). Its reads and writes are the same as everywhere else in the engine;
only how they reach the database differs:

- the customer is read with SQL compiled once per process by the ORM (the
  query is always the same; compiling it again per request cost more than
  running it);
- on PostgreSQL the award, its activity and the stored idempotent answer are
  written by **one statement** (``WITH … INSERT … RETURNING``), atomic on its
  own, so no BEGIN / COMMIT round trips; the answer is stored with the
  award's id filled in by the database. Constraint violations raise
  ``IntegrityError`` exactly as the ORM's inserts would. Other databases (the
  SQLite the fast tests run on) take the ORM's path in a transaction.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from audiences.models import Customer
from campaigns.models import Activity, ActivityKind, ApiRequest, Award, AwardStatus

_CUSTOMER_FIELDS = ("pk", "customer_ref", "branch_id", "opened_on")


@functools.cache
def _customer_sql() -> str:
    query = Customer.objects.filter(customer_ref="?").values_list(*_CUSTOMER_FIELDS)[:1].query
    sql, params = query.sql_with_params()
    assert params == ("?",), params  # one parameter: the reference
    return sql


def customer_by_ref(ref: str) -> Customer | None:
    """The customer with this reference (only the fields the runtime reads), or None."""
    with connection.cursor() as cursor:
        cursor.execute(_customer_sql(), [ref])
        row = cursor.fetchone()
    return None if row is None else Customer(**dict(zip(("id", *_CUSTOMER_FIELDS[1:]), row, strict=True)))


def _columns(model, names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in names)


_AWARD = (
    "campaign", "customer", "slot_key", "unit", "prize", "reservation", "key", "status", "failure", "action", "seq",
    "part", "day", "day_seq", "cost", "at",
)
_ACTIVITY = ("campaign", "customer", "kind", "channel", "at", "slot_key", "ref", "award")
_ANSWER = ("channel", "key", "body_hash", "path", "status", "created_at", "response")


@functools.cache
def _claim_sql(with_answer: bool) -> str:
    # Built from the models' table and column names only (quoted); every value is a parameter.
    award, activity, answer = (connection.ops.quote_name(m._meta.db_table) for m in (Award, Activity, ApiRequest))

    def marks(n: int) -> str:
        return ", ".join(["%s"] * n)

    sql = f"WITH a AS (INSERT INTO {award} ({_columns(Award, _AWARD)}) VALUES ({marks(len(_AWARD))}) RETURNING id), "  # noqa: S608
    sql += f"b AS (INSERT INTO {activity} ({_columns(Activity, _ACTIVITY)}) SELECT {marks(len(_ACTIVITY) - 1)}, a.id FROM a) "  # noqa: S608
    if not with_answer:
        return sql + "SELECT id FROM a"  # noqa: S608
    response = "jsonb_set(%s::jsonb, '{grant,award}', to_jsonb(a.id))"
    sql += f"INSERT INTO {answer} ({_columns(ApiRequest, _ANSWER)}) SELECT {marks(len(_ANSWER) - 1)}, {response} FROM a "  # noqa: S608
    return sql + "RETURNING (SELECT id FROM a)"  # noqa: S608


def one_statement() -> bool:
    return connection.vendor == "postgresql"


def claim_insert(
    *, award: Award, channel_kind: str, answer: dict[str, Any], request: dict[str, Any] | None,
) -> int:
    """Write the claim's award (unsaved), its activity and (with ``request``:
    channel, key, body_hash, path, status) the stored ``answer``, in one
    statement; returns the award's id (also written into the stored answer's
    ``grant.award``)."""
    params = [
        award.campaign_id, award.customer_id, award.slot_key, award.unit, award.prize_id, award.reservation_id,
        award.key, AwardStatus.QUEUED, "", award.action, award.seq, award.part, award.day, award.day_seq,
        Decimal(award.cost), award.at,
        award.campaign_id, award.customer_id, ActivityKind.CLAIM, channel_kind, award.at, award.slot_key, "",
    ]
    if request is not None:
        params += [
            request["channel_id"], request["key"], request["body_hash"], request["path"], request["status"],
            timezone.now(), json.dumps(answer, separators=(",", ":")),
        ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(request is not None), params)
        return cursor.fetchone()[0]
