"""Dispatch backends, chosen by ``settings.REWARDS_DISPATCH_BACKEND`` like ``EMAIL_BACKEND``.

- ``rewards.backends.logging.LoggingBackend`` (default): records each delivery
  as a ``DeliveryRecord`` in the same transaction that marks the grant delivered.
- ``rewards.backends.http.HttpBackend``: signed JSON to the bank's core system.
- ``rewards.backends.test.TestBackend``: in memory, for tests; chosen keys can fail.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from rewards.backends.base import DispatchBackend, Outcome, Result, grant_payload

__all__ = ["DispatchBackend", "Outcome", "Result", "get_backend", "grant_payload"]


def get_backend(path: str | None = None) -> DispatchBackend:
    """A fresh instance of the configured backend (backends keep no state between batches)."""
    path = path or settings.REWARDS_DISPATCH_BACKEND
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"REWARDS_DISPATCH_BACKEND {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, DispatchBackend)):
        raise ImproperlyConfigured(f"REWARDS_DISPATCH_BACKEND {path!r} is not a DispatchBackend")
    return backend_class()
