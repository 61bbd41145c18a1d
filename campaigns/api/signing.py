"""Request signing for the channel API (DESIGN.md §5), both sides.

``X-Signature`` = hex HMAC-SHA256 with the channel secret over
``timestamp + "\\n" + METHOD + "\\n" + path + "\\n" + hex sha256(body)``, where
``path`` is the request path with its query string exactly as sent
(``/api/v1/campaigns/LOT-1/draw``). The simulator, the tests and the README's
example sign with ``sign_headers``; the API verifies with ``verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signature(*, secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n{body_hash(body)}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_headers(
    *, key_id: str, secret: str, method: str, path: str, body: bytes = b"", timestamp: int | None = None
) -> dict[str, str]:
    """The three headers a channel sends (plus a JSON content type)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Channel-Key": key_id,
        "X-Timestamp": ts,
        "X-Signature": signature(secret=secret, timestamp=ts, method=method, path=path, body=body),
        "Content-Type": "application/json",
    }


def verify(*, secrets: list[str], timestamp: str, method: str, path: str, body: bytes, given: str) -> bool:
    """True when ``given`` is the signature under one of ``secrets`` (compared in constant time)."""
    if not given.isascii():  # hmac.compare_digest refuses non-ASCII text, and no hex signature is
        return False
    return any(
        hmac.compare_digest(signature(secret=s, timestamp=timestamp, method=method, path=path, body=body), given)
        for s in secrets
        if s
    )
