"""Customer import rate: the real pipeline against row-by-row ORM writes.

Writes a customers CSV of ``--rows`` rows (default 1,000,000; GB18030, as Excel
on Chinese Windows saves it; three tags per row), then times the import the
way a user runs it: ``import_upload`` (which checks every row), ``import_confirm``
and the import job, with RQ running jobs inline so the figure is the work, not
the queue wait. The naive baseline imports ``--naive-rows`` rows one by one with
``update_or_create`` and ``get_or_create`` (no bitmap index, no preview) — what a
first version would do — and its rate is compared with the pipeline's.

Runs on its own database (see _setup.py): a temporary SQLite file, or
DATABASE_URL; ``bench/segments.py`` also calls ``run()`` on its filled
database, so the import lands in a bank that already has a million customers.
Needs REDIS_URL (the progress bar's counters live there).
"""

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _setup import ratio, report, setup_django

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=1_000_000)
parser.add_argument("--naive-rows", type=int, default=20_000)
parser.add_argument("--seed", type=int, default=7)


def write_csv(path: Path, n: int, branches: list[str], tags: list[str], seed: int, start: int = 0) -> None:
    rng = np.random.default_rng(seed)
    refs = np.char.add("I", np.char.zfill(np.arange(start, start + n).astype(str), 9))
    days = rng.integers(0, 5000, n)
    opened = (np.datetime64("2012-01-01") + days.astype("timedelta64[D]")).astype(str)
    phones = np.char.add("13", np.char.zfill(rng.integers(0, 10**9, n).astype(str), 9))
    tag_cols = rng.choice(len(tags), size=(n, 3))
    tag_text = ["{};{};{}".format(*(tags[i] for i in row)) for row in tag_cols]
    pd.DataFrame(
        {
            "customer_ref": refs,
            "name": np.char.add("客户", refs),
            "phone": phones,
            "branch_code": rng.choice(branches, n),
            "opened_on": opened,
            "tags": tag_text,
        }
    ).to_csv(path, index=False, encoding="gb18030")


def pipeline(path: Path, user) -> tuple[float, float, object]:
    from django.core.files import File

    from audiences.services import imports

    started = time.perf_counter()
    with path.open("rb") as fh:
        batch = imports.import_upload(user=user, uploaded_file=File(fh, name=path.name), kind="customers")
    batch.refresh_from_db()
    checked = time.perf_counter()
    imports.import_confirm(user=user, batch=batch)
    batch.refresh_from_db()
    return checked - started, time.perf_counter() - checked, batch


def naive(path: Path, n: int) -> float:
    """Row by row, as a first version would: one upsert and one query per tag."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Branch
    from audiences.models import Customer, CustomerTag, Tag

    frame = pd.read_csv(path, dtype=str, encoding="gb18030", nrows=n)
    branches = {b.code: b for b in Branch.objects.all()}
    tags = {t.code: t for t in Tag.objects.all()}
    started = time.perf_counter()
    with transaction.atomic():
        for row in frame.itertuples(index=False):
            customer, _ = Customer.objects.update_or_create(
                customer_ref=row.customer_ref,
                defaults={
                    "name": row.name,
                    "phone": row.phone,
                    "branch": branches[row.branch_code],
                    "opened_on": dt.date.fromisoformat(row.opened_on),
                },
            )
            for code in row.tags.split(";"):
                CustomerTag.objects.get_or_create(
                    customer=customer, tag=tags[code], defaults={"since": timezone.now(), "source": "import"}
                )
    return time.perf_counter() - started


def run(*, rows: int, naive_rows: int, seed: int = 7) -> None:
    """Print the import figures; Django must be set up (by main() or a caller)."""
    from django.conf import settings

    from accounts import services as accounts_services
    from accounts.models import Branch, Role, User
    from audiences.models import ImportStatus, Tag, TagCategory

    # Jobs run inline: the figure is the import's own work.
    settings.RQ_QUEUES = {name: {**conf, "ASYNC": False} for name, conf in settings.RQ_QUEUES.items()}
    settings.IMPORT_MAX_BYTES = 10**10
    root = Branch.objects.filter(parent__isnull=True).first() or accounts_services.branch_create(
        actor=None, code="HO", name="HO", parent=None
    )
    codes = [root.code] + [
        accounts_services.branch_create(actor=None, code=f"IMP{i}", name=f"IMP{i}", parent=root).code
        for i in range(8)
    ]
    category = TagCategory.objects.create(code="bench_import", name_zh="导入基准", name_en="import bench")
    tags = [
        Tag.objects.create(code=f"IMP_T{i:03d}", name_zh=f"T{i}", name_en=f"T{i}", category=category, owner_branch=root).code
        for i in range(300)
    ]
    user = User.objects.create(username="bench-importer", branch=root, role=Role.HEAD_OFFICE_ADMIN)

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    settings.MEDIA_ROOT = work / "media"
    big, small = work / "customers.csv", work / "naive.csv"
    write_csv(big, rows, codes, tags, seed)
    write_csv(small, naive_rows, codes, tags, seed + 1, start=10**8)

    check_s, run_s, batch = pipeline(big, user)
    assert batch.status == ImportStatus.DONE, (batch.status, batch.failure, batch.errors[:3])
    rerun_check_s, rerun_s, again = pipeline(big, user)
    assert again.summary.get("unchanged") == rows, again.summary
    naive_s = naive(small, naive_rows)

    report("import_rows", rows, "rows")
    report("import_file_size", big.stat().st_size / 2**20, "MB")
    report("import_check_time", check_s, "s")
    report("import_write_time", run_s, "s")
    rate = rows / (check_s + run_s)
    report("import_rate", rate, "rows/s")
    report("reimport_unchanged_time", rerun_check_s + rerun_s, "s")
    naive_rate = naive_rows / naive_s
    report("import_naive_rate", naive_rate, "rows/s")
    ratio("import pipeline/naive", rate / naive_rate, 5)


def main() -> None:
    args = parser.parse_args()
    setup_django()
    run(rows=args.rows, naive_rows=args.naive_rows, seed=args.seed)


if __name__ == "__main__":
    main()
