"""Imports in Chromium, with a real rq worker: upload a GB18030 CSV, watch it
checked, confirm, watch it imported, download the result report."""

import csv
import io
import signal

import django_rq
import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from rq import SimpleWorker
from rq.job import Job, JobStatus

from audiences.models import Customer, ImportBatch, ImportStatus
from audiences.services.imports import uploading

pytestmark = pytest.mark.e2e

ROWS = [
    ["customer_ref", "name", "phone", "branch_code", "opened_on", "tags"],
    ["C000001", "张伟", "13800000001", "BJ", "2024-01-15", ""],
    ["C000002", "王芳", "138 0000 0002", "BJ", "2024/2/3", ""],
    ["C000003", "李娜", "", "BJ-HD", "2023-12-31", ""],
]


@pytest.fixture
def queue(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Jobs wait in the real Redis (REDIS_URL) until the test runs a worker.
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "DEFAULT_TIMEOUT": 600}}
    # Small files are checked within the upload; this one goes the way a large
    # file goes (stored, then checked by a job) so the test stays quick.
    monkeypatch.setattr(uploading, "CHECK_INLINE_MAX_BYTES", 0)
    return django_rq.get_queue("default")


def run_worker(queue, job_id: str) -> None:
    """``rqworker --burst`` in this thread (which shares the live server's
    database), then proof that it ran the batch's job."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert Job.fetch(job_id, connection=queue.connection).get_status() == JobStatus.FINISHED


def gb18030_csv() -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(ROWS)
    return out.getvalue().encode("gb18030")


def test_branch_admin_uploads_checks_imports_and_downloads_the_report(
    live_server, browser_login, page: Page, personas, queue
):
    browser_login("bj_admin", reverse("audiences:import_new"))

    page.locator("#id_kind").select_option("customers")
    page.locator("#id_file").set_input_files(
        files=[{"name": "客户.csv", "mimeType": "text/csv", "buffer": gb18030_csv()}]
    )
    page.locator("#import-form").get_by_role("button", name="Upload and check").click()

    batch = ImportBatch.objects.get()
    expect(page).to_have_url(f"{live_server.url}{reverse('audiences:import_detail', args=[batch.pk])}")
    expect(page.locator("h1")).to_contain_text("客户.csv")
    expect(page.locator("#import-status [data-status]")).to_have_attribute("data-status", "checking")
    expect(page.get_by_role("progressbar", name="Check progress")).to_be_visible()
    expect(page.locator("#import-progress-bar")).to_have_text("Waiting for a worker…")
    expect(page.locator("#import-preview")).to_have_count(0)
    # From here on the page must change by htmx alone, never by loading again.
    page.evaluate("window.notReloaded = true")

    run_worker(queue, batch.job_id)
    expect(page.locator('#import-preview [data-count="new"]')).to_have_text("3")
    expect(page.locator('#import-preview [data-count="error_rows"]')).to_have_text("0")
    expect(page.locator("#import-status [data-status]")).to_have_attribute("data-status", "validated")
    assert not Customer.objects.exists()

    page.locator("#confirm-form").get_by_role("button", name="Import 3 rows").click()
    expect(page.locator("#import-status [data-status]")).to_have_attribute("data-status", "queued")
    expect(page.get_by_role("progressbar", name="Import progress")).to_be_visible()
    expect(page.locator("#import-progress-bar")).to_have_text("Waiting for a worker…")
    batch.refresh_from_db()
    assert batch.status == ImportStatus.QUEUED

    run_worker(queue, batch.job_id)
    expect(page.locator("#import-progress-bar")).to_have_text("imported")
    expect(page.locator('#import-result [data-result="created"]')).to_have_text("3")
    assert page.evaluate("window.notReloaded") is True
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(["张伟", "王芳", "李娜"])

    with page.expect_download() as download_info:
        page.locator("#report-link").click()
    download = download_info.value
    assert download.suggested_filename == f"import-{batch.pk}-report.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as fh:
        report = list(csv.DictReader(fh))
    assert [(r["customer_ref"], r["outcome"]) for r in report] == [
        ("C000001", "created"), ("C000002", "created"), ("C000003", "created"),
    ]
