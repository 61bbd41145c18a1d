"""Branch scope: the materialised-path subtree query against a naive tree walk.

Builds a tree of 3,906 branches (head office, fan-out 5, five levels) and asks,
for every branch at level 1 and 2, for its whole subtree: once with the one
prefix query `visible_to` uses, once walking children level by level (one query
per node, what a plain parent pointer needs without recursive SQL).
"""

import statistics
import time

from _setup import ratio, report, setup_django

setup_django()

from django.db import transaction  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import Branch, Role, User  # noqa: E402

FANOUT, LEVELS = 5, 5


def build_tree() -> None:
    with transaction.atomic():
        root = services.branch_create(actor=None, code="HO", name="HO", parent=None)
        frontier = [root]
        for _ in range(LEVELS):
            nxt = []
            for parent in frontier:
                for i in range(FANOUT):
                    code = f"{parent.code}-{i}"
                    nxt.append(services.branch_create(actor=None, code=code, name=code, parent=parent))
            frontier = nxt


def subtree_by_path(branch: Branch) -> set[int]:
    user = User(username="x", branch=branch, role=Role.ANALYST, is_active=True)
    return set(Branch.objects.visible_to(user).values_list("pk", flat=True))


def subtree_naive(branch: Branch) -> set[int]:
    found, stack = {branch.pk}, [branch.pk]
    while stack:
        children = list(Branch.objects.filter(parent_id=stack.pop()).values_list("pk", flat=True))
        found.update(children)
        stack.extend(children)
    return found


def main() -> None:
    build_tree()
    targets = list(Branch.objects.filter(code__regex=r"^HO-\d(-\d)?$"))
    fast, naive = [], []
    for branch in targets:
        t0 = time.perf_counter()
        a = subtree_by_path(branch)
        t1 = time.perf_counter()
        b = subtree_naive(branch)
        t2 = time.perf_counter()
        assert a == b, branch.code
        fast.append(t1 - t0)
        naive.append(t2 - t1)
    report("branches", Branch.objects.count(), "branches")
    report("subtree_path_median", statistics.median(fast) * 1000, "ms")
    report("subtree_naive_median", statistics.median(naive) * 1000, "ms")
    ratio("subtree naive/path", statistics.median(naive) / statistics.median(fast), 10)


main()
