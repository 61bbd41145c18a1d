"""Flash-sale claims through real gunicorn: the channel API against a trivial view and a select_for_update design.

Builds its own data — a branch, ``--customers`` customers (through the upsert
service, so the audience bitmaps are real), a prize pool with budget, one
prize with stock, an API channel with rate limits out of the way — and three
flash-sale campaigns, made live through the services (submit, approve, go-live
job, load into Redis):

- ``claim``: ``POST /api/v1/campaigns/<code>/claim`` while stock lasts
  (``--stock`` units, ``limit_total`` far above what one customer claims);
- ``claim-sold-out``: the same endpoint on a campaign whose one unit is
  already claimed — the path answered from Redis;
- ``trivial``: ``bench/trivial``, ``{"ok": true}`` through the same middleware;
- ``claim-select-for-update``: ``bench/claim-locked/<code>``, the same claim
  where the database is the only counter (see ``bench/claim_harness.py``).

Then it starts a real gunicorn (``--workers`` sync workers, default two per
core; the harness URLconf is ``config.urls`` plus those two views, the settings
those of production: DEBUG off) and drives each variant in turn with
``--clients`` concurrent clients: one thread multiplexing non-blocking sockets,
each client sending its next request as soon as the last one answered. A sync
worker closes the connection after each answer, so every request is a new
connection. Every variant gets the same kind of request, a POST signed with
``campaigns.api.signing.sign_headers`` as it is built (so the timestamp is
fresh) naming the next customer in turn, with its own ``Idempotency-Key``
(``--no-idempotency-key`` to leave it out). Each variant is warmed up for ``--warmup`` seconds, then measured for
``--duration`` seconds: requests completed in that window, their p50 and p99
latency (connect to last byte, so the wait for a free worker counts), errors
(any other status than the variant's expected one), and CPU per request of
the gunicorn workers, PostgreSQL, Redis and the client itself (all share the
machine; the client's share shows it is not the bottleneck).

Before the server starts, one request of each claim variant runs in-process to
count its SQL queries (BEGIN, SAVEPOINT and COMMIT included), Redis round trips
and Redis connections opened; then each stocked design claims LOCK_SAMPLES
times in a row to time how long a claim holds the item's reservation row
(locked to the commit, so every other claim of the item waits that long):
``row_lock_ceiling`` is the most claims per second one item could take
however many servers and cores served it. On a small machine both designs
run out of CPU long before that, so the measured rates say little about the
locking design; the ceilings say what the locking costs at scale.

A claim answers with its award and makes the grant in the background; no
worker runs while the variants are measured (in production workers run on
their own hosts). After the runs the queued awards are granted in this
process, timed (``grant_rate``), then each stocked campaign is checked: its
reservation holds the stock minus its awards, every award has its grant at
the same cost, and Redis agrees with the database on the units left (no
oversell, nothing lost).

Runs on DATABASE_URL (PostgreSQL gives the figures worth quoting; the database
must be empty) and REDIS_URL. Targets: the claim at least 0.5 times the
trivial view's rate while stock lasts, 0.8 times once sold out, and 5 times
the select_for_update design's.
"""

import argparse
import datetime as dt
import json
import logging
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from unittest import mock

from _setup import ROOT, report, setup_django

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per variant")
parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per variant")
parser.add_argument("--clients", type=int, default=64, help="concurrent clients")
parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn sync workers")
parser.add_argument("--customers", type=int, default=20_000)
parser.add_argument("--stock", type=int, default=100_000, help="units on sale in each stocked campaign")
parser.add_argument("--grant-batch", type=int, default=200, help="awards granted per drain after the run")
parser.add_argument("--no-idempotency-key", action="store_true", help="send no Idempotency-Key header")
parser.add_argument("--only", default="", help="comma-separated variants to run (default: all four)")
parser.add_argument("--keep-server", action="store_true", help="leave gunicorn running after the run (profiling)")
ARGS = parser.parse_args()

setup_django()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, connection, connections  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import clear_url_caches  # noqa: E402
from django.utils import timezone  # noqa: E402
from redis.connection import AbstractConnection  # noqa: E402

from accounts import services as accounts  # noqa: E402
from accounts.models import Role, User  # noqa: E402
from audiences import services as audience_services  # noqa: E402
from audiences.models import Customer  # noqa: E402
from campaigns import jobs, kinds  # noqa: E402
from campaigns.api import signing  # noqa: E402
from campaigns.models import (  # noqa: E402
    ApiChannel,
    Award,
    Campaign,
    CampaignChannel,
    CampaignRevision,
    Material,
    MaterialKind,
    RewardSlot,
)
from campaigns.runtime import counters, state  # noqa: E402
from campaigns.services import lifecycle  # noqa: E402
from rewards import services as reward_services  # noqa: E402
from rewards.models import Grant, Reservation  # noqa: E402

settings.DEBUG = False  # no query log in this process
SECRET = secrets.token_hex(32)
KEY_ID = "cs_bench_claim"
CODES = {"claim": "FS-BENCH-CLAIM", "claim-sold-out": "FS-BENCH-SOLD", "claim-select-for-update": "FS-BENCH-LOCKED"}
TEMPLATE = "Hi {name}, join {campaign}: {link}"


# --- data ------------------------------------------------------------------------------------


def campaign_live(*, code: str, prize, quantity: int, owner, operator, reviewer, poster) -> Campaign:
    """A flash sale for every customer of ``owner``, approved through the
    services and started a minute ago by the go-live job, as the tests'
    ``go_live`` does it."""
    starts = (timezone.now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    campaign = Campaign.objects.create(
        code=code, name=f"Bench {code}", kind="flash_sale", owner_branch=owner, starts_at=starts,
        ends_at=starts + dt.timedelta(days=7), budget_total=Decimal("100000000.00"), budget_daily=None,
        limit_per_day=None, limit_total=1_000_000, control_percent=0,
        kind_settings=kinds.get("flash_sale").default_settings(), created_by=operator,
    )
    RewardSlot.objects.create(
        campaign=campaign, position=0, role="item", label="Red packet", prize=prize, quantity=quantity,
        options={"price_points": 10},
    )
    CampaignChannel.objects.create(campaign=campaign, channel="app", template=TEMPLATE, material=poster)
    lifecycle.campaign_submit(actor=operator, campaign=campaign)
    lifecycle.campaign_approve(actor=reviewer, campaign=campaign)
    campaign.refresh_from_db()
    revision = CampaignRevision.objects.get(pk=campaign.live_revision_id)
    begun = timezone.now() - dt.timedelta(minutes=1)
    length = dt.datetime.fromisoformat(revision.config["ends_at"]) - dt.datetime.fromisoformat(revision.config["starts_at"])
    revision.config = {**revision.config, "starts_at": begun.isoformat(), "ends_at": (begun + length).isoformat()}
    revision.save(update_fields=["config"])
    Campaign.objects.filter(pk=campaign.pk).update(starts_at=begun, ends_at=begun + length)
    state.cache.clear()
    jobs.campaign_go_live(campaign.pk)
    state.runtime_load(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    return campaign


def setup() -> tuple[list[str], dict[str, Campaign]]:
    if Customer.objects.exists():
        raise SystemExit("bench/claim.py needs an empty database")
    head = accounts.branch_create(actor=None, code="HO", name="HO", parent=None)
    branch = accounts.branch_create(actor=None, code="BJ", name="BJ", parent=head)
    admin, operator, reviewer = (
        User.objects.create(username=f"bench_{role}", role=role, branch=branch)
        for role in (Role.BRANCH_ADMIN, Role.OPERATOR, Role.REVIEWER)
    )
    pool = reward_services.pool_create(actor=admin, code="BENCH", name="bench", owner_branch=branch)
    reward_services.budget_add(actor=admin, pool=pool, amount=Decimal("100000000.00"), reason="bench")
    prize = reward_services.prize_create(
        actor=admin, pool=pool, code="CASH1", name="1 yuan red packet", kind="cash", unit_cost=Decimal("1.00")
    )
    reward_services.stock_add(actor=admin, prize=prize, quantity=2 * ARGS.stock + 1, reason="bench")
    rows = [
        audience_services.CustomerRow(
            customer_ref=f"B{i:08d}", name=f"客户{i}", phone=f"139{i:08d}", branch_id=branch.pk,
            opened_on=dt.date(2020, 1, 1),
        )
        for i in range(ARGS.customers)
    ]
    audience_services.customers_upsert(rows=rows, source_ref="bench")
    ApiChannel.objects.create(
        name="Bench", kind="app", key_id=KEY_ID, secret=SECRET, rate_per_minute=1_000_000_000,
        customer_rate_per_minute=1_000_000_000,
    )
    poster = Material.objects.create(owner_branch=branch, kind=MaterialKind.POSTER, name="Poster", created_by=operator)
    made = {
        variant: campaign_live(
            code=code, prize=prize, quantity=1 if variant == "claim-sold-out" else ARGS.stock, owner=branch,
            operator=operator, reviewer=reviewer, poster=poster,
        )
        for variant, code in CODES.items()
    }
    return [r.customer_ref for r in rows], made


# --- requests --------------------------------------------------------------------------------

PATHS = {
    "trivial": "/bench/trivial",
    "claim": f"/api/v1/campaigns/{CODES['claim']}/claim",
    "claim-sold-out": f"/api/v1/campaigns/{CODES['claim-sold-out']}/claim",
    "claim-select-for-update": f"/bench/claim-locked/{CODES['claim-select-for-update']}",
}
VARIANTS = ("trivial", "claim", "claim-sold-out", "claim-select-for-update")
TARGETS = (("claim", "trivial", 0.5), ("claim-sold-out", "trivial", 0.8), ("claim", "claim-select-for-update", 5))
EXPECTED = {"trivial": 200, "claim": 200, "claim-sold-out": 409, "claim-select-for-update": 200}


class Requests:
    """The signed requests of one variant: the next customer in turn, a fresh key each."""

    def __init__(self, variant: str, refs: list[str], start: int = 0):
        self.variant, self.path, self.refs, self.n = variant, PATHS[variant], refs, start
        self.tag = secrets.token_hex(4)

    def parts(self) -> tuple[bytes, dict[str, str]]:
        self.n += 1
        body = json.dumps({"customer": self.refs[self.n % len(self.refs)]}).encode()
        headers = signing.sign_headers(key_id=KEY_ID, secret=SECRET, method="POST", path=self.path, body=body)
        if not ARGS.no_idempotency_key:
            headers["Idempotency-Key"] = f"{self.variant}-{self.tag}-{self.n}"
        return body, headers

    def next(self) -> bytes:
        body, headers = self.parts()
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}Content-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode() + body


class Run:
    def __init__(self):
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.failures = 0


def drive(port: int, requests: Requests, seconds: float, *, clients: int, record: bool) -> Run:
    """``clients`` connections in flight for ``seconds``: each answered one is
    replaced by a new one. Requests that end after the window are waited for,
    not counted."""
    run = Run()
    sel = selectors.DefaultSelector()
    address = ("127.0.0.1", port)
    deadline = time.perf_counter() + seconds

    def launch() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        started = time.perf_counter()
        sock.connect_ex(address)
        sel.register(sock, selectors.EVENT_WRITE, [sock, requests.next(), started, bytearray()])

    def finish(conn, failed: bool) -> None:
        sel.unregister(conn[0])
        conn[0].close()
        ended = time.perf_counter()
        if record and ended <= deadline:
            if failed or len(conn[3]) < 12:
                run.failures += 1
            else:
                status = int(conn[3][9:12])
                run.statuses[status] = run.statuses.get(status, 0) + 1
                run.latencies.append(ended - conn[2])
        if ended < deadline:
            launch()

    for _ in range(clients):
        launch()
    while sel.get_map():
        for key, _events in sel.select():
            conn = key.data
            sock = conn[0]
            try:
                if conn[1]:
                    sent = sock.send(conn[1])
                    conn[1] = conn[1][sent:]
                    if not conn[1]:
                        sel.modify(sock, selectors.EVENT_READ, conn)
                    continue
                chunk = sock.recv(65536)
            except OSError:
                finish(conn, True)
                continue
            if chunk:
                conn[3] += chunk
            else:
                finish(conn, False)
    sel.close()
    return run


# --- CPU accounting ----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postmaster() -> int | None:
    """PostgreSQL's main process when it runs on this machine (its backends are its children)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def cpu_sample(gunicorn: int, postmaster: int | None, rds: redis.Redis) -> dict[str, float]:
    info = rds.info("cpu")
    return {
        "gunicorn": sum(_cpu_of(p) for p in _children(gunicorn)),
        "postgres": sum(_cpu_of(p) for p in _children(postmaster)) if postmaster else 0.0,
        "redis": info["used_cpu_user"] + info["used_cpu_sys"],
        "client": time.process_time(),
    }


# --- in-process counts -------------------------------------------------------------------------


@contextmanager
def redis_traffic():
    """Counts what redis-py sends while in the block: round trips (a pipeline
    or a script call is one) and connections opened."""
    seen = {"round_trips": 0, "connections": 0}
    send, handshake = AbstractConnection.send_packed_command, AbstractConnection.on_connect_check_health

    def counted_send(self, *args, **kwargs):
        seen["round_trips"] += 1
        return send(self, *args, **kwargs)

    def counted_handshake(self, *args, **kwargs):
        seen["connections"] += 1
        return handshake(self, *args, **kwargs)

    with (
        mock.patch.object(AbstractConnection, "send_packed_command", counted_send),
        mock.patch.object(AbstractConnection, "on_connect_check_health", counted_handshake),
    ):
        yield seen


LOCK_SAMPLES = 30


@contextmanager
def lock_timer():
    """How long each transaction holds the item's reservation row: from the
    statement that locks it (the conditional UPDATE, or SELECT … FOR UPDATE)
    to the end of the COMMIT. Every other claim of the item waits that long."""
    held: list[float] = []
    since: list[float] = []
    db = connections[DEFAULT_DB_ALIAS]
    commit = type(db).commit

    def locking(execute, sql, params, many, context):
        locks = sql.startswith('UPDATE "rewards_reservation"') or (
            'FROM "rewards_reservation"' in sql and sql.rstrip().endswith("FOR UPDATE")
        )
        if locks and not since:
            since.append(time.perf_counter())
        return execute(sql, params, many, context)

    def timed_commit(self, *args, **kwargs):
        result = commit(self, *args, **kwargs)
        if since:
            held.append(time.perf_counter() - since.pop())
        return result

    with db.execute_wrapper(locking), mock.patch.object(type(db), "commit", timed_commit):
        yield held


def count_in_process(refs: list[str]) -> None:
    """SQL queries and Redis round trips of one request of each claim variant
    (after one to warm the process's caches), through Django's test client;
    then, for the two stocked designs, how long one claim holds the item's
    row lock (the median of LOCK_SAMPLES claims in a row, nothing waiting)."""
    import claim_harness  # noqa: F401 (makes the harness the URLconf)

    clear_url_caches()
    # The sold-out answer's log line and the static files warning belong to the server's log, not here.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No directory at")
    client = Client()

    def post(requests: Requests):
        body, headers = requests.parts()
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        return client.generic("POST", requests.path, body, content_type="application/json", **extra)

    for variant in ("claim", "claim-sold-out", "claim-select-for-update"):
        # The first request warms the caches (and claims the sold-out campaign's only unit).
        requests = Requests(variant, refs, start=len(refs) // 2)
        post(requests)
        with CaptureQueriesContext(connection) as queries, redis_traffic() as traffic:
            response = post(requests)
        if response.status_code != EXPECTED[variant]:
            raise SystemExit(f"{variant}: {response.status_code} {response.content[:200]!r}")
        report(f"sql_queries[{variant}]", len(queries), "queries")
        report(f"redis_round_trips[{variant}]", traffic["round_trips"], "round trips")
        report(f"redis_connections_opened[{variant}]", traffic["connections"], "connections")
        if variant != "claim-sold-out":
            with lock_timer() as held:
                for _ in range(LOCK_SAMPLES):
                    post(requests)
            lock = percentile(held, 50) if held else 0.0
            report(f"row_lock_held[{variant}]", lock * 1000, "ms")
            if lock:
                report(f"row_lock_ceiling[{variant}]", 1 / lock, "claims/s")
            else:
                print(f"# {variant} locks no row: no per-item ceiling")


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(port: int, logdir: str) -> subprocess.Popen:
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
    }
    log = open(os.path.join(logdir, "gunicorn.log"), "w")  # noqa: SIM115 (the server's lifetime)
    server = subprocess.Popen(  # noqa: S603 (our own command line)
        [
            str(Path(sys.executable).with_name("gunicorn")), "--chdir", str(ROOT), "--pythonpath", "bench",
            "--workers", str(ARGS.workers), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
            "--backlog", "2048", "--worker-tmp-dir", logdir, "claim_harness:application",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: see {log.name}")
        if len(_children(server.pid)) == ARGS.workers and http_status(port, Requests("trivial", ["x"]).next()) == 200:
            return server
        time.sleep(0.2)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer: see {log.name}")


def http_status(port: int, request: bytes) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return None
    return int(data[9:12]) if len(data) >= 12 else None


# --- measuring ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def measure(variant: str, port: int, refs: list[str], gunicorn: int, postmaster: int | None, rds) -> float:
    requests = Requests(variant, refs)
    drive(port, requests, ARGS.warmup, clients=ARGS.clients, record=False)
    before = cpu_sample(gunicorn, postmaster, rds)
    run = drive(port, requests, ARGS.duration, clients=ARGS.clients, record=True)
    after = cpu_sample(gunicorn, postmaster, rds)
    done = len(run.latencies)
    rate = done / ARGS.duration
    expected = run.statuses.get(EXPECTED[variant], 0)
    report(f"rate[{variant}]", rate, "requests/s")
    report(f"p50[{variant}]", percentile(run.latencies, 50) * 1000, "ms")
    report(f"p99[{variant}]", percentile(run.latencies, 99) * 1000, "ms")
    report(f"errors[{variant}]", done - expected + run.failures, "requests")
    others = ", ".join(f"{status}: {n}" for status, n in sorted(run.statuses.items()) if status != EXPECTED[variant])
    if others:
        print(f"# {variant}: unexpected statuses {others}")
    for part in ("gunicorn", "postgres", "redis", "client"):
        report(f"cpu_per_request[{variant}:{part}]", (after[part] - before[part]) / max(done, 1) * 1000, "ms")
    # What the machine spends per request: on a machine shared with other work
    # this compares the designs more steadily than the rates do.
    spent = sum(after[part] - before[part] for part in after)
    report(f"cpu_per_request[{variant}:total]", spent / max(done, 1) * 1000, "ms")
    report(f"client_cpu[{variant}]", (after["client"] - before["client"]) / ARGS.duration * 100, "% of a core")
    return rate


def grant_queued() -> None:
    """What the background worker does after the claims (not during the
    measured runs: in production it runs on the worker hosts): grant every
    queued award, in this process, timed."""
    from campaigns.runtime import awards

    started = time.perf_counter()
    done = awards.awards_drain_all(batch=ARGS.grant_batch)
    seconds = time.perf_counter() - started
    report("awards_granted_after_the_run", done["granted"], "grants")
    report("awards_failed", done["failed"], "awards")
    if done["granted"]:
        report("grant_rate", done["granted"] / seconds, "grants/s (one process)")


def check(campaigns: dict[str, Campaign]) -> None:
    """No oversell and nothing lost: each stocked reservation holds its stock
    minus its awards, one grant per award at the same cost, and Redis agrees."""
    for variant in ("claim", "claim-select-for-update"):
        campaign = campaigns[variant]
        awards = Award.objects.filter(campaign=campaign).aggregate(n=Count("id"), cost=Sum("cost"))
        grants = Grant.objects.filter(source=f"campaign:{campaign.code}").aggregate(n=Count("id"), cost=Sum("cost"))
        count = awards["n"]
        left = Reservation.objects.get(source_ref__startswith=f"campaign:{campaign.code}:slot:").remaining
        assert left + count == ARGS.stock, f"{variant}: {left} left + {count} awards != {ARGS.stock}"
        assert awards == grants, f"{variant}: awards {awards} but grants {grants}"
        if variant == "claim":
            slot = state.cache.get(campaign.code).slots_of("item")[0]
            redis_left = int(counters.connection().hget(counters.stock_key(campaign.pk), str(slot.key)))
            assert redis_left == left, f"claim: Redis says {redis_left} left, the database {left}"
        report(f"claimed[{variant}]", count, "claims")
        if left == 0:
            print(f"# {variant}: sold out during the run; raise --stock")


def main() -> None:
    started = time.perf_counter()
    refs, campaigns = setup()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    report("setup_time", time.perf_counter() - started, "s")
    report("customers", len(refs), "customers")
    report("clients", ARGS.clients, "connections")
    report("workers", ARGS.workers, "processes")
    report("cores", os.cpu_count() or 1, "cores")
    count_in_process(refs)
    logdir = tempfile.mkdtemp(prefix="bench-claim-")
    port = free_port()
    server = gunicorn_start(port, logdir)
    try:
        sold_out = http_status(port, Requests("claim-sold-out", refs).next())
        assert sold_out == 409, f"the sold-out campaign answered {sold_out}"
        rds = redis.Redis.from_url(settings.REDIS_URL)
        postmaster = _postmaster()
        rates = {
            variant: measure(variant, port, refs, server.pid, postmaster, rds)
            for variant in VARIANTS
            if not ARGS.only or variant in ARGS.only.split(",")
        }
    finally:
        if not ARGS.keep_server:
            server.terminate()
            server.wait()
    if ARGS.keep_server:
        print(f"# gunicorn (pid {server.pid}) still serves 127.0.0.1:{port}; logs in {logdir}")
    else:
        shutil.rmtree(logdir)
    grant_queued()
    check(campaigns)
    for variant, baseline, target in TARGETS:
        if variant in rates and baseline in rates:
            # Two decimals: _setup.ratio's one would print a claim at 4 % of the trivial view as 0.0.
            print(f"ratio {variant} vs {baseline} = {rates[variant] / rates[baseline]:.2f} (target >= {target})")


main()
