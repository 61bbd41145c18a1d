"""Customer and tag-assignment imports: upload → preview → confirm → job → report."""

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

import django_rq
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.utils import now as rq_now

from accounts.models import AuditEntry
from audiences import bitmaps, selectors
from audiences.models import (
    BitmapIndex,
    Customer,
    CustomerTag,
    ImportBatch,
    ImportKind,
    ImportStatus,
    TagSource,
)
from audiences.services import imports
from audiences.services.imports import checking, reading, running, uploading

HEADER = ["customer_ref", "name", "phone", "branch_code", "opened_on", "tags"]


@pytest.fixture(autouse=True)
def _media_and_inline_jobs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The job really runs, inside enqueue(), against the real Redis of REDIS_URL.
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "ASYNC": False}}
    # Messages are asserted in English; the job speaks the uploader's language.
    with translation.override("en"):
        yield


@pytest.fixture
def rq_job():
    """A job in the real Redis, left in ``status`` as a worker would leave it."""
    made = []

    def make(status, *, timeout=600, started_at=None):
        job = Job.create(
            "audiences.jobs.import_run", args=(0,), connection=django_rq.get_connection("default"), timeout=timeout
        )
        job.started_at = started_at or rq_now()
        job.save()
        job.set_status(status)
        made.append(job)
        return job

    yield make
    for job in made:
        job.delete()


def csv_bytes(rows, *, encoding="utf-8", header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, *, header=HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload_file(user, content, *, name="customers.csv", kind=ImportKind.CUSTOMERS):
    return imports.import_upload(user=user, uploaded_file=SimpleUploadedFile(name, content), kind=kind)


def confirm_and_run(user, batch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_confirm(user=user, batch=batch)
    batch.refresh_from_db()
    return batch


def index_of(key):
    bitmaps.cache.clear()
    return set(bitmaps.get_many([key])[key])


def report_of(batch):
    with batch.report.open("rb") as fh:
        text = fh.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def three_customers(branch="BJ", tags="", sub_branch="BJ-HD"):
    return [
        ["C000001", "张伟", "13800000001", branch, "2024-01-15", tags],
        ["C000002", "王芳", "138 0000 0002", branch, "2024/2/3", ""],
        ["C000003", "李娜", "", sub_branch, "2023-12-31", ""],
    ]


# ------------------------------------------------------------ encodings and formats


def test_a_utf8_customer_file_is_previewed_with_counts_and_writes_nothing(personas, tree):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    assert batch.status == ImportStatus.VALIDATED
    assert batch.branch == tree.bj and batch.total_rows == 3 and batch.error_count == 0
    assert batch.summary["rows"] == 3
    assert (batch.summary["new"], batch.summary["updated"], batch.summary["unchanged"]) == (3, 0, 0)
    assert not Customer.objects.exists()


def test_a_utf8_file_with_bom_is_read(personas):
    batch = upload_file(personas.operator, b"\xef\xbb\xbf" + csv_bytes(three_customers()))
    assert batch.status == ImportStatus.VALIDATED and batch.summary["new"] == 3


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_a_chinese_windows_excel_csv_keeps_the_chinese_names(personas, encoding, django_capture_on_commit_callbacks):
    batch = upload_file(personas.operator, csv_bytes(three_customers(), encoding=encoding))
    assert batch.status == ImportStatus.VALIDATED, batch.errors
    confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(["张伟", "王芳", "李娜"])


def test_an_xlsx_workbook_with_numbers_and_date_cells_is_read(personas, django_capture_on_commit_callbacks):
    rows = [
        ["C000001", "张伟", 13800000001, "BJ", dt.date(2024, 1, 15), None],
        ["C000002", "王芳", "13800000002", "BJ", dt.datetime(2024, 2, 3), ""],
    ]
    batch = upload_file(personas.operator, xlsx_bytes(rows), name="客户.xlsx")
    assert batch.status == ImportStatus.VALIDATED, batch.errors
    assert batch.original_name == "客户.xlsx"
    confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    customer = Customer.objects.get(customer_ref="C000001")
    assert (customer.phone, customer.opened_on) == ("13800000001", dt.date(2024, 1, 15))


def test_row_numbers_are_those_excel_shows_even_after_blank_lines(personas):
    content = csv_bytes(three_customers()) + b"\r\n\r\n" + csv_bytes([["C000009", "", "", "BJ", "2024-01-01", ""]], header=None)
    batch = upload_file(personas.operator, content)
    # header = row 1, three customers = rows 2-4, two blank lines = rows 5-6.
    assert batch.errors == [{"row": 7, "column": "name", "message": "Required."}]


# ------------------------------------------------------------------- bad files


def _zip_without_workbook():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


BAD_FILES = {
    "garbage bytes": ("customers.csv", bytes(range(128, 256)) * 40, "UTF-8 or GB18030"),
    "binary with NUL": ("customers.csv", b"customer_ref,name\x00\x01\x02,phone\n", "binary"),
    "wrong columns": ("customers.csv", csv_bytes([["1", "2"]], header=["id", "full_name"]), "Missing columns"),
    "unknown column": ("customers.csv", csv_bytes([[*three_customers()[0], "x"]], header=[*HEADER, "remark"]), "Unknown columns: remark"),
    "duplicate column": ("customers.csv", csv_bytes([[*three_customers()[0], "x"]], header=[*HEADER, "name"]), "more than once"),
    "semicolons": ("customers.csv", ";".join(HEADER).encode() + b"\r\nC1;x;;BJ;2024-01-01;\r\n", "commas"),
    "empty": ("customers.csv", b"", "empty"),
    "only blank lines": ("customers.csv", b"\r\n \r\n,,,\r\n", "empty"),
    "header only": ("customers.csv", csv_bytes([]), "no data rows"),
    "xlsx that is not a zip": ("customers.xlsx", csv_bytes(three_customers()), "not an Excel workbook"),
    "zip that is not a workbook": ("customers.xlsx", _zip_without_workbook(), "not an Excel workbook"),
    "xlsx named csv": ("customers.csv", xlsx_bytes(three_customers()), ".xlsx"),
    "utf-16 text": ("customers.csv", csv_bytes(three_customers(), encoding="utf-16"), "UTF-16"),
    "unsupported extension": ("customers.xls", csv_bytes(three_customers()), ".csv or .xlsx"),
    "ragged csv": ("customers.csv", csv_bytes([[*three_customers()[0], "x", "y"]]), "could not be read"),
}


@pytest.mark.parametrize("case", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_with_a_clear_message_and_nothing_written(personas, case):
    name, content, expected = case
    with pytest.raises(ValidationError) as caught:
        upload_file(personas.operator, content, name=name)
    assert expected in " ".join(caught.value.messages)
    assert not ImportBatch.objects.exists() and not Customer.objects.exists()


def test_an_oversize_file_is_refused(personas, settings):
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ValidationError) as caught:
        upload_file(personas.operator, csv_bytes(three_customers()))
    assert "largest file" in caught.value.messages[0]
    assert not ImportBatch.objects.exists()


def test_a_bad_file_shows_its_message_on_the_upload_form(login, personas):
    client = login(personas.operator)
    upload = SimpleUploadedFile("customers.csv", b"\x00\x01garbage")
    response = client.post(reverse("audiences:import_new"), {"kind": "customers", "file": upload})
    assert response.status_code == 200
    assert "binary" in " ".join(response.context["form"].errors["file"])
    assert not ImportBatch.objects.exists()


# -------------------------------------------------------------------- row errors


def test_row_errors_name_the_row_column_and_problem_and_block_the_import(personas, make_customers, tree, make_tag):
    make_tag("VIP")
    make_customers(1, tree.sh, prefix="SH")  # SH000000, outside Beijing's scope
    rows = [
        ["C000001", "张伟", "13800000001", "BJ", "2024-13-01", ""],  # bad date
        ["C000002", "王芳", "12345", "BJ", "2024-01-01", ""],  # bad phone
        ["C000003", "李娜", "", "SH", "2024-01-01", ""],  # branch outside scope
        ["C000004", "刘洋", "", "BJ", "2024-01-01", "VIP;NOPE"],  # unknown tag
        ["C000005", "陈静", "", "BJ", "2024-01-01", ""],
        ["C000005", "陈静", "", "BJ", "2024-01-01", ""],  # duplicate ref
        ["SH000000", "Moved", "", "BJ", "2024-01-01", ""],  # someone else's customer
        ["bad ref!", "X", "", "BJ", "2099-01-01", ""],  # malformed ref and future date
        ["C000009", "OK", "010-12345678", "BJ-HD", "20240101", "VIP"],
    ]
    batch = upload_file(personas.operator, csv_bytes(rows))
    assert batch.status == ImportStatus.INVALID
    found = {(e["row"], e["column"]) for e in batch.errors}
    assert found == {
        (2, "opened_on"), (3, "phone"), (4, "branch_code"), (5, "tags"), (6, "customer_ref"),
        (7, "customer_ref"), (8, "customer_ref"), (9, "customer_ref"), (9, "opened_on"),
    }
    assert batch.error_count == 9 and batch.summary["error_rows"] == 8 and batch.summary["new"] == 1
    messages = {(e["row"], e["column"]): e["message"] for e in batch.errors}
    assert "2024-13-01" in messages[2, "opened_on"]
    assert "NOPE" in messages[5, "tags"] and "VIP" not in messages[5, "tags"]
    assert "first at row 6" in messages[7, "customer_ref"]
    assert "outside your scope" in messages[4, "branch_code"]
    with pytest.raises(ValidationError):
        imports.import_confirm(user=personas.operator, batch=batch)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.INVALID and not batch.job_id
    assert Customer.objects.count() == 1


def test_only_the_first_200_errors_are_kept_but_all_are_counted_and_reported(personas):
    rows = [[f"C{i:06d}", f"N{i}", "", "BJ", "not-a-date", ""] for i in range(250)]
    batch = upload_file(personas.operator, csv_bytes(rows))
    assert batch.error_count == 250 and len(batch.errors) == 200
    assert [e["row"] for e in batch.errors] == list(range(2, 202))
    report = report_of(batch)
    assert len(report) == 250 and report[-1]["row"] == "251" and report[0]["outcome"] == "error"


def test_a_report_cell_that_looks_like_a_formula_is_defused(personas):
    batch = upload_file(personas.operator, csv_bytes([["=HYPERLINK(1)", "X", "", "BJ", "2024-01-01", ""]]))
    assert report_of(batch)[0]["customer_ref"] == "'=HYPERLINK(1)"


# ------------------------------------------------------------- confirm and run


def test_confirm_runs_the_job_and_writes_customers_tags_and_the_index(
    personas, tree, make_tag, django_capture_on_commit_callbacks
):
    vip = make_tag("VIP")
    batch = upload_file(personas.operator, csv_bytes(three_customers(tags="VIP")))
    assert batch.summary["tags_new"] == 1
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.DONE, batch.failure
    assert batch.started_at and batch.finished_at and batch.finished_at >= batch.started_at
    assert batch.summary["result"] == {"created": 3, "updated": 0, "unchanged": 0, "tags_added": 1}
    customers = {c.customer_ref: c for c in Customer.objects.all()}
    assert customers["C000002"].phone == "13800000002"  # spaces dropped
    assert customers["C000002"].opened_on == dt.date(2024, 2, 3)
    assert index_of(bitmaps.branch_key(tree.bj.pk)) == {customers["C000001"].pk, customers["C000002"].pk}
    assert index_of(bitmaps.branch_key(tree.hd.pk)) == {customers["C000003"].pk}
    assert index_of("month:2024-01") == {customers["C000001"].pk}
    assert index_of(bitmaps.tag_key(vip.pk)) == {customers["C000001"].pk}
    tag_row = CustomerTag.objects.get()
    assert (tag_row.source, tag_row.source_ref) == (TagSource.IMPORT, f"import:{batch.pk}")
    actions = list(AuditEntry.objects.filter(object_id=str(batch.pk), action__startswith="import.").values_list("action", "actor"))
    assert sorted(actions) == [("import.confirm", personas.operator.pk), ("import.done", None)]
    report = report_of(batch)
    assert [(r["row"], r["customer_ref"], r["outcome"]) for r in report] == [
        ("2", "C000001", "created"), ("3", "C000002", "created"), ("4", "C000003", "created"),
    ]


def test_reimporting_the_same_file_changes_nothing_and_says_unchanged(
    personas, django_capture_on_commit_callbacks, make_tag
):
    make_tag("VIP")
    content = csv_bytes(three_customers(tags="VIP"))
    first = confirm_and_run(personas.operator, upload_file(personas.operator, content), django_capture_on_commit_callbacks)
    before = list(Customer.objects.values_list("pk", "updated_at").order_by("pk"))
    versions = dict(BitmapIndex.objects.values_list("key", "version"))
    again = upload_file(personas.operator, content)
    assert (again.summary["new"], again.summary["updated"], again.summary["unchanged"]) == (0, 0, 3)
    assert again.summary["tags_new"] == 0 and again.summary["same_as"] == first.pk
    again = confirm_and_run(personas.operator, again, django_capture_on_commit_callbacks)
    assert again.status == ImportStatus.DONE
    assert again.summary["result"] == {"created": 0, "updated": 0, "unchanged": 3, "tags_added": 0}
    assert list(Customer.objects.values_list("pk", "updated_at").order_by("pk")) == before
    assert dict(BitmapIndex.objects.values_list("key", "version")) == versions
    assert {r["outcome"] for r in report_of(again)} == {"unchanged"}


def test_changed_rows_are_updated_and_moved_in_the_index(
    personas, tree, make_customers, django_capture_on_commit_callbacks
):
    (customer,) = make_customers(1, tree.bj)
    rows = [[customer.customer_ref, "New name", customer.phone, "BJ-HD", "2024-01-15", ""]]
    batch = upload_file(personas.operator, csv_bytes(rows))
    assert (batch.summary["new"], batch.summary["updated"]) == (0, 1)
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    customer.refresh_from_db()
    assert (customer.name, customer.branch_id) == ("New name", tree.hd.pk)
    assert customer.pk in index_of(bitmaps.branch_key(tree.hd.pk))
    assert customer.pk not in index_of(bitmaps.branch_key(tree.bj.pk))
    (line,) = report_of(batch)
    assert line["outcome"] == "updated" and "name" in line["message"] and "branch" in line["message"]


def test_a_failure_mid_import_writes_nothing_and_marks_the_batch_failed(
    personas, tree, make_customers, monkeypatch, django_capture_on_commit_callbacks
):
    (existing,) = make_customers(1, tree.bj)
    rows = [*three_customers(), [existing.customer_ref, "Renamed", "", "BJ", "2024-01-15", ""]]
    batch = upload_file(personas.operator, csv_bytes(rows))
    versions = dict(BitmapIndex.objects.values_list("key", "version"))

    def explode(*args, **kwargs):
        # Customers and bitmaps are written by now; the report is the last step.
        assert Customer.objects.count() == 4
        raise OSError("disk full")

    monkeypatch.setattr(running, "save_report", explode)
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.FAILED and "disk full" in batch.failure and batch.finished_at
    assert list(Customer.objects.values_list("customer_ref", "name")) == [(existing.customer_ref, existing.name)]
    assert dict(BitmapIndex.objects.values_list("key", "version")) == versions
    assert AuditEntry.objects.filter(action="import.failed", object_id=str(batch.pk)).exists()
    assert not AuditEntry.objects.filter(action="import.done").exists()


def test_the_job_checks_again_and_refuses_what_changed_since_the_preview(
    personas, tree, make_customers, django_capture_on_commit_callbacks
):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    make_customers(1, tree.sh, start=2)  # C000002 now exists in Shanghai
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.FAILED
    assert "row 3" in batch.failure and "outside your scope" in batch.failure
    assert Customer.objects.get().branch == tree.sh
    assert Customer.objects.count() == 1


def test_the_job_runs_once_only_and_never_for_an_unconfirmed_batch(
    personas, django_capture_on_commit_callbacks, monkeypatch
):
    from audiences import jobs

    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    jobs.import_run(batch.pk)  # not confirmed: nothing happens
    batch.refresh_from_db()
    assert batch.status == ImportStatus.VALIDATED and not Customer.objects.exists()
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    finished = batch.finished_at

    def must_not_run(*args, **kwargs):
        raise AssertionError("imported twice")

    monkeypatch.setattr(running, "_execute", must_not_run)
    jobs.import_run(batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.DONE and batch.finished_at == finished
    assert Customer.objects.count() == 3


def test_a_batch_is_confirmed_once(personas, django_capture_on_commit_callbacks):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError):
        imports.import_confirm(user=personas.branch_admin, batch=batch)
    assert AuditEntry.objects.filter(action="import.confirm").count() == 1


def test_the_job_records_its_progress_in_redis(personas, django_capture_on_commit_callbacks):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    raw = django_rq.get_connection("default").get(selectors.import_progress_key(batch))
    assert json.loads(raw)["phase"] == "report"


# ------------------------------------------------------------------- tag files


def tag_rows(tag):
    return set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))


def test_a_tag_file_adds_and_removes_and_keeps_the_index_in_step(
    personas, tree, make_customers, make_tag, django_capture_on_commit_callbacks
):
    vip, payroll = make_tag("VIP"), make_tag("PAYROLL")
    customers = make_customers(4, tree.bj, tags=[payroll])
    refs = [c.customer_ref for c in customers]
    rows = [
        [refs[0], "VIP", ""],
        [refs[1], "VIP", "add"],
        [refs[2], "PAYROLL", "remove"],
        [refs[3], "PAYROLL", "REMOVE"],
        [refs[0], "PAYROLL", "add"],  # already has it
    ]
    header = ["customer_ref", "tag_code", "action"]
    batch = upload_file(personas.operator, csv_bytes(rows, header=header), name="tags.csv", kind=ImportKind.TAGS)
    assert batch.status == ImportStatus.VALIDATED, batch.errors
    summary = batch.summary
    assert (summary["add"], summary["remove"], summary["unchanged"]) == (2, 2, 1)
    per_tag = {t["code"]: t for t in summary["tags"]}
    assert per_tag["VIP"] == {**per_tag["VIP"], "add": 2, "remove": 0, "added": 2, "removed": 0}
    assert per_tag["PAYROLL"] == {**per_tag["PAYROLL"], "add": 1, "remove": 2, "added": 0, "removed": 2}
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.DONE, batch.failure
    assert batch.summary["result"] == {"added": 2, "removed": 2, "unchanged": 1}
    ids = [c.pk for c in customers]
    assert tag_rows(vip) == index_of(bitmaps.tag_key(vip.pk)) == {ids[0], ids[1]}
    assert tag_rows(payroll) == index_of(bitmaps.tag_key(payroll.pk)) == {ids[0], ids[1]}
    assert [r["outcome"] for r in report_of(batch)] == ["added", "added", "removed", "removed", "unchanged"]


def test_a_tag_file_without_an_action_column_adds(personas, tree, make_customers, make_tag):
    make_tag("VIP")
    (customer,) = make_customers(1, tree.bj)
    content = csv_bytes([[customer.customer_ref, "VIP"]], header=["customer_ref", "tag_code"])
    batch = upload_file(personas.operator, content, name="tags.csv", kind=ImportKind.TAGS)
    assert batch.summary["add"] == 1


def test_a_tag_file_refuses_customers_and_tags_outside_the_scope(personas, tree, make_customers, make_tag):
    make_tag("VIP")
    make_tag("SH_ONLY", owner=tree.sh)
    make_tag("OLD", is_active=False)
    (mine,) = make_customers(1, tree.bj)
    (theirs,) = make_customers(1, tree.sh, prefix="SH")
    rows = [
        [theirs.customer_ref, "VIP", "add"],  # customer outside scope
        ["C999999", "VIP", "add"],  # unknown customer
        [mine.customer_ref, "SH_ONLY", "add"],  # another branch's tag
        [mine.customer_ref, "OLD", "add"],  # inactive tag
        [mine.customer_ref, "VIP", "toggle"],  # bad action
        [mine.customer_ref, "VIP", "add"],
        [mine.customer_ref, "VIP", "remove"],  # the same pair twice
    ]
    header = ["customer_ref", "tag_code", "action"]
    batch = upload_file(personas.operator, csv_bytes(rows, header=header), name="tags.csv", kind=ImportKind.TAGS)
    assert batch.status == ImportStatus.INVALID
    found = {(e["row"], e["column"]) for e in batch.errors}
    assert found == {
        (2, "customer_ref"), (3, "customer_ref"), (4, "tag_code"), (5, "tag_code"),
        (6, "action"), (6, "tag_code"), (7, "tag_code"), (8, "tag_code"),
    }


def test_a_tag_file_failing_mid_import_writes_nothing(
    personas, tree, make_customers, make_tag, monkeypatch, django_capture_on_commit_callbacks
):
    vip, payroll = make_tag("VIP"), make_tag("PAYROLL")
    customers = make_customers(2, tree.bj, tags=[payroll])
    rows = [[c.customer_ref, "VIP", "add"] for c in customers] + [[customers[0].customer_ref, "PAYROLL", "remove"]]
    batch = upload_file(
        personas.operator, csv_bytes(rows, header=["customer_ref", "tag_code", "action"]), name="t.csv", kind=ImportKind.TAGS
    )

    def broken_remove(**kwargs):
        raise RuntimeError("lost the database")

    monkeypatch.setattr(checking, "customer_tags_remove", broken_remove)
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.FAILED and "lost the database" in batch.failure
    assert tag_rows(vip) == index_of(bitmaps.tag_key(vip.pk)) == set()
    assert tag_rows(payroll) == index_of(bitmaps.tag_key(payroll.pk)) == {c.pk for c in customers}


# ------------------------------------------------------------------------ views


def test_the_upload_view_previews_and_the_confirm_view_imports(login, personas, django_capture_on_commit_callbacks):
    client = login(personas.operator)
    assert client.get(reverse("audiences:import_new")).status_code == 200
    upload = SimpleUploadedFile("customers.csv", csv_bytes(three_customers()))
    response = client.post(reverse("audiences:import_new"), {"kind": "customers", "file": upload})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("audiences:import_detail", args=[batch.pk])
    page = client.get(response.url)
    assert page.status_code == 200 and b'id="confirm-form"' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audiences:import_confirm", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportStatus.DONE and Customer.objects.count() == 3
    page = client.get(reverse("audiences:import_detail", args=[batch.pk]))
    assert b'id="report-link"' in page.content and b"hx-trigger" not in page.content
    report = client.get(reverse("audiences:import_report", args=[batch.pk]))
    assert report.status_code == 200 and report["Content-Disposition"].startswith("attachment")
    assert b"".join(report.streaming_content).decode("utf-8-sig").startswith("row,customer_ref,outcome,message")


def test_confirm_through_htmx_answers_with_the_status_partial(login, personas, django_capture_on_commit_callbacks):
    client = login(personas.operator)
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audiences:import_confirm", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="import-progress"')


def test_the_progress_partial_polls_while_running_and_stops_when_done(login, personas, rq_job):
    client = login(personas.operator)
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    job = rq_job(JobStatus.STARTED)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportStatus.RUNNING, job_id=job.id, started_at=timezone.now()
    )
    batch.refresh_from_db()
    connection = django_rq.get_connection("default")
    connection.set(selectors.import_progress_key(batch), json.dumps({"phase": "write", "done": 1, "total": 4}), ex=60)
    url = reverse("audiences:import_progress", args=[batch.pk])
    try:
        response = client.get(url, HTTP_HX_REQUEST="true")
    finally:
        connection.delete(selectors.import_progress_key(batch))
    html = response.content.decode()
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html and f'hx-get="{url}"' in html
    assert "width: 25%" in html and 'aria-valuenow="25"' in html
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE, summary={"result": {"created": 3}})
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and 'data-status="done"' in html
    assert client.get(url).status_code == 302  # without htmx: the detail page


def test_the_list_shows_only_imports_in_scope_and_paginates(login, personas):
    mine = upload_file(personas.operator, csv_bytes(three_customers()))
    theirs = upload_file(personas.outsider, csv_bytes(three_customers(branch="SH", sub_branch="SH")))
    response = login(personas.reviewer).get(reverse("audiences:import_list"))
    assert response.status_code == 200
    assert [b.pk for b in response.context["page_obj"]] == [mine.pk]
    assert theirs.pk not in [b.pk for b in login(personas.sub_admin).get(reverse("audiences:import_list")).context["page_obj"]]
    for _ in range(25):
        upload_file(personas.operator, csv_bytes(three_customers()))
    page = login(personas.branch_admin).get(reverse("audiences:import_list"))
    assert len(page.context["page_obj"]) == 25 and page.context["page_obj"].paginator.count == 26
    assert login(personas.ho_admin).get(reverse("audiences:import_list"), {"page": 2}).context["page_obj"].paginator.count == 27


@pytest.mark.parametrize("name", ["import_detail", "import_progress", "import_report"])
def test_another_branchs_import_is_not_found(login, personas, name):
    batch = upload_file(personas.outsider, csv_bytes([["X1", "x", "", "SH", "2024-01-01x", ""]]))
    assert batch.report  # an error report exists, but not for Beijing
    assert login(personas.branch_admin).get(reverse(f"audiences:{name}", args=[batch.pk])).status_code == 404


def test_confirming_another_branchs_import_is_not_found(login, personas):
    batch = upload_file(personas.outsider, csv_bytes(three_customers(branch="SH", sub_branch="SH")))
    response = login(personas.operator).post(reverse("audiences:import_confirm", args=[batch.pk]))
    assert response.status_code == 404
    batch.refresh_from_db()
    assert batch.status == ImportStatus.VALIDATED


@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_roles_that_cannot_edit_cannot_import(login, personas, role):
    client = login(getattr(personas, role))
    assert client.get(reverse("audiences:import_new")).status_code == 403
    upload = SimpleUploadedFile("customers.csv", csv_bytes(three_customers()))
    assert client.post(reverse("audiences:import_new"), {"kind": "customers", "file": upload}).status_code == 403
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    assert client.post(reverse("audiences:import_confirm", args=[batch.pk])).status_code == 403
    assert client.get(reverse("audiences:import_detail", args=[batch.pk])).status_code == 200
    with pytest.raises(PermissionDenied):
        upload_file(getattr(personas, role), csv_bytes(three_customers()))
    assert ImportBatch.objects.count() == 1


def test_wrong_methods_are_refused(login, personas):
    client = login(personas.operator)
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    assert client.get(reverse("audiences:import_confirm", args=[batch.pk])).status_code == 405
    assert client.post(reverse("audiences:import_report", args=[batch.pk])).status_code == 405
    assert client.post(reverse("audiences:import_list")).status_code == 405
    assert client.post(reverse("audiences:import_progress", args=[batch.pk])).status_code == 405
    assert client.put(reverse("audiences:import_new")).status_code == 405


def test_a_valid_import_has_no_report_until_it_is_done(login, personas):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    assert login(personas.operator).get(reverse("audiences:import_report", args=[batch.pk])).status_code == 404


def test_sample_files_can_be_downloaded_and_imported(login, personas):
    client = login(personas.operator)
    response = client.get(reverse("audiences:import_sample", args=["customers"]))
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.decode("utf-8-sig").splitlines()[0] == ",".join(HEADER)
    assert client.get(reverse("audiences:import_sample", args=["nonsense"])).status_code == 404


def test_an_invalid_import_lists_its_errors_and_offers_them_all_as_csv(login, personas):
    rows = [["C000001", "张伟", "12345", "BJ", "2024-01-01", ""]]
    batch = upload_file(personas.operator, csv_bytes(rows))
    html = login(personas.branch_admin).get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-errors"' in html and "12345 is not a phone number" in html
    assert reverse("audiences:import_report", args=[batch.pk]) in html
    assert 'id="confirm-form"' not in html and "hx-trigger" not in html


def test_a_failed_import_shows_why(login, personas):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.FAILED, failure="Disk full")
    html = login(personas.operator).get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-failure"' in html and "Disk full" in html and 'id="confirm-form"' not in html


def test_a_superuser_without_a_branch_imports_for_head_office(tree, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    root = UserFactory(username="root", branch=None, is_superuser=True, is_staff=True)
    batch = upload_file(root, csv_bytes(three_customers(branch="SH")))
    assert batch.branch == tree.ho and batch.status == ImportStatus.VALIDATED
    batch = confirm_and_run(root, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.DONE and Customer.objects.filter(branch=tree.sh).count() == 2


def test_xlsx_rows_are_numbered_as_in_excel_despite_blank_rows(personas):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])  # the header may start lower down
    sheet.append(HEADER)
    sheet.append(["C000001", "张伟", "", "BJ", "2024-01-01", ""])
    sheet.append([])
    sheet.append(["C000002", "", "", "BJ", "2024-01-01", ""])
    out = io.BytesIO()
    workbook.save(out)
    batch = upload_file(personas.operator, out.getvalue(), name="c.xlsx")
    assert batch.total_rows == 2
    assert batch.errors == [{"row": 5, "column": "name", "message": "Required."}]


def test_the_list_query_count_does_not_grow_with_its_rows(login, personas, django_assert_max_num_queries):
    client = login(personas.branch_admin)
    upload_file(personas.operator, csv_bytes(three_customers()))
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("audiences:import_list"))
    for _ in range(10):
        upload_file(personas.sub_admin, csv_bytes(three_customers(branch="BJ-HD")))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audiences:import_list"))


# ------------------------------------------------------- checking in the background


@pytest.fixture
def checked_by_a_job(monkeypatch):
    """Every file counts as large: the upload stores it and a job checks it."""
    monkeypatch.setattr(uploading, "CHECK_INLINE_MAX_BYTES", 0)


@pytest.fixture
def async_queue(settings):
    """Jobs wait in the real Redis until ``run_worker`` runs them."""
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL}}


def run_worker():
    queue = django_rq.get_queue("default")
    assert SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_a_large_file_is_stored_as_checking_and_a_job_previews_it(
    checked_by_a_job, async_queue, login, personas, django_capture_on_commit_callbacks
):
    content = csv_bytes(three_customers())
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_file(personas.operator, content)
    assert batch.status == ImportStatus.CHECKING and batch.job_id and batch.file
    assert batch.summary == {"language": "en"} and not batch.errors
    assert Job.fetch(batch.job_id, connection=django_rq.get_connection("default")).get_status() == JobStatus.QUEUED
    client = login(personas.operator)
    html = client.get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and 'id="import-progress-bar"' in html and "Waiting for a worker" in html
    assert 'id="import-preview"' not in html and 'id="confirm-form"' not in html and 'id="retry-form"' not in html
    with pytest.raises(ValidationError, match="still being checked"):
        imports.import_confirm(user=personas.operator, batch=batch)

    run_worker()
    batch.refresh_from_db()
    assert batch.status == ImportStatus.VALIDATED and batch.total_rows == 3
    assert (batch.summary["new"], batch.summary["error_rows"]) == (3, 0)
    assert batch.sha256 == hashlib.sha256(content).hexdigest()
    progress = json.loads(django_rq.get_connection("default").get(selectors.import_progress_key(batch)))
    assert progress == {"phase": "check", "done": 3, "total": 3}
    html = client.get(reverse("audiences:import_progress", args=[batch.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html and 'data-count="new">3<' in html and 'id="confirm-form"' in html
    assert not Customer.objects.exists()


def test_the_checking_progress_shows_the_step_and_the_rows_checked(login, personas, rq_job):
    client = login(personas.operator)
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    job = rq_job(JobStatus.STARTED, timeout=running.CHECK_JOB_TIMEOUT)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.CHECKING, job_id=job.id, summary={})
    batch.refresh_from_db()
    connection = django_rq.get_connection("default")
    url = reverse("audiences:import_progress", args=[batch.pk])
    try:
        connection.set(selectors.import_progress_key(batch), json.dumps({"phase": "read", "done": 512, "total": 1024}))
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert "width: 50%" in html and "Reading the file…" in html and "512" not in html
        connection.set(selectors.import_progress_key(batch), json.dumps({"phase": "check", "done": 5000, "total": 20000}))
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    finally:
        connection.delete(selectors.import_progress_key(batch))
    assert "width: 25%" in html and "Checking rows: 5000 of 20000" in html and 'hx-trigger="every 1s"' in html
    assert 'data-status="checking"' in html and 'id="import-preview"' not in html


def test_a_large_file_with_row_errors_ends_invalid_with_its_errors_and_report(
    checked_by_a_job, personas, django_capture_on_commit_callbacks
):
    rows = [*three_customers(), ["C000009", "", "", "BJ", "2024-01-01", ""]]
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_file(personas.operator, csv_bytes(rows))
    batch.refresh_from_db()
    assert batch.status == ImportStatus.INVALID and batch.error_count == 1 and not batch.failure
    assert batch.errors == [{"row": 5, "column": "name", "message": "Required."}]
    assert [r["outcome"] for r in report_of(batch)] == ["error"]


INSTANT = {k: BAD_FILES[k] for k in BAD_FILES if k not in {"only blank lines", "header only", "ragged csv"}}
FOUND_BY_THE_JOB = {k: BAD_FILES[k] for k in BAD_FILES if k not in INSTANT}


@pytest.mark.parametrize("case", INSTANT.values(), ids=INSTANT.keys())
def test_a_large_file_unreadable_from_its_first_bytes_is_refused_at_upload(
    checked_by_a_job, personas, case, django_capture_on_commit_callbacks
):
    name, content, expected = case
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError) as caught:
        upload_file(personas.operator, content, name=name)
    assert expected in " ".join(caught.value.messages)
    assert not ImportBatch.objects.exists() and not callbacks


@pytest.mark.parametrize("case", FOUND_BY_THE_JOB.values(), ids=FOUND_BY_THE_JOB.keys())
def test_a_large_file_unreadable_as_a_whole_ends_invalid_with_the_reason(
    checked_by_a_job, login, personas, case, django_capture_on_commit_callbacks
):
    name, content, expected = case
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_file(personas.operator, content, name=name)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.INVALID and expected in batch.failure
    html = login(personas.operator).get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-invalid"' in html and expected in html and "hx-trigger" not in html


def test_a_large_xlsx_with_wrong_columns_ends_invalid(checked_by_a_job, personas, django_capture_on_commit_callbacks):
    # A workbook's header is deep in its zip: only the full read finds it.
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_file(personas.operator, xlsx_bytes([["1", "2"]], header=["id", "full_name"]), name="c.xlsx")
    batch.refresh_from_db()
    assert batch.status == ImportStatus.INVALID and "Missing columns" in batch.failure


def test_the_head_of_a_large_gb18030_file_is_read_even_when_cut_mid_character(personas, monkeypatch):
    rows = [[f"C{i:06d}", "王芳" * 10, "", "BJ", "2024-01-01", ""] for i in range(2000)]
    content = csv_bytes(rows, encoding="gb18030")
    assert len(content) > reading.HEAD_BYTES
    for cut in (reading.HEAD_BYTES - 1, reading.HEAD_BYTES):
        monkeypatch.setattr(reading, "HEAD_BYTES", cut)
        reading.sniff(SimpleUploadedFile("c.csv", content), ".csv", ImportKind.CUSTOMERS)
    with pytest.raises(ValidationError, match="Missing columns"):
        reading.sniff(SimpleUploadedFile("c.csv", csv_bytes(rows, header=HEADER[1:])), ".csv", ImportKind.CUSTOMERS)


def test_a_check_job_keeps_one_result_and_a_job_overtaken_by_a_retry_drops_its_own(
    checked_by_a_job, personas, monkeypatch, django_capture_on_commit_callbacks
):
    rows = [["C000001", "", "", "BJ", "2024-01-01", ""]]
    with django_capture_on_commit_callbacks(execute=False):
        batch = upload_file(personas.operator, csv_bytes(rows))
    imports.import_check(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.INVALID and batch.report
    first = (batch.report.name, batch.summary, batch.errors)
    imports.import_check(batch_id=batch.pk)  # run twice: nothing changes
    batch.refresh_from_db()
    assert (batch.report.name, batch.summary, batch.errors) == first

    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.CHECKING, job_id="old-job", report="")
    check_file = uploading._check_file
    stale_reports = []

    def retried_meanwhile(checked, *args, **kwargs):
        ImportBatch.objects.filter(pk=checked.pk).update(job_id="new-job")
        check_file(checked, *args, **kwargs)
        stale_reports.append(checked.report.name)

    monkeypatch.setattr(uploading, "_check_file", retried_meanwhile)
    imports.import_check(batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.job_id, batch.report.name) == (ImportStatus.CHECKING, "new-job", "")
    assert stale_reports[0] and not batch.report.storage.exists(stale_reports[0])


def test_an_unexpected_error_while_checking_fails_the_batch(
    checked_by_a_job, personas, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("lost the database")

    monkeypatch.setattr(checking, "check", broken)
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload_file(personas.operator, csv_bytes(three_customers()))
    batch.refresh_from_db()
    assert batch.status == ImportStatus.FAILED and "lost the database" in batch.failure and batch.finished_at


def test_the_upload_view_stores_a_large_file_and_queues_its_check(
    checked_by_a_job, login, personas, django_capture_on_commit_callbacks
):
    client = login(personas.operator)
    upload = SimpleUploadedFile("customers.csv", csv_bytes(three_customers()))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("audiences:import_new"), {"kind": "customers", "file": upload})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("audiences:import_detail", args=[batch.pk])
    assert batch.status == ImportStatus.CHECKING and len(callbacks) == 1
    callbacks[0]()  # the job runs inline (ASYNC False)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.VALIDATED and batch.summary["new"] == 3


# ------------------------------------------------------------- stuck batches


def stuck_as(batch, status, job_id="a-job-nobody-runs", **extra):
    """What a worker killed mid-job leaves behind."""
    ImportBatch.objects.filter(pk=batch.pk).update(status=status, job_id=job_id, **extra)
    batch.refresh_from_db()
    return batch


def test_a_batch_whose_job_is_gone_is_stuck_and_the_page_offers_a_retry(login, personas):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    batch = stuck_as(batch, ImportStatus.QUEUED)
    assert selectors.import_batch_stuck(batch=batch)
    html = login(personas.operator).get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-stuck"' in html and 'id="retry-form"' in html and "hx-trigger" not in html
    assert reverse("audiences:import_retry", args=[batch.pk]) in html
    html = login(personas.reviewer).get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'id="import-stuck"' in html and 'id="retry-form"' not in html


def test_a_worker_killed_mid_import_is_retried_and_the_import_runs_once(
    personas, django_capture_on_commit_callbacks
):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    batch = confirm_and_run(personas.operator, batch, django_capture_on_commit_callbacks)
    assert batch.status == ImportStatus.DONE
    other = upload_file(personas.operator, csv_bytes(three_customers(tags="")))
    stuck = stuck_as(other, ImportStatus.RUNNING, started_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        retried = imports.import_retry(user=personas.branch_admin, batch=stuck)
    assert len(callbacks) == 1
    retried.refresh_from_db()
    assert retried.status == ImportStatus.DONE and retried.job_id != "a-job-nobody-runs"
    assert retried.summary["result"] == {"created": 0, "updated": 0, "unchanged": 3, "tags_added": 0}
    entry = AuditEntry.objects.get(action="import.retry")
    assert entry.actor == personas.branch_admin and entry.object_id == str(other.pk)
    assert entry.changes == {"status": ["running", "queued"], "dead_job": "a-job-nobody-runs"}
    assert Customer.objects.count() == 3


def test_retrying_twice_from_the_same_stuck_state_queues_one_job(personas, django_capture_on_commit_callbacks):
    batch = stuck_as(upload_file(personas.operator, csv_bytes(three_customers())), ImportStatus.QUEUED)
    seen_by_both = ImportBatch.objects.get(pk=batch.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        first = imports.import_retry(user=personas.operator, batch=batch)
        # The second click still sees the old job id (gone): the conditional update finds nothing.
        second = imports.import_retry(user=personas.branch_admin, batch=seen_by_both)
    assert len(callbacks) == 1 and AuditEntry.objects.filter(action="import.retry").count() == 1
    assert first.job_id == second.job_id != "a-job-nobody-runs" and second.status == ImportStatus.QUEUED


def test_a_batch_stuck_checking_is_checked_again(checked_by_a_job, personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        batch = upload_file(personas.operator, csv_bytes(three_customers()))
    assert selectors.import_batch_stuck(batch=batch)  # its job was never queued
    with django_capture_on_commit_callbacks(execute=True):
        batch = imports.import_retry(user=personas.operator, batch=batch)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.VALIDATED and batch.summary["new"] == 3
    assert AuditEntry.objects.get(action="import.retry").changes["status"] == ["checking", "checking"]


@pytest.mark.parametrize(
    ("job_status", "stuck"),
    [
        (JobStatus.QUEUED, False),
        (JobStatus.STARTED, False),
        (JobStatus.FAILED, True),
        (JobStatus.STOPPED, True),
        (JobStatus.FINISHED, True),
    ],
)
def test_whether_a_queued_batch_is_stuck_follows_its_jobs_status(personas, rq_job, job_status, stuck):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    batch = stuck_as(batch, ImportStatus.QUEUED, job_id=rq_job(job_status).id)
    assert selectors.import_batch_stuck(batch=batch) is stuck


def test_an_import_running_past_its_job_timeout_is_stuck(personas, rq_job):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    job = rq_job(JobStatus.STARTED, timeout=60)
    batch = stuck_as(batch, ImportStatus.RUNNING, job_id=job.id, started_at=timezone.now() - dt.timedelta(seconds=59))
    assert not selectors.import_batch_stuck(batch=batch)
    batch = stuck_as(batch, ImportStatus.RUNNING, job_id=job.id, started_at=timezone.now() - dt.timedelta(seconds=61))
    assert selectors.import_batch_stuck(batch=batch)


def test_a_check_running_past_its_job_timeout_is_stuck(personas, rq_job):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    job = rq_job(JobStatus.STARTED, timeout=60, started_at=rq_now() - dt.timedelta(seconds=61))
    assert selectors.import_batch_stuck(batch=stuck_as(batch, ImportStatus.CHECKING, job_id=job.id))


def test_a_batch_that_moved_on_while_its_job_was_looked_up_is_not_stuck(personas, rq_job):
    batch = upload_file(personas.operator, csv_bytes(three_customers()))
    seen = stuck_as(batch, ImportStatus.RUNNING, job_id=rq_job(JobStatus.FINISHED).id)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.DONE)  # committed before rq said "finished"
    assert not selectors.import_batch_stuck(batch=seen)


def test_nothing_is_stuck_when_redis_cannot_be_asked(personas, settings):
    batch = stuck_as(upload_file(personas.operator, csv_bytes(three_customers())), ImportStatus.QUEUED)
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    assert not selectors.import_batch_stuck(batch=batch)
    with pytest.raises(ValidationError, match="not stuck"):
        imports.import_retry(user=personas.operator, batch=batch)


@pytest.mark.parametrize("status", [ImportStatus.VALIDATED, ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.INVALID])
def test_only_a_stuck_batch_can_be_retried(personas, status):
    batch = stuck_as(upload_file(personas.operator, csv_bytes(three_customers())), status)
    with pytest.raises(ValidationError, match="not stuck"):
        imports.import_retry(user=personas.operator, batch=batch)
    assert not AuditEntry.objects.filter(action="import.retry").exists()


def test_the_retry_view_requeues_and_answers_htmx_with_the_status_partial(
    login, personas, django_capture_on_commit_callbacks
):
    client = login(personas.operator)
    batch = stuck_as(upload_file(personas.operator, csv_bytes(three_customers())), ImportStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audiences:import_retry", args=[batch.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().startswith('<div id="import-progress"')
    html = client.get(reverse("audiences:import_detail", args=[batch.pk])).content.decode()
    assert 'data-status="done"' in html and 'id="retry-form"' not in html
    again = client.post(reverse("audiences:import_retry", args=[batch.pk]))  # no longer stuck
    assert again.status_code == 302 and again.url == reverse("audiences:import_detail", args=[batch.pk])
    assert AuditEntry.objects.filter(action="import.retry").count() == 1


def test_retry_is_refused_out_of_scope_for_wrong_roles_and_methods(login, personas):
    theirs = stuck_as(
        upload_file(personas.outsider, csv_bytes(three_customers(branch="SH", sub_branch="SH"))), ImportStatus.QUEUED
    )
    mine = stuck_as(upload_file(personas.operator, csv_bytes(three_customers())), ImportStatus.QUEUED)
    assert login(personas.operator).post(reverse("audiences:import_retry", args=[theirs.pk])).status_code == 404
    assert login(personas.reviewer).post(reverse("audiences:import_retry", args=[mine.pk])).status_code == 403
    assert login(personas.operator).get(reverse("audiences:import_retry", args=[mine.pk])).status_code == 405
    with pytest.raises(PermissionDenied):
        imports.import_retry(user=personas.analyst, batch=mine)
    mine.refresh_from_db()
    assert mine.job_id == "a-job-nobody-runs" and not AuditEntry.objects.filter(action="import.retry").exists()


# ------------------------------------------------------------------ list filter


def test_the_list_filters_by_kind_status_and_upload_date(login, personas, make_tag):
    make_tag("VIP")
    customers = upload_file(personas.operator, csv_bytes(three_customers()))
    invalid = upload_file(personas.operator, csv_bytes([["C1", "", "", "BJ", "2024-01-01", ""]]))
    tags = upload_file(
        personas.operator, csv_bytes([["C1", "VIP"]], header=["customer_ref", "tag_code"]), name="t.csv", kind=ImportKind.TAGS
    )
    old = upload_file(personas.operator, csv_bytes(three_customers()))
    ImportBatch.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    client = login(personas.branch_admin)
    url = reverse("audiences:import_list")

    def listed(**query):
        return [b.pk for b in client.get(url, query).context["page_obj"]]

    assert listed(kind="tags") == [tags.pk]
    assert listed(status="invalid") == [tags.pk, invalid.pk]  # C1 is unknown: the tag file is invalid too
    today = timezone.localdate().isoformat()
    assert set(listed(uploaded_after=today)) == {customers.pk, invalid.pk, tags.pk}
    assert listed(uploaded_before=(timezone.localdate() - dt.timedelta(days=30)).isoformat()) == [old.pk]
    assert listed(kind="customers", status="validated", uploaded_after=today) == [customers.pk]
    response = client.get(url, {"status": "nonsense"})
    assert response.status_code == 200 and response.context["filter"].errors
    html = client.get(url, {"kind": "tags"}, HTTP_HX_REQUEST="true").content.decode()
    assert html.startswith('<div id="import-table"') and "t.csv" in html and "customers.csv" not in html


def test_the_list_page_has_a_filter_form_that_works_without_javascript(login, personas):
    html = login(personas.branch_admin).get(reverse("audiences:import_list")).content.decode()
    assert 'id="import-filter"' in html and 'method="get"' in html and 'hx-target="#import-table"' in html
    for name in ("kind", "status", "uploaded_after", "uploaded_before"):
        assert f'name="{name}"' in html
