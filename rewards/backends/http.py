"""Signed JSON to the bank's core system, with the standard library only.

One POST per grant to ``REWARDS_HTTP_URL``, over one keep-alive connection
per batch. The body is ``{"idempotency_key": ..., "grant": {...}}`` (UTF-8
JSON, identical on every attempt) and the headers carry

- ``Idempotency-Key``: the grant's key, so the receiver can drop a repeat;
- ``X-Key-Id``: ``REWARDS_HTTP_KEY_ID``;
- ``X-Timestamp``: Unix seconds;
- ``X-Signature``: hex HMAC-SHA256 with ``REWARDS_HTTP_SECRET`` over
  ``timestamp + "\\n" + body`` (see ``signature``).

2xx is delivered; 408 and 429 (the receiver asks us to come back) and 5xx,
timeouts and connection errors are transient; any other status is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from rewards.backends.base import DispatchBackend, Outcome, Result, grant_payload
from rewards.models import Grant

logger = logging.getLogger(__name__)

# After this many timeouts or connection errors in a row the receiver is taken
# to be down: the rest of the batch fails transiently at once instead of each
# grant waiting out its own timeout (and the claim outliving the sweeper's patience).
UNREACHABLE_AFTER = 3
RETRY_LATER = {408, 429}
ERROR_BODY_CHARS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


class HttpBackend(DispatchBackend):
    def __init__(
        self, *, url: str | None = None, key_id: str | None = None, secret: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.url = settings.REWARDS_HTTP_URL if url is None else url
        self.key_id = settings.REWARDS_HTTP_KEY_ID if key_id is None else key_id
        self.secret = settings.REWARDS_HTTP_SECRET if secret is None else secret
        self.timeout = settings.REWARDS_HTTP_TIMEOUT if timeout is None else timeout
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured("REWARDS_HTTP_URL must be an http:// or https:// URL")
        if not self.key_id or not self.secret:
            raise ImproperlyConfigured("REWARDS_HTTP_KEY_ID and REWARDS_HTTP_SECRET must be set")
        self._parts = parts
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def deliver(self, grants: Sequence[Grant]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        unreachable = 0
        connection = None
        # A batch still sending at half the sweeper's patience stops: the rest
        # come back with their retry, instead of the sweeper taking back claims
        # this worker is still working through (and sending them a second time).
        deadline = time.monotonic() + settings.REWARDS_STUCK_AFTER_SECONDS / 2
        try:
            for grant in grants:
                if unreachable >= UNREACHABLE_AFTER:
                    results[grant.pk] = Result.transient("not sent: the core system is unreachable")
                    continue
                if time.monotonic() > deadline:
                    results[grant.pk] = Result.transient("not sent: the batch ran out of time")
                    continue
                body = json.dumps(
                    {"idempotency_key": grant.idempotency_key, "grant": grant_payload(grant)},
                    ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                ).encode()
                try:
                    connection, status, reply = self._post(connection, grant.idempotency_key, body)
                except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
                    if connection is not None:
                        connection.close()
                    connection = None
                    unreachable += 1
                    results[grant.pk] = Result.transient(f"{type(exc).__name__}: {exc}"[:ERROR_BODY_CHARS])
                    continue
                unreachable = 0
                results[grant.pk] = self._result(status, reply)
        finally:
            if connection is not None:
                connection.close()
        failed = sum(r.outcome != Outcome.DELIVERED for r in results.values())
        logger.info("dispatch: %d grants sent to %s, %d not delivered", len(grants), self._parts.hostname, failed)
        return results

    def _connect(self) -> http.client.HTTPConnection:
        connection_class = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return connection_class(self._parts.hostname, self._parts.port, timeout=self.timeout)

    def _post(self, connection, key: str, body: bytes):
        """POST one body; returns the connection to reuse, the status and the reply.

        A kept-alive connection the server has meanwhile closed fails on first
        use: that one is retried once on a fresh connection (safe, the receiver
        dedupes by key). Anything else propagates.
        """
        reused = connection is not None
        if connection is None:
            connection = self._connect()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": key,
            "X-Key-Id": self.key_id,
            "X-Timestamp": timestamp,
            "X-Signature": signature(self.secret, timestamp, body),
        }
        try:
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            connection.close()
            if not reused:
                raise
            connection = self._connect()
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
        reply = response.read()  # read to the end, or the connection cannot be reused
        return connection, response.status, reply

    @staticmethod
    def _result(status: int, reply: bytes) -> Result:
        if 200 <= status < 300:
            return Result.delivered()
        error = f"HTTP {status}: {reply[:ERROR_BODY_CHARS].decode('utf-8', 'replace')}".strip()
        if status >= 500 or status in RETRY_LATER:
            return Result.transient(error)
        return Result.permanent(error)
