"""Personas (DESIGN.md §1) on a small branch tree, plus an outsider in a sibling branch.

    HO (head office)
    ├── BJ (Beijing)          ← the branch under test
    │   └── BJ-HD (Haidian)   ← its sub-branch
    └── SH (Shanghai)         ← the sibling: everything here is out of BJ's scope
"""

import contextlib
import datetime as dt
import os
import shutil
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings

from accounts import services
from accounts.models import Role
from audiences import bitmaps
from audiences import services as audience_services
from audiences.models import Customer, Tag, TagCategory
from tests.factories import PASSWORD, UserFactory

# Playwright's sync API runs an event loop in the test thread; Django's async guard
# would refuse ORM calls in live_server setup without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def tree(db):
    ho = services.branch_create(actor=None, code="HO", name="Head office", parent=None)
    bj = services.branch_create(actor=None, code="BJ", name="Beijing", parent=ho)
    hd = services.branch_create(actor=None, code="BJ-HD", name="Haidian", parent=bj)
    sh = services.branch_create(actor=None, code="SH", name="Shanghai", parent=ho)
    return SimpleNamespace(ho=ho, bj=bj, hd=hd, sh=sh)


@pytest.fixture
def personas(tree):
    def make(username, role, branch):
        return UserFactory(username=username, role=role, branch=branch)

    return SimpleNamespace(
        ho_admin=make("ho_admin", Role.HEAD_OFFICE_ADMIN, tree.ho),
        branch_admin=make("bj_admin", Role.BRANCH_ADMIN, tree.bj),
        operator=make("bj_operator", Role.OPERATOR, tree.bj),
        reviewer=make("bj_reviewer", Role.REVIEWER, tree.bj),
        analyst=make("bj_analyst", Role.ANALYST, tree.bj),
        sub_admin=make("hd_admin", Role.BRANCH_ADMIN, tree.hd),
        outsider=make("sh_admin", Role.BRANCH_ADMIN, tree.sh),
        password=PASSWORD,
    )


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.fixture(autouse=True)
def _fresh_bitmap_cache():
    # Each test has its own database; a cached bitmap from another test's rows must not leak in.
    bitmaps.cache.clear()
    yield
    bitmaps.cache.clear()


def _forget_queued_grants() -> None:
    from rewards.services import delivery

    with contextlib.suppress(redis.RedisError):  # tests that need Redis fail on their own
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).delete(delivery.QUEUE_KEY, delivery.DRAIN_FLAG)


def _forget_runtime() -> None:
    from campaigns.api import auth
    from campaigns.runtime import counters, state

    state.cache.clear()
    auth.channels.clear()
    with contextlib.suppress(redis.RedisError):
        conn = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
        keys = list(conn.scan_iter(match=f"{counters.PREFIX}*", count=1000))
        if keys:
            conn.delete(*keys)


@pytest.fixture(autouse=True)
def _no_runtime_state_across_tests():
    # Campaign ids, channel keys and customer ids repeat across test databases:
    # counters, cached answers and compiled campaigns must not leak between tests.
    _forget_runtime()
    yield
    _forget_runtime()


@pytest.fixture(autouse=True)
def _no_grants_queued_across_tests():
    # Grant ids one test queued for delivery (on commit) must not be delivered in
    # another test's database, where the same ids may name other grants.
    _forget_queued_grants()
    yield
    _forget_queued_grants()


@pytest.fixture
def category(db):
    return TagCategory.objects.create(code="assets", name_zh="资产", name_en="Assets", order=1)


@pytest.fixture
def make_tag(tree, category):
    def make(code, owner=None, **extra):
        return Tag.objects.create(
            code=code, name_zh=code, name_en=code, category=category, owner_branch=owner or tree.ho, **extra
        )

    return make


@pytest.fixture
def make_customers():
    """Customers through the upsert service, so the bitmap index is real."""

    def make(n, branch, *, start=0, opened_on=dt.date(2024, 1, 15), tags=(), prefix="C"):
        rows = [
            audience_services.CustomerRow(
                customer_ref=f"{prefix}{start + i:06d}",
                name=f"Customer {start + i}",
                phone=f"138{start + i:08d}",
                branch_id=branch.pk,
                opened_on=opened_on,
                tag_ids=tuple(t.pk for t in tags),
            )
            for i in range(n)
        ]
        audience_services.customers_upsert(rows=rows, source_ref="test")
        return list(Customer.objects.filter(customer_ref__in=[r.customer_ref for r in rows]).order_by("pk"))

    return make
