"""Who is calling: the channel named by ``X-Channel-Key``, its signature and
timestamp checked (DESIGN.md §5). Channels are cached per process and
reloaded when their version in Redis moves (every change to a channel bumps
it, so a deactivated channel or a rotated secret takes effect at once)."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.api import signing
from campaigns.models import ApiChannel
from campaigns.runtime.engine import Refusal


class _Channels:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_key: dict[str, ApiChannel | None] = {}
        self.version: str | None = None

    def get(self, key_id: str, *, fresh: bool = False) -> ApiChannel | None:
        if not fresh and key_id in self._by_key:
            return self._by_key[key_id]
        channel = ApiChannel.objects.filter(key_id=key_id).first()
        with self._lock:
            if len(self._by_key) > 10_000:  # unknown keys must not grow the cache without bound
                self._by_key.clear()
            self._by_key[key_id] = channel
        return channel

    def seen_version(self, version: str) -> bool:
        """Record the channels' version from Redis; True when it moved (the cache was dropped)."""
        if version == self.version:
            return False
        with self._lock:
            self._by_key.clear()
            self.version = version
        return True

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()
            self.version = None


channels = _Channels()


def _unauthorized(code: str, message: str) -> Refusal:
    return Refusal(401, code, message)


def authenticate(request, body: bytes, *, fresh: bool = False) -> ApiChannel:
    """The calling channel, or 401 for a missing, stale, unknown or bad signature."""
    key_id = request.headers.get("X-Channel-Key", "")
    timestamp = request.headers.get("X-Timestamp", "")
    given = request.headers.get("X-Signature", "")
    if not key_id or not timestamp or not given:
        raise _unauthorized(
            "unsigned", _("Sign the request: X-Channel-Key, X-Timestamp and X-Signature are required.")
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise _unauthorized("bad_timestamp", _("X-Timestamp must be Unix seconds.")) from None
    if abs(time.time() - sent) > settings.CAMPAIGNS_API_MAX_SKEW:
        raise _unauthorized(
            "stale_timestamp",
            _("The timestamp is more than %(skew)s seconds from the server's clock.")
            % {"skew": settings.CAMPAIGNS_API_MAX_SKEW},
        )
    channel = channels.get(key_id[:40], fresh=fresh) if key_id.isprintable() else None
    if channel is None or not channel.is_active:
        raise _unauthorized("unknown_key", _("No active channel has this key."))
    keys = [channel.secret]
    if channel.previous_secret and channel.previous_valid_until and channel.previous_valid_until > timezone.now():
        keys.append(channel.previous_secret)
    path = request.get_full_path()
    if not signing.verify(secrets=keys, timestamp=timestamp, method=request.method, path=path, body=body, given=given):
        if not fresh:  # the secret may have been rotated since it was cached
            return authenticate(request, body, fresh=True)
        raise _unauthorized("bad_signature", _("The signature does not match the request."))
    return channel
