"""Logging filters named in settings.LOGGING (imported while settings load:
nothing here may import models)."""

from __future__ import annotations

import logging

# The channel API's everyday answers: not eligible, unknown, limit reached or
# sold out, not live. A sale that sells out answers thousands a second.
API_PREFIX = "/api/v1/"
EVERYDAY_STATUSES = frozenset({403, 404, 409, 410})


class QuietApiRefusals(logging.Filter):
    """Drop ``django.request``'s warning line for the channel API's everyday
    refusals; the runtime's records count them. Malformed (400), unsigned
    (401) and rate-limited (429) calls and server errors are still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", "") or ""
        return not (getattr(record, "status_code", None) in EVERYDAY_STATUSES and path.startswith(API_PREFIX))
