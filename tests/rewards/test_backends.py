"""Dispatch backends: the HTTP one against a real local server, loading by setting,
the in-memory test backend, and the production check for the HTTP settings."""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from rewards import services
from rewards.backends import Outcome, get_backend
from rewards.backends import test as test_backend
from rewards.backends.http import HttpBackend
from rewards.backends.logging import LoggingBackend
from rewards.models import Grant, GrantStatus
from rewards.services import delivery

ROOT = Path(__file__).resolve().parents[2]
SECRET = "core-system-shared-secret"


@pytest.fixture
def receiver():
    """The bank's core system: a real HTTP/1.1 server in a thread that records
    every request and answers with ``status`` (or ``by_key[key]``) after ``delay``."""
    state = SimpleNamespace(requests=[], connections=0, status=200, by_key={}, delay=0.0, drop_after_reply=False)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real core system

        def setup(self):
            state.connections += 1
            super().setup()

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(SimpleNamespace(path=self.path, headers=self.headers, body=body))
            time.sleep(state.delay)
            status = state.by_key.get(self.headers["Idempotency-Key"], state.status)
            reply = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            # A server that closes idle keep-alive connections without saying so.
            self.close_connection = state.drop_after_reply

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # the slow test's client hangs up before the reply: expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/rewards/grants"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def grants(prize, tree, make_customers):
    customers = make_customers(5, tree.bj, prefix="H")
    return [
        services.grant_create(prize=prize, customer=c, idempotency_key=f"campaign-7:{c.customer_ref}", source="test")
        for c in customers
    ]


def backend(url, timeout=2.0):
    return HttpBackend(url=url, key_id="campaign-studio", secret=SECRET, timeout=timeout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- HTTP ---------------------------------------------------------------------------


def test_a_2xx_answer_is_delivered_and_every_post_is_signed_and_carries_the_grant_key(receiver, grants):
    sent = grants[:3]
    results = backend(receiver.url).deliver(sent)
    assert {pk: r.outcome for pk, r in results.items()} == {g.pk: Outcome.DELIVERED for g in sent}
    assert len(receiver.requests) == 3 and receiver.connections == 1  # one kept-alive connection per batch
    for grant, request in zip(sent, receiver.requests, strict=True):
        headers = request.headers
        assert request.path == "/rewards/grants"
        assert headers["Idempotency-Key"] == grant.idempotency_key
        assert headers["X-Key-Id"] == "campaign-studio"
        assert abs(int(headers["X-Timestamp"]) - time.time()) < 5
        expected = hmac.new(SECRET.encode(), headers["X-Timestamp"].encode() + b"\n" + request.body, hashlib.sha256)
        assert hmac.compare_digest(headers["X-Signature"], expected.hexdigest())
        body = json.loads(request.body)
        assert body["idempotency_key"] == grant.idempotency_key == body["grant"]["idempotency_key"]
        assert body["grant"]["customer_ref"] == grant.customer.customer_ref
        assert body["grant"]["cost"] == "5.00" and body["grant"]["currency"] == "CNY"


def test_a_signature_made_with_another_secret_does_not_verify(receiver, grants):
    backend(receiver.url).deliver(grants[:1])
    (request,) = receiver.requests
    forged = hmac.new(b"another secret", request.headers["X-Timestamp"].encode() + b"\n" + request.body, hashlib.sha256)
    assert request.headers["X-Signature"] != forged.hexdigest()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(201, Outcome.DELIVERED), (400, Outcome.PERMANENT), (404, Outcome.PERMANENT), (409, Outcome.PERMANENT),
     (429, Outcome.TRANSIENT), (500, Outcome.TRANSIENT), (503, Outcome.TRANSIENT)],
)
def test_the_answer_status_decides_the_outcome(receiver, grants, status, outcome):
    receiver.status = status
    (result,) = backend(receiver.url).deliver(grants[:1]).values()
    assert result.outcome == outcome
    if outcome != Outcome.DELIVERED:
        assert result.error.startswith(f"HTTP {status}: ") and f'"status": {status}' in result.error


def test_each_grant_in_a_batch_gets_its_own_outcome(receiver, grants):
    ok, refused, busy = grants[:3]
    receiver.by_key = {refused.idempotency_key: 400, busy.idempotency_key: 503}
    results = backend(receiver.url).deliver([ok, refused, busy])
    assert [results[g.pk].outcome for g in (ok, refused, busy)] == [Outcome.DELIVERED, Outcome.PERMANENT, Outcome.TRANSIENT]
    assert receiver.connections == 1  # error answers keep the connection too


def test_a_slow_server_times_out_as_a_transient_failure(receiver, grants):
    receiver.delay = 1.0
    started = time.monotonic()
    (result,) = backend(receiver.url, timeout=0.2).deliver(grants[:1]).values()
    assert time.monotonic() - started < 0.9
    assert result.outcome == Outcome.TRANSIENT and "timed out" in result.error


def test_a_refused_connection_is_transient_and_an_unreachable_receiver_is_not_hammered(grants):
    started = time.monotonic()
    results = backend(f"http://127.0.0.1:{free_port()}/grants").deliver(grants)
    assert time.monotonic() - started < 5
    assert all(r.outcome == Outcome.TRANSIENT for r in results.values())
    errors = [results[g.pk].error for g in grants]
    assert all("Connection refused" in e or "ConnectionRefusedError" in e for e in errors[:3])
    assert errors[3:] == ["not sent: the core system is unreachable"] * 2


def test_a_batch_stops_sending_at_half_the_sweepers_patience(receiver, grants, settings):
    settings.REWARDS_STUCK_AFTER_SECONDS = 2  # stop sending after 1 s
    receiver.delay = 0.6  # the second POST starts at 0.6 s, the third would at 1.2 s
    results = backend(receiver.url).deliver(grants[:4])
    outcomes = [results[g.pk].outcome for g in grants[:4]]
    assert outcomes == [Outcome.DELIVERED, Outcome.DELIVERED, Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert results[grants[3].pk].error == "not sent: the batch ran out of time"
    assert len(receiver.requests) == 2


def test_a_kept_alive_connection_the_server_dropped_is_reopened_once(receiver, grants):
    receiver.drop_after_reply = True
    results = backend(receiver.url).deliver(grants[:3])
    assert all(r.outcome == Outcome.DELIVERED for r in results.values())
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [g.idempotency_key for g in grants[:3]]
    assert receiver.connections == 3


def test_a_retry_sends_the_same_body_so_the_receiver_can_dedupe(receiver, grants, settings):
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.http.HttpBackend"
    settings.REWARDS_HTTP_URL, settings.REWARDS_HTTP_KEY_ID, settings.REWARDS_HTTP_SECRET = receiver.url, "k", SECRET
    (grant,) = grants[:1]
    receiver.status = 503
    assert delivery.grants_deliver(grant_ids=[grant.pk])["retrying"] == 1
    Grant.objects.filter(pk=grant.pk).update(next_attempt_at=None)
    receiver.status = 200
    assert delivery.grants_deliver(grant_ids=[grant.pk])["delivered"] == 1
    first, second = receiver.requests
    assert first.body == second.body and first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    grant.refresh_from_db()
    assert grant.status == GrantStatus.DELIVERED and grant.attempts == 2


def test_the_dispatcher_delivers_through_the_http_backend_from_the_settings(receiver, grants, settings):
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.http.HttpBackend"
    settings.REWARDS_HTTP_URL, settings.REWARDS_HTTP_KEY_ID, settings.REWARDS_HTTP_SECRET = receiver.url, "k", SECRET
    refused = grants[1]
    receiver.by_key = {refused.idempotency_key: 422}
    counts = delivery.grants_deliver(grant_ids=[g.pk for g in grants])
    assert counts == {"claimed": 5, "delivered": 4, "retrying": 0, "failed": 1}
    assert sorted(r.headers["Idempotency-Key"] for r in receiver.requests) == sorted(g.idempotency_key for g in grants)
    refused.refresh_from_db()
    assert refused.status == GrantStatus.FAILED and refused.last_error.startswith("HTTP 422")


def test_the_http_backend_refuses_to_start_without_its_url_or_secret(settings):
    settings.REWARDS_HTTP_URL = ""
    with pytest.raises(ImproperlyConfigured, match="REWARDS_HTTP_URL"):
        HttpBackend(key_id="k", secret="s")
    with pytest.raises(ImproperlyConfigured, match="SECRET"):
        HttpBackend(url="https://core.bank.example/grants", key_id="k", secret="")


# --- loading by setting ------------------------------------------------------------------


def test_the_backend_comes_from_the_setting(settings):
    assert type(get_backend()) is LoggingBackend  # the default
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.test.TestBackend"
    assert type(get_backend()) is test_backend.TestBackend
    settings.REWARDS_DISPATCH_BACKEND = "rewards.backends.nothing.Here"
    with pytest.raises(ImproperlyConfigured, match="cannot be imported"):
        get_backend()
    settings.REWARDS_DISPATCH_BACKEND = "rewards.models.Grant"
    with pytest.raises(ImproperlyConfigured, match="not a DispatchBackend"):
        get_backend()


def test_the_test_backend_records_deliveries_and_fails_chosen_keys(grants):
    test_backend.reset()
    ok, refused, flaky = grants[:3]
    test_backend.fail(refused.idempotency_key, permanent=True)
    test_backend.fail(flaky.idempotency_key, times=1)
    results = test_backend.TestBackend().deliver([ok, refused, flaky])
    assert [results[g.pk].outcome for g in (ok, refused, flaky)] == [Outcome.DELIVERED, Outcome.PERMANENT, Outcome.TRANSIENT]
    assert [p["idempotency_key"] for p in test_backend.outbox] == [ok.idempotency_key]
    results = test_backend.TestBackend().deliver([refused, flaky])
    assert [results[g.pk].outcome for g in (refused, flaky)] == [Outcome.PERMANENT, Outcome.DELIVERED]
    assert [p["idempotency_key"] for p in test_backend.outbox] == [ok.idempotency_key, flaky.idempotency_key]
    test_backend.reset()
    assert test_backend.outbox == []


# --- production settings -----------------------------------------------------------------


def manage_check(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("REWARDS_HTTP") and k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    production = {
        "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "False", "ALLOWED_HOSTS": "campaigns.bank.example",
        "SECRET_KEY": "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP",
        "REWARDS_DISPATCH_BACKEND": "rewards.backends.http.HttpBackend",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**base, **production, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_production_with_the_http_backend_and_no_url_or_secret_fails_at_start():
    result = manage_check()
    assert result.returncode != 0
    assert "REWARDS_HTTP_URL" in result.stderr and "REWARDS_HTTP_SECRET" in result.stderr
    result = manage_check(REWARDS_HTTP_URL="https://core.bank.example/grants", REWARDS_HTTP_KEY_ID="studio",
                          REWARDS_HTTP_SECRET=SECRET)
    assert result.returncode == 0, result.stderr
