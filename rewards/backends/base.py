"""The one small interface every dispatch backend implements."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewards.models import Grant


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # worth retrying later: timeouts, 5xx, the receiver is down
    PERMANENT = "permanent"  # retrying cannot help: the receiver refused the grant


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: str = ""

    @classmethod
    def delivered(cls) -> Result:
        return cls(Outcome.DELIVERED)

    @classmethod
    def transient(cls, error: str) -> Result:
        return cls(Outcome.TRANSIENT, error)

    @classmethod
    def permanent(cls, error: str) -> Result:
        return cls(Outcome.PERMANENT, error)


class DispatchBackend:
    """Delivers claimed grants to wherever rewards really happen.

    ``deliver`` gets grants in ``dispatching`` (with prize, pool, customer and
    coupon code loaded) and answers one ``Result`` per grant id; a grant left
    out counts as a transient failure. It should not raise: an exception fails
    the whole batch transiently.

    A *transactional* backend keeps its record of the delivery in this
    database: the dispatcher calls it inside the transaction that marks the
    grants delivered, with the rows locked, so a worker killed half-way leaves
    both the records and the status change or neither (exactly once). Any other
    backend is called with no transaction open and no lock held — it talks to
    the network — and must send the grant's idempotency key so the receiver
    can drop a repeat (at least once on our side, once on theirs).
    """

    transactional = False

    @property
    def name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def deliver(self, grants: Sequence[Grant]) -> dict[int, Result]:
        raise NotImplementedError


def grant_payload(grant: Grant) -> dict[str, Any]:
    """What a receiver needs to honour a grant.

    Only what never changes between attempts: a receiver that checks "same key,
    same body" must see a retry as the same request.
    """
    prize = grant.prize
    coupon = getattr(grant, "coupon_code", None)  # reverse one-to-one: absent for most kinds
    return {
        "idempotency_key": grant.idempotency_key,
        "grant_id": grant.pk,
        "customer_ref": grant.customer.customer_ref,
        "prize": {"pool": prize.pool.code, "code": prize.code, "kind": prize.kind, "name": prize.name},
        "cost": str(grant.cost),
        "currency": "CNY",
        "coupon_code": coupon.code if coupon is not None else None,
        "source": grant.source,
        "source_ref": grant.source_ref,
        "created_at": grant.created_at.isoformat(),
    }
