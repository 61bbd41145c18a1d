"""Lottery draws: Vose's alias method over integer weights, and the random
value of each draw as a keyed hash, so that every draw can be replayed.

A draw's random value is the first 8 bytes of BLAKE2b keyed with the revision's
secret seed over ``"<campaign code>:<customer id>:<draw number>"``: the same
customer's n-th draw in a campaign always lands on the same slot, a retried or
replayed request cannot re-roll, and ``manage.py draws_verify`` recomputes
every recorded draw from the seed once it is revealed. The seed's SHA-256 is
published at approval, before the campaign goes live.

The alias table is built with exact integer arithmetic (weights out of their
total), so a value picks the same column on every machine: column ``u mod n``,
then the column's own slot if ``(u div n) mod total`` is below its threshold,
else its alias. O(1) per draw.

``Drawer`` is the runtime's fast path for one revision: the keyed hash state
after the key block and ``"<code>:"`` is built once, so a draw costs one copy,
one short update and the final compression, then the pick — the same values
and slots as ``draw_value`` and ``AliasTable.pick``.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Sequence

_unpack_u64 = struct.Struct(">Q").unpack

__all__ = ["AliasTable", "Drawer", "draw_value", "lottery_table", "seed_hash", "seed_new"]


def seed_new() -> str:
    return secrets.token_hex(32)


def seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_value(seed: str, campaign_code: str, customer_id: int, number: int) -> int:
    """The 64-bit random value of a customer's ``number``-th draw."""
    digest = hashlib.blake2b(
        f"{campaign_code}:{customer_id}:{number}".encode(), key=bytes.fromhex(seed), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


class AliasTable:
    """Weighted choice in O(1): ``pick(u)`` returns an index into ``weights``
    for a uniform 64-bit ``u``; index i comes up with probability
    weights[i] / sum(weights) (up to the 2^-64 bias of the modulo)."""

    __slots__ = ("alias", "n", "threshold", "total")

    def __init__(self, weights: Sequence[int]):
        if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        n, total = len(weights), sum(weights)
        # Each column holds `total` units; column i starts with weights[i] * n.
        scaled = [w * n for w in weights]
        threshold, alias = [total] * n, list(range(n))
        small = [i for i, s in enumerate(scaled) if s < total]
        large = [i for i, s in enumerate(scaled) if s >= total]
        while small and large:
            lo, hi = small.pop(), large.pop()
            threshold[lo], alias[lo] = scaled[lo], hi
            scaled[hi] -= total - scaled[lo]
            (small if scaled[hi] < total else large).append(hi)
        for i in small + large:  # exactly full columns (integer arithmetic leaves no rounding)
            threshold[i], alias[i] = total, i
        self.n, self.total, self.threshold, self.alias = n, total, threshold, alias

    def pick(self, u: int) -> int:
        rest, column = divmod(u, self.n)
        return column if rest % self.total < self.threshold[column] else self.alias[column]


WEIGHT_TOTAL = 10_000


def lottery_table(slots: Sequence[dict]) -> tuple[AliasTable, list[int | None]]:
    """The alias table of a lottery revision's slots (``config["slots"]``) and,
    per column, the slot id it stands for (None: the no-prize share). Prize
    slots in their wheel order, then the rest of the 10,000 to no prize."""
    prizes = sorted((s for s in slots if s["role"] == "prize" and s["weight"] > 0), key=lambda s: s["position"])
    weights = [s["weight"] for s in prizes]
    keys: list[int | None] = [s["id"] for s in prizes]
    rest = WEIGHT_TOTAL - sum(weights)
    if rest > 0:
        weights.append(rest)
        keys.append(None)
    return AliasTable(weights), keys


class Drawer:
    """The draws of one revision: ``value(customer_id, number)`` equals
    ``draw_value(seed, campaign_code, customer_id, number)``, and ``draw``
    returns that value with ``keys[table.pick(value)]`` (with lottery_table's
    keys: the slot id, None for no prize). Customer ids and numbers are ints."""

    __slots__ = ("_alias", "_base", "_n", "_threshold", "_total", "keys", "table")

    def __init__(self, seed: str, campaign_code: str, table: AliasTable, keys: Sequence[int | None]):
        if len(keys) != table.n:
            raise ValueError("one key per column of the table")
        # Keyed BLAKE2b compresses the key block up front; copying this state skips that per draw.
        self._base = hashlib.blake2b(f"{campaign_code}:".encode(), key=bytes.fromhex(seed), digest_size=8)
        self.table, self.keys = table, list(keys)
        self._n, self._total, self._threshold, self._alias = table.n, table.total, table.threshold, table.alias

    def value(self, customer_id: int, number: int) -> int:
        h = self._base.copy()
        h.update(b"%d:%d" % (customer_id, number))
        return _unpack_u64(h.digest())[0]

    def draw(self, customer_id: int, number: int) -> tuple[int, int | None]:
        """The draw's random value and the key of the column it lands on."""
        h = self._base.copy()
        h.update(b"%d:%d" % (customer_id, number))
        u = _unpack_u64(h.digest())[0]
        rest, column = divmod(u, self._n)
        return u, self.keys[column if rest % self._total < self._threshold[column] else self._alias[column]]
