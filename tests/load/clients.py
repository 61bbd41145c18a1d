"""Concurrent channel clients for the load tests: one thread and one socket
per client (``http.client``, no extra dependency), each signing its own
request like a real channel, all released together by a barrier.

A client that loses its connection (a killed worker) or is told to come back
(503, or any answer with Retry-After) may retry with the same Idempotency-Key
and body, as the contract tells channels to.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from campaigns.api import signing

TIMEOUT = 60.0
MAX_ATTEMPTS = 200
# A client keeps retrying this long: a key whose request died in a killed worker
# is told "in progress" until its in-flight mark expires (10 s).
RETRY_SECONDS = 30.0
RETRY_PAUSE = 0.05  # after a lost connection
RETRY_AFTER_CAP = 0.25  # the API says Retry-After: 1; the tests wait less to stay quick


@dataclass
class Request:
    """What one client sends: ``key`` is its Idempotency-Key (None: none);
    ``gate`` an event it waits for after the barrier (a later wave), then
    ``delay`` seconds more before it sends."""

    path: str
    body: dict[str, Any]
    key: str | None = None
    delay: float = 0.0
    signed: bool = True
    gate: threading.Event | None = None


@dataclass
class Answer:
    request: Request
    status: int = 0  # 0: never answered
    data: dict[str, Any] = field(default_factory=dict)
    replay: bool = False
    seen: list[int | str] = field(default_factory=list)  # every attempt: a status or a connection error
    seconds: float = 0.0
    sent_at: float = 0.0  # monotonic time of the first attempt
    answered_at: float = 0.0

    @property
    def code(self) -> str:
        """"claimed"/"won"/"no_prize" for a success, else the error code."""
        if "error" in self.data:
            return self.data["error"].get("code", "")
        return self.data.get("result", "")


def _send(port: int, channel, request: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = json.dumps(request.body).encode()
    headers = {"Content-Type": "application/json", "Connection": "close"}
    if request.signed:
        headers.update(
            signing.sign_headers(key_id=channel.key_id, secret=channel.secret, method="POST", path=request.path, body=body)
        )
    if request.key is not None:
        headers["Idempotency-Key"] = request.key
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", request.path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


class Load:
    """Run ``requests`` concurrently against the server on ``port``.

    ``retry``: a lost connection, a 503 or an answer with Retry-After is
    retried (same key, same body, fresh signature) until a final answer. ``at``: {n: action} runs
    ``action`` in its own thread once n clients have their answer.
    """

    def __init__(
        self, port: int, channel, requests: list[Request], *, retry: bool = False,
        at: dict[int, Callable[[], None]] | None = None,
    ):
        self.port, self.channel, self.retry = port, channel, retry
        self.answers = [Answer(request=r) for r in requests]
        self._at = dict(at or {})
        self._done = 0
        self._lock = threading.Lock()
        self._actions: list[threading.Thread] = []
        self.action_errors: list[BaseException] = []
        self.seconds = 0.0

    def run(self) -> list[Answer]:
        barrier = threading.Barrier(len(self.answers) + 1)
        threads = [threading.Thread(target=self._client, args=(a, barrier), daemon=True) for a in self.answers]
        for t in threads:
            t.start()
        barrier.wait()
        started = time.monotonic()
        for t in threads:
            t.join(TIMEOUT * 2)
        self.seconds = time.monotonic() - started
        for t in self._actions:
            t.join(TIMEOUT)
        if self.action_errors:
            raise self.action_errors[0]
        return self.answers

    def _client(self, answer: Answer, barrier: threading.Barrier) -> None:
        barrier.wait()
        if answer.request.gate is not None and not answer.request.gate.wait(TIMEOUT):
            answer.seen.append("gate never opened")
            self._answered()
            return
        if answer.request.delay:
            time.sleep(answer.request.delay)
        started = answer.sent_at = time.monotonic()
        for _attempt in range(MAX_ATTEMPTS):
            try:
                status, data, headers = _send(self.port, self.channel, answer.request)
            except (OSError, http.client.HTTPException) as exc:
                answer.seen.append(type(exc).__name__)
                if not self.retry:
                    break
                time.sleep(RETRY_PAUSE)
                continue
            answer.seen.append(status)
            answer.status, answer.data = status, data
            answer.replay = headers.get("idempotent-replay") == "true"
            if self.retry and (status == 503 or "retry-after" in headers):
                if time.monotonic() - started > RETRY_SECONDS:
                    break
                time.sleep(min(float(headers.get("retry-after", "1")), RETRY_AFTER_CAP))
                continue
            break
        answer.answered_at = time.monotonic()
        answer.seconds = answer.answered_at - started
        self._answered()

    def _answered(self) -> None:
        with self._lock:
            self._done += 1
            action = self._at.pop(self._done, None)
        if action is not None:
            thread = threading.Thread(target=self._act, args=(action,), daemon=True)
            self._actions.append(thread)
            thread.start()

    def _act(self, action: Callable[[], None]) -> None:
        try:
            action()
        except BaseException as exc:  # reported by run(), in the test's thread
            self.action_errors.append(exc)


def tally(answers: list[Answer]) -> Counter:
    """(status, code) → how many final answers."""
    return Counter((a.status, a.code) for a in answers)


def percentile(answers: list[Answer], p: float) -> float:
    times = sorted(a.seconds for a in answers)
    return times[min(len(times) - 1, int(p * len(times)))] if times else 0.0
