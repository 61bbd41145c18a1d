"""The runtime's live counters in Redis, changed only by Lua scripts (one call
per step, atomic on the Redis server), and put back from the database by
``runtime_rebuild`` (DESIGN.md §6.8).

Keys (all under ``cs:``):

- ``cs:rt:{id}:meta``: hash ``epoch`` (a token that changes at every load or
  rebuild), ``rev`` (the live revision's id), ``state`` (live, paused, approved,
  ended);
- ``cs:rt:{id}:stock``: hash slot key → units left for the campaign to give;
- ``cs:rt:{id}:u:{slot}``: list of the slot's free unit numbers (as many as
  the stock hash says; a take pops one, a give pushes it back);
- ``cs:rt:{id}:budget``: hash ``total`` / ``d:YYYY-MM-DD`` → fen spent;
- ``cs:rt:{id}:pending``: takes whose transaction has not ended yet (token → time);
- ``cs:rt:{id}:c:{customer id}``: hash of the customer's counters: ``r`` (rewarded
  actions), ``r:<day>``, ``dr`` (draws), ``dr:<day>``, ``ref`` (rewarded referrals);
- ``cs:rl:…``: per-minute request counters (rate limits); ``cs:idem:…``: cached
  idempotent answers; ``cs:api:chv``: the API channels' version.

Why it cannot oversell: a take checks every limit and applies every change in
one script, so two requests never both see the last unit. The database still
has the last word (a reservation's ``remaining >= 0``, unique award numbers):
a wrong counter can refuse a customer, never over-give (an award's unit is
unique per slot and below the slot's quantity). A failed database write
gives its take back, unless the campaign was reloaded in between (its epoch
changed: the new counters came from the database and never saw that take).
A take left pending (its process was killed between the take and the end of
its transaction) is found by the minute sweep, which reloads the campaign's
counters from the database. A missing ``meta`` means Redis lost the campaign: the engine refuses with 503
until ``runtime_rebuild`` (or the first request, under a lock) reloads it.
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings

PREFIX = "cs:"
CHANNELS_VERSION = f"{PREFIX}api:chv"


def meta_key(campaign_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:meta"


def stock_key(campaign_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:stock"


def budget_key(campaign_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:budget"


def pending_key(campaign_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:pending"


def units_key(campaign_id: int, slot_key: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:u:{slot_key}"


def customer_key(campaign_id: int, customer_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:c:{customer_id}"


def load_lock(campaign_id: int) -> str:
    # Outside the campaign's pattern: dropping its counters keeps the lock.
    return f"{PREFIX}rtload:{campaign_id}"


def campaign_pattern(campaign_id: int) -> str:
    return f"{PREFIX}rt:{{{campaign_id}}}:*"


def idem_key(channel_id: int, key: str) -> str:
    return f"{PREFIX}idem:{channel_id}:{key}"


def took_key(channel_id: int, key: str) -> str:
    """Set by a take of a request with this idempotency key: the database may hold its answer."""
    return idem_key(channel_id, key) + ":took"


@functools.cache
def connection() -> redis.Redis:
    """The runtime's own client: short timeouts, so a hung Redis fails a request
    (503) instead of holding a web worker."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.CAMPAIGNS_REDIS_TIMEOUT,
        socket_connect_timeout=settings.CAMPAIGNS_REDIS_TIMEOUT,
        decode_responses=True,
        health_check_interval=30,
    )


# --- the front check: every API request, one round trip -------------------------------

_FRONT = """
-- KEYS: channel rate, customer rate ('' none), idempotency ('' none), channels version,
--       campaign meta ('' none), campaign stock ('' none)
-- ARGV: channel limit, customer limit, window seconds, slot keys whose stock to add up...
local limited = ''
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if n > tonumber(ARGV[1]) then limited = 'channel' end
if KEYS[2] ~= '' and limited == '' then
  local c = redis.call('INCR', KEYS[2])
  if c == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  if c > tonumber(ARGV[2]) then limited = 'customer' end
end
local version = redis.call('GET', KEYS[4]) or '0'
local epoch, rev, state = false, false, false
local stock = -1
if KEYS[5] ~= '' then
  local m = redis.call('HMGET', KEYS[5], 'epoch', 'rev', 'state')
  epoch, rev, state = m[1], m[2], m[3]
  if #ARGV > 3 and epoch then
    stock = 0
    local left = redis.call('HMGET', KEYS[6], unpack(ARGV, 4))
    for i = 1, #left do
      if not left[i] then stock = -1 break end
      stock = stock + math.max(tonumber(left[i]), 0)
    end
  end
end
local idem = false
if KEYS[3] ~= '' then
  idem = redis.call('GET', KEYS[3])
  -- No answer yet: mark the key in flight, so a concurrent duplicate waits
  -- instead of racing the first request (it is told to retry). A sold-out
  -- sale marks nothing (its answer changes nothing, nothing to free after
  -- it), but still waits for a duplicate in flight.
  -- A key that took something before ('took') but has no cached answer: its
  -- process may have committed and died before caching it; the database answers.
  if not idem then
    local marker = KEYS[3] .. ':inflight'
    if stock == 0 then
      if redis.call('EXISTS', marker) == 1 then idem = 'inflight' end
    elseif not redis.call('SET', marker, '1', 'NX', 'EX', 10) then
      idem = 'inflight'
    end
    if not idem and redis.call('EXISTS', KEYS[3] .. ':took') == 1 then idem = 'took' end
  end
end
return {limited, idem, version, epoch, rev, state, stock}
"""


@dataclass
class Front:
    limited: str
    idempotent: str | None
    channels_version: str
    epoch: str | None
    revision_id: int | None
    state: str | None
    # Units left over the slots asked about; None when not asked or not loaded.
    stock: int | None


def front(
    *, channel_id: int, channel_limit: int, customer_ref: str | None, customer_limit: int,
    idempotency_key: str | None, campaign_id: int | None, slot_keys: tuple[int, ...] = (), minute: int,
) -> Front:
    keys = [
        f"{PREFIX}rl:ch:{channel_id}:{minute}",
        f"{PREFIX}rl:cu:{customer_ref}:{minute}" if customer_ref else "",
        idem_key(channel_id, idempotency_key) if idempotency_key else "",
        CHANNELS_VERSION,
        meta_key(campaign_id) if campaign_id else "",
        stock_key(campaign_id) if campaign_id else "",
    ]
    result = _script("front")(keys=keys, args=[channel_limit, customer_limit, 120, *slot_keys])
    limited, idem, version, epoch, rev, state, stock = result
    return Front(
        limited=limited, idempotent=idem or None, channels_version=version, epoch=epoch or None,
        revision_id=int(rev) if rev else None, state=state or None,
        stock=int(stock) if slot_keys and int(stock) >= 0 else None,
    )


# --- take and give -------------------------------------------------------------------

_TAKE = """
-- KEYS: meta, customer counters, stock, budget, pending takes, the request's 'took' marker ('' none),
--       the slot's free units ('' none)
-- ARGV: epoch, '1' to serve an approved campaign whose start has come (the go-live job may lag),
--       number of counters, (field, limit or -1)..., slot key or '', cost (fen),
--       total budget or -1, day field, day budget or -1, customer key ttl (s), token, now (s),
--       the marker's ttl (s)
local m = redis.call('HMGET', KEYS[1], 'epoch', 'state')
if not m[1] then return {'unloaded'} end
if m[1] ~= ARGV[1] then return {'stale'} end
if m[2] ~= 'live' and not (m[2] == 'approved' and ARGV[2] == '1') then return {'not_live', m[2]} end
local n = tonumber(ARGV[3])
local i = 4
local fields, values = {}, {}
for c = 1, n do
  local f, limit = ARGV[i], tonumber(ARGV[i + 1])
  local v = tonumber(redis.call('HGET', KEYS[2], f) or '0') + 1
  if limit >= 0 and v > limit then return {'limit', f} end
  fields[c], values[c] = f, v
  i = i + 2
end
local slot, cost = ARGV[i], tonumber(ARGV[i + 1])
local total, day, daily, ttl = tonumber(ARGV[i + 2]), ARGV[i + 3], tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
local token, now = ARGV[i + 6], tonumber(ARGV[i + 7])
if slot ~= '' then
  local left = redis.call('HGET', KEYS[3], slot)
  if not left then return {'unloaded'} end
  if tonumber(left) <= 0 then return {'sold_out', slot} end
  if redis.call('LLEN', KEYS[7]) == 0 then return {'unloaded'} end
end
if cost > 0 then
  local b = redis.call('HMGET', KEYS[4], 'total', day)
  if total >= 0 and tonumber(b[1] or '0') + cost > total then return {'budget', 'total'} end
  if daily >= 0 and tonumber(b[2] or '0') + cost > daily then return {'budget', 'day'} end
end
for c = 1, n do redis.call('HSET', KEYS[2], fields[c], values[c]) end
if n > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
local unit = -1
if slot ~= '' then
  redis.call('HINCRBY', KEYS[3], slot, -1)
  unit = tonumber(redis.call('LPOP', KEYS[7]))
end
if cost > 0 then
  redis.call('HINCRBY', KEYS[4], 'total', cost)
  redis.call('HINCRBY', KEYS[4], day, cost)
end
-- Until its transaction commits (settle) or fails (give), the take is pending;
-- one left pending too long means its process died: the sweep reloads the campaign.
redis.call('ZADD', KEYS[5], now, token)
-- The request's idempotency key took something: until its answer is cached, a
-- retry of it looks for the answer in the database (even on a sold-out sale).
if KEYS[6] ~= '' then redis.call('SET', KEYS[6], '1', 'EX', ARGV[i + 8]) end
local out = {'ok', unit}
for c = 1, n do out[c + 2] = values[c] end
return out
"""

_GIVE = """
-- KEYS: meta, customer counters, stock, budget, pending takes, the slot's free units ('' none)
-- ARGV: epoch, number of counters, fields..., slot key or '', cost (fen), day field, unit, token
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if redis.call('ZREM', KEYS[5], ARGV[#ARGV]) == 0 then return 0 end
local n = tonumber(ARGV[2])
for c = 1, n do redis.call('HINCRBY', KEYS[2], ARGV[2 + c], -1) end
local slot, cost, day, unit = ARGV[3 + n], tonumber(ARGV[4 + n]), ARGV[5 + n], ARGV[6 + n]
if slot ~= '' then
  redis.call('HINCRBY', KEYS[3], slot, 1)
  redis.call('LPUSH', KEYS[6], unit)
end
if cost > 0 then
  redis.call('HINCRBY', KEYS[4], 'total', -cost)
  redis.call('HINCRBY', KEYS[4], day, -cost)
end
return 1
"""


@dataclass
class Take:
    """What one take asked for, so that it can be given back exactly."""

    campaign_id: int
    customer_id: int
    epoch: str
    fields: list[str] = field(default_factory=list)
    slot_key: int | None = None
    cost_fen: int = 0
    day_field: str = ""
    values: list[int] = field(default_factory=list)
    token: str = ""
    # The slot's unit it took (None without a slot).
    unit: int | None = None

    def give_back(self) -> bool:
        """Undo the take (its write failed); nothing when the campaign was
        reloaded since or the take was already settled or given back."""
        result = _script("give")(
            keys=[*_take_keys(self.campaign_id, self.customer_id), _units(self.campaign_id, self.slot_key)],
            args=[self.epoch, len(self.fields), *self.fields, "" if self.slot_key is None else self.slot_key,
                  self.cost_fen, self.day_field, -1 if self.unit is None else self.unit, self.token],
        )
        return bool(result)


def finish(*, settled: list[Take], channel_id: int, idempotency_key: str | None, answer: str | None,
           answer_ttl: int, release: bool, drain=None, queued: list[int] = ()) -> None:
    """After a request, in one round trip: its committed takes are no longer
    pending, its answer is cached for replays, its idempotency key is freed,
    the ids it made are ``queued`` on ``drain`` (a ``config.drains.Drain``,
    whose job is then queued if none is)."""
    pipe = connection().pipeline(transaction=False)
    for take in settled:
        pipe.zrem(pending_key(take.campaign_id), take.token)
    if idempotency_key and answer is not None:
        pipe.set(idem_key(channel_id, idempotency_key), answer, ex=answer_ttl)
    if idempotency_key and release:
        pipe.delete(idem_key(channel_id, idempotency_key) + ":inflight")
    if queued:
        drain.add(queued, at=time.time(), connection=pipe)
        drain.flag_set(connection=pipe)  # last: its answer says whether to queue the job
    if len(pipe):
        results = pipe.execute()
        if queued and results[-1]:
            drain.job_queue()


def stale_pending(campaign_id: int, older_than: float) -> bool:
    """Whether a take of this campaign has been pending since before ``older_than`` (Unix seconds)."""
    return bool(connection().zrangebyscore(pending_key(campaign_id), "-inf", older_than, start=0, num=1))


class Refused(Exception):
    """A take was refused: ``reason`` is unloaded, stale, not_live, limit,
    sold_out or budget; ``detail`` the counter, slot or budget concerned."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


def _units(campaign_id: int, slot_key: int | None) -> str:
    return "" if slot_key is None else units_key(campaign_id, slot_key)


def _take_keys(campaign_id: int, customer_id: int) -> list[str]:
    return [
        meta_key(campaign_id), customer_key(campaign_id, customer_id), stock_key(campaign_id), budget_key(campaign_id),
        pending_key(campaign_id),
    ]


def take(
    *, campaign_id: int, customer_id: int, epoch: str, counters: list[tuple[str, int | None]] = (),
    slot_key: int | None = None, cost_fen: int = 0, budget_total_fen: int | None = None,
    budget_day_fen: int | None = None, day: str, ttl: int, started: bool = False, took: str = "",
    took_ttl: int = 0,
) -> Take:
    """Check and apply, atomically: each counter + 1 within its limit, one unit
    of the slot's stock (a free unit number), the cost within the total and the day's budget.
    ``started``: the window is open, so an approved campaign is served too.
    ``took``: the request's marker key (``took_key``), set for ``took_ttl`` seconds.
    Returns the take (with the counters' new values) or raises ``Refused``."""
    args: list[Any] = [epoch, "1" if started else "0", len(counters)]
    for name, limit in counters:
        args += [name, -1 if limit is None else limit]
    day_field = f"d:{day}"
    token = secrets.token_hex(8)
    args += [
        "" if slot_key is None else slot_key, cost_fen, -1 if budget_total_fen is None else budget_total_fen,
        day_field, -1 if budget_day_fen is None else budget_day_fen, ttl, token, int(time.time()), took_ttl,
    ]
    result = _script("take")(
        keys=[*_take_keys(campaign_id, customer_id), took, _units(campaign_id, slot_key)], args=args
    )
    if result[0] != "ok":
        raise Refused(result[0], result[1] if len(result) > 1 and result[1] else "")
    unit = int(result[1])
    return Take(
        campaign_id=campaign_id, customer_id=customer_id, epoch=epoch, fields=[name for name, _ in counters],
        slot_key=slot_key, cost_fen=cost_fen, day_field=day_field, values=[int(v) for v in result[2:]], token=token,
        unit=None if unit < 0 else unit,
    )


# --- loading and publishing --------------------------------------------------------------


def load(
    *, campaign_id: int, epoch: str, revision_id: int, state: str, units: dict[int, list[int]],
    budget: dict[str, int], customers: dict[int, dict[str, int]], ttl: int,
) -> None:
    """Replace every counter of a campaign with the given values (from the
    database): each slot's free units (its stock is how many), the budget
    spent, the customers' counters; under a new epoch. One MULTI: no request
    sees a half-loaded campaign."""
    conn = connection()
    old = list(conn.scan_iter(match=campaign_pattern(campaign_id), count=1000))
    pipe = conn.pipeline(transaction=True)
    if old:
        pipe.delete(*old)
    if units:
        pipe.hset(stock_key(campaign_id), mapping={str(k): len(v) for k, v in units.items()})
    for slot_key, free in units.items():
        for start in range(0, len(free), 10_000):
            pipe.rpush(units_key(campaign_id, slot_key), *free[start:start + 10_000])
    if budget:
        pipe.hset(budget_key(campaign_id), mapping=budget)
    for customer_id, values in customers.items():
        if values:
            pipe.hset(customer_key(campaign_id, customer_id), mapping=values)
            pipe.expire(customer_key(campaign_id, customer_id), ttl)
    # meta last: until it is there, requests see the campaign as unloaded.
    pipe.hset(meta_key(campaign_id), mapping={"epoch": epoch, "rev": revision_id, "state": state})
    pipe.execute()


def state_set(*, campaign_id: int, state: str) -> bool:
    """Change a loaded campaign's state; False when it is not loaded."""
    return bool(_script("state")(keys=[meta_key(campaign_id)], args=[state]))


_STATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
return 1
"""


def drop(*, campaign_id: int) -> None:
    conn = connection()
    old = list(conn.scan_iter(match=campaign_pattern(campaign_id), count=1000))
    if old:
        conn.delete(*old)


def channels_changed() -> None:
    connection().incr(CHANNELS_VERSION)


_SOURCES = {"front": _FRONT, "take": _TAKE, "give": _GIVE, "state": _STATE}


@functools.cache
def _script(name: str):
    return connection().register_script(_SOURCES[name])
