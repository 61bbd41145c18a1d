"""An in-memory backend for tests, like Django's locmem e-mail backend.

Deliveries land in ``outbox`` (payloads, in order). ``fail(key, ...)`` makes
one idempotency key fail: permanently, or transiently a number of times (or
always), after which it is delivered. ``reset()`` empties both. State is per
process, so this backend is for tests that dispatch in their own process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewards.backends.base import DispatchBackend, Outcome, Result, grant_payload
from rewards.models import Grant

outbox: list[dict[str, Any]] = []
# key → (outcome, failures left; None = fail every time)
_failures: dict[str, tuple[Outcome, int | None]] = {}


def fail(key: str, *, permanent: bool = False, times: int | None = None) -> None:
    _failures[key] = (Outcome.PERMANENT if permanent else Outcome.TRANSIENT, times)


def reset() -> None:
    outbox.clear()
    _failures.clear()


class TestBackend(DispatchBackend):
    __test__ = False  # not a pytest test class, whatever its name says

    def deliver(self, grants: Sequence[Grant]) -> dict[int, Result]:
        results = {}
        for grant in grants:
            outcome, left = _failures.get(grant.idempotency_key, (Outcome.DELIVERED, None))
            if outcome != Outcome.DELIVERED and (left is None or left > 0):
                if left is not None:
                    _failures[grant.idempotency_key] = (outcome, left - 1)
                results[grant.pk] = Result(outcome, f"test backend: {outcome} failure")
                continue
            outbox.append(grant_payload(grant))
            results[grant.pk] = Result.delivered()
        return results
