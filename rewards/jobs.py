"""Background jobs for rewards: thin, take ids, safe to run twice."""

from __future__ import annotations

from rewards.services import batches, delivery


def grants_dispatch(grant_ids: list[int] | None = None) -> dict[str, int]:
    """Deliver the next batch of queued grants; with ``grant_ids`` (a retry
    that came due), put those back in the queue (``services.delivery``)."""
    return delivery.grants_dispatch(grant_ids=grant_ids)


def grants_sweep() -> dict[str, int]:
    """Re-queue grants stuck in pending or dispatching (every minute, ``rewards/cron.py``)."""
    return delivery.grants_sweep()


def batch_run(batch_id: int) -> None:
    """Grant a confirmed manual dispatch batch (``services.batches`` claims it once)."""
    batches.batch_run(batch_id=batch_id)
