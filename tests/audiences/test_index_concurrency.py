"""Concurrent writers on PostgreSQL: the bitmap index still equals the rows.

Real processes, real PostgreSQL: each worker adds and removes the same few tags
for overlapping customers and moves customers between branches, all at once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from audiences import bitmaps
from audiences.models import Customer, CustomerTag

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL with many processes"),
]

WORKER = r"""
import json, random, sys
import django
django.setup()
from audiences import services
from audiences.models import Customer, Tag, TagSource
args = json.loads(sys.argv[1])
rnd = random.Random(args["seed"])
tags = list(Tag.objects.filter(code__in=args["tags"]))
customers = list(Customer.objects.values_list("pk", "customer_ref", "name", "phone", "opened_on"))
for _ in range(args["rounds"]):
    tag = rnd.choice(tags)
    ids = [c[0] for c in rnd.sample(customers, 15)]
    if rnd.random() < 0.55:
        services.customer_tags_add(tag=tag, customer_ids=ids, source=TagSource.RULE, source_ref="w")
    else:
        services.customer_tags_remove(tag=tag, customer_ids=ids)
    if rnd.random() < 0.3:
        moved = rnd.sample(customers, 5)
        branch = rnd.choice(args["branches"])
        services.customers_upsert(
            rows=[services.CustomerRow(c[1], c[2], c[3], branch, c[4]) for c in moved], source_ref="w"
        )
print("ok")
"""


def database_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_taggers_and_movers_leave_the_index_equal_to_the_rows(tree, make_customers, make_tag):
    tags = [make_tag(f"C{i}") for i in range(3)]
    make_customers(60, tree.bj)
    make_customers(60, tree.sh, start=100)
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    args = {"tags": [t.code for t in tags], "rounds": 40, "branches": [tree.bj.pk, tree.sh.pk, tree.hd.pk]}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps({**args, "seed": seed})],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for seed in range(4)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
    bitmaps.cache.clear()
    for tag in tags:
        rows = set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
        key = bitmaps.tag_key(tag.pk)
        assert set(bitmaps.get_many([key])[key]) == rows
    for branch in (tree.bj, tree.sh, tree.hd):
        key = bitmaps.branch_key(branch.pk)
        assert set(bitmaps.get_many([key])[key]) == set(Customer.objects.filter(branch=branch).values_list("pk", flat=True))
