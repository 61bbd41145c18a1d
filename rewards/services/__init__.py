"""Writes for rewards, by sub-domain.

``ledger``: pools, prizes, stock and budget (with their ledgers), reservations,
grants and revocation — re-exported here, as most callers want them.
``codes``: coupon-code uploads and physical-gift fulfilment.
``delivery``: dispatching grants through the configured backend, retries and
the sweeper.
``resolution``: what people do to a grant afterwards — retry or mark delivered a
failed grant, move a physical gift along its fulfilment.
``batches``: manual dispatch to chosen customers, with maker-checker.
"""

from rewards.services.ledger import (  # noqa: F401
    GrantWanted,
    budget_add,
    budget_transfer,
    grant_create,
    grant_revoke,
    grants_create_many,
    pool_create,
    pool_update,
    pool_valid_today,
    prize_create,
    prize_update,
    reservation_create,
    reservation_release,
    stock_add,
    stock_adjust,
    stock_transfer,
)
