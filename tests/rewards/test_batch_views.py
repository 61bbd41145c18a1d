"""Manual dispatch pages: choose customers three ways, preview, confirm, approve, watch, download."""

import base64
import csv
import html
import io
import re
from decimal import Decimal

import django_rq
import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook
from pyroaring import BitMap

from audiences import services as audience_services
from config import jobs
from rewards import selectors, services
from rewards.forms.batches import PREVIEW_SALT
from rewards.models import BatchSelection, BatchStatus, DispatchBatch, Grant
from rewards.services import batches


@pytest.fixture(autouse=True)
def _media_and_inline_jobs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Jobs really run, inside enqueue(), against the real Redis of REDIS_URL.
    settings.RQ_QUEUES = {"default": {"URL": settings.REDIS_URL, "ASYNC": False}}
    with translation.override("en"):
        yield


@pytest.fixture
def world(tree, personas, prize, make_tag, make_customers):
    vip = make_tag("VIP")
    bj = make_customers(3, tree.bj, tags=[vip])
    hd = make_customers(1, tree.hd, start=10, tags=[vip])
    sh = make_customers(2, tree.sh, start=20, tags=[vip])
    sh_pool = services.pool_create(actor=personas.outsider, code="SH-POOL", name="Shanghai pool", owner_branch=tree.sh)
    sh_prize = services.prize_create(
        actor=personas.outsider, pool=sh_pool, code="SH5", name="SH packet", kind="cash", unit_cost=Decimal("5")
    )
    rule = {"id": "n1", "type": "group", "op": "and", "children": [{"id": "n2", "type": "tag", "op": "has", "tag": "VIP"}]}
    segment = audience_services.segment_create(
        actor=personas.operator, name="BJ VIPs", owner_branch=tree.bj, rule=rule
    )
    sh_segment = audience_services.segment_create(
        actor=personas.outsider, name="SH VIPs", owner_branch=tree.sh, rule=rule
    )
    return type("World", (), {
        "prize": prize, "bj": bj, "hd": hd, "sh": sh, "sh_prize": sh_prize, "segment": segment, "sh_segment": sh_segment,
    })


def url(name, *args):
    return reverse(f"rewards:{name}", args=args)


def search_data(world, customers, **extra):
    return {
        "prize": world.prize.pk, "reason": "Branch anniversary", "way": BatchSelection.SEARCH,
        "customers": [c.pk for c in customers], **extra,
    }


def token_of(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "no confirm form on the page"
    return html.unescape(match.group(1))


def csv_upload(refs, *, header="customer_ref", name="list.csv"):
    lines = [header, *refs]
    return SimpleUploadedFile(name, ("\r\n".join(lines) + "\r\n").encode())


def xlsx_upload(refs, name="list.xlsx"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["customer_ref"])
    for ref in refs:
        sheet.append([ref])
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


def upload_data(world, upload, **extra):
    return {"prize": world.prize.pk, "reason": "List from the branch", "way": BatchSelection.UPLOAD, "file": upload, **extra}


def preview_and_confirm(client, data, capture):
    response = client.post(url("batch_preview"), data)
    assert response.status_code == 200
    with capture(execute=True):
        response = client.post(url("batch_confirm"), {"token": token_of(response)})
    return response


# ------------------------------------------------------------------ choosing


def test_the_new_page_preselects_a_prize_and_searches_customers_in_scope_only(world, login, personas):
    client = login(personas.operator)
    response = client.get(url("batch_new"), {"prize": world.prize.pk, "q": "C0000"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{world.prize.pk}" selected>' in page
    assert world.bj[0].customer_ref in page and world.hd[0].customer_ref in page
    assert world.sh[0].customer_ref not in page and "SH packet" not in page


def test_the_customer_search_partial_keeps_ticked_customers_and_drops_tampered_ones(world, login, personas):
    client = login(personas.operator)
    params = {"q": world.bj[1].customer_ref, "customers": [world.bj[0].pk, world.sh[0].pk]}
    response = client.get(url("batch_customers"), params, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert 'id="customer-results"' in page and "<html" not in page
    assert f'value="{world.bj[0].pk}" id="customer-{world.bj[0].pk}" checked' in page
    assert world.bj[1].customer_ref in page
    assert world.sh[0].customer_ref not in page
    # Without htmx the search is the whole page.
    assert client.get(url("batch_customers"), params).status_code == 302


def test_the_search_button_without_javascript_posts_back_to_the_new_page(world, login, personas):
    client = login(personas.operator)
    response = client.post(url("batch_new"), search_data(world, [world.bj[0]], q="Customer 1"))
    page = response.content.decode()
    assert response.status_code == 200 and 'value="Branch anniversary"' in page
    assert world.bj[1].customer_ref in page and world.hd[0].customer_ref in page
    assert not DispatchBatch.objects.exists()


def test_preview_of_picked_customers_shows_the_numbers_and_writes_nothing(world, login, personas):
    client = login(personas.operator)
    response = client.post(url("batch_preview"), search_data(world, world.bj))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-value="count">3<' in page
    assert 'data-value="unit_cost">CNY 5.00<' in page
    assert 'data-value="total_cost">CNY 15.00<' in page
    assert 'data-value="stock">3 / 10<' in page
    assert 'data-value="budget">CNY 15.00 / CNY 100.00<' in page
    assert "No approval is needed" in page and 'id="confirm-form"' in page
    assert not DispatchBatch.objects.exists() and not Grant.objects.exists()


def test_preview_says_when_approval_is_needed(world, login, personas, settings):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("10")
    page = login(personas.operator).post(url("batch_preview"), search_data(world, world.bj)).content.decode()
    assert "waits for approval by someone else" in page and "Submit for approval" in page


def test_preview_blocks_a_batch_when_stock_is_short(world, login, personas):
    services.stock_adjust(actor=personas.branch_admin, prize=world.prize, delta=-8, reason="count")
    page = login(personas.operator).post(url("batch_preview"), search_data(world, world.bj)).content.decode()
    assert "Not enough stock: 3 needed, 2 available." in page
    assert 'id="confirm-form"' not in page


def test_preview_blocks_a_batch_when_the_budget_is_short(world, login, personas, pool):
    dear = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="GOLD", name="Gold coin", kind="gift", unit_cost=Decimal("40")
    )
    services.stock_add(actor=personas.branch_admin, prize=dear, quantity=5, reason="stock")
    data = search_data(world, world.bj, prize=dear.pk)
    page = login(personas.operator).post(url("batch_preview"), data).content.decode()
    assert "Not enough budget: CNY 120.00 needed, CNY 100.00 available." in page
    assert 'id="confirm-form"' not in page


def test_a_tampered_customer_id_fails_validation(world, login, personas):
    client = login(personas.operator)
    response = client.post(url("batch_preview"), search_data(world, [world.bj[0], world.sh[0]]))
    page = response.content.decode()
    assert response.status_code == 200 and "Select a valid choice" in page
    assert 'name="token"' not in page


def test_a_tampered_prize_id_fails_validation(world, login, personas):
    client = login(personas.operator)
    response = client.post(url("batch_preview"), search_data(world, world.bj, prize=world.sh_prize.pk))
    page = response.content.decode()
    assert "Select a valid choice" in page and 'name="token"' not in page


def test_picking_nobody_is_an_error(world, login, personas):
    page = login(personas.operator).post(url("batch_preview"), search_data(world, [])).content.decode()
    assert "tick at least one" in page


def test_a_segment_gives_its_members(world, login, personas):
    data = {"prize": world.prize.pk, "reason": "VIP week", "way": BatchSelection.SEGMENT, "segment": world.segment.pk}
    page = login(personas.operator).post(url("batch_preview"), data).content.decode()
    assert 'data-value="count">4<' in page and "BJ VIPs" in page and world.sh[0].customer_ref not in page


def test_a_segment_out_of_scope_fails_validation(world, login, personas):
    data = {"prize": world.prize.pk, "reason": "VIP week", "way": BatchSelection.SEGMENT, "segment": world.sh_segment.pk}
    page = login(personas.operator).post(url("batch_preview"), data).content.decode()
    assert "Select a valid choice" in page and 'name="token"' not in page


def test_an_uploaded_csv_or_workbook_list_gives_its_customers(world, login, personas):
    client = login(personas.operator)
    refs = [c.customer_ref for c in world.bj] + [world.bj[0].customer_ref]  # a repeated row counts once
    page = client.post(url("batch_preview"), upload_data(world, csv_upload(refs))).content.decode()
    assert 'data-value="count">3<' in page and "list.csv (4 rows)" in page
    page = client.post(url("batch_preview"), upload_data(world, xlsx_upload(refs[:2]))).content.decode()
    assert 'data-value="count">2<' in page


def test_unknown_and_out_of_scope_refs_are_listed_alike_with_their_rows(world, login, personas):
    client = login(personas.operator)
    refs = [world.bj[0].customer_ref, "C999999", world.sh[0].customer_ref]
    response = client.post(url("batch_preview"), upload_data(world, csv_upload(refs)))
    page = response.content.decode()
    assert "2 rows do not name a customer you can dispatch to" in page
    problems = re.findall(r'<td class="text-end">(\d+)</td><td><code>([^<]+)</code></td><td>([^<]+)</td>', page)
    assert problems == [
        ("3", "C999999", "Unknown customer number."),
        ("4", world.sh[0].customer_ref, "Unknown customer number."),
    ]
    assert 'name="token"' not in page


def test_unknown_rows_can_be_left_out_on_request(world, login, personas, django_capture_on_commit_callbacks):
    client = login(personas.operator)
    refs = [world.bj[0].customer_ref, "C999999", world.bj[1].customer_ref]
    response = client.post(url("batch_preview"), upload_data(world, csv_upload(refs), skip_unknown="on"))
    page = response.content.decode()
    assert 'data-value="count">2<' in page and 'id="skipped-rows"' in page and "C999999" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("batch_confirm"), {"token": token_of(response)})
    batch = DispatchBatch.objects.get()
    assert batch.customer_count == 2 and batch.selection == BatchSelection.UPLOAD
    assert set(Grant.objects.values_list("customer_id", flat=True)) == {world.bj[0].pk, world.bj[1].pk}


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("list.csv", b"customer_ref\r\nC0\x00\x01\x02 junk\r\n"), "binary data"),
        (SimpleUploadedFile("list.csv", b"customer_ref\r\n\x81\xff\xfe\x81\r\n"), "could not be read as UTF-8"),
        (SimpleUploadedFile("list.csv", b"customer,name\r\nC000000,x\r\n"), "Missing columns: customer_ref."),
        (SimpleUploadedFile("list.xlsx", b"PK\x03\x04 not really a zip"), "not an Excel workbook"),
        (SimpleUploadedFile("list.txt", b"customer_ref\r\nC000000\r\n"), "Upload a .csv or .xlsx file"),
        (SimpleUploadedFile("list.csv", b""), "The submitted file is empty."),
    ],
)
def test_a_bad_file_gets_a_clear_error_and_writes_nothing(world, login, personas, upload, message):
    response = login(personas.operator).post(url("batch_preview"), upload_data(world, upload))
    page = response.content.decode()
    assert response.status_code == 200 and message in html.unescape(page)
    assert 'name="token"' not in page and not DispatchBatch.objects.exists()


def test_a_file_over_the_size_limit_is_refused(world, login, personas, settings):
    settings.IMPORT_MAX_BYTES = 10
    refs = [c.customer_ref for c in world.bj]
    page = login(personas.operator).post(url("batch_preview"), upload_data(world, csv_upload(refs))).content.decode()
    assert "the largest file you can upload is" in html.unescape(page)


# ------------------------------------------------------------------ confirming and watching


def test_confirm_runs_the_job_and_the_detail_shows_the_result(
    world, login, personas, django_capture_on_commit_callbacks
):
    client = login(personas.operator)
    response = preview_and_confirm(client, search_data(world, world.bj), django_capture_on_commit_callbacks)
    batch = DispatchBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == url("batch_detail", batch.pk)
    assert batch.status == BatchStatus.DONE and batch.created_by == personas.operator
    page = client.get(url("batch_detail", batch.pk)).content.decode()
    assert 'data-status="done"' in page and 'data-result="granted">3<' in page
    assert 'id="report-link"' in page and 'id="batch-delivery"' in page
    delivery = re.findall(r'data-delivery="(\w+)">(\d+)<', page)
    assert sum(int(n) for _, n in delivery) == 3
    # The progress partial is what htmx polls; without htmx it is the page.
    partial = client.get(url("batch_progress", batch.pk), HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="batch-progress"') and 'data-result="granted">3<' in partial
    assert client.get(url("batch_progress", batch.pk)).status_code == 302


def test_the_report_downloads_as_csv(world, login, personas, django_capture_on_commit_callbacks):
    client = login(personas.operator)
    preview_and_confirm(client, search_data(world, world.bj), django_capture_on_commit_callbacks)
    batch = DispatchBatch.objects.get()
    response = login(personas.analyst).get(url("batch_report", batch.pk))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["customer_ref"] for row in rows) == sorted(c.customer_ref for c in world.bj)


def test_a_running_batch_shows_a_polling_progress_bar(world, login, personas, prize):
    batch = batches.batch_create(
        actor=personas.operator, prize=prize, customer_ids=[c.pk for c in world.bj],
        selection=BatchSelection.SEARCH, selection_label="", reason="x",
    )  # its job never starts here: on_commit does not run
    # A job waiting in Redis, as a worker would find it.
    job = django_rq.get_queue("default", is_async=True).enqueue("rewards.jobs.batch_run", 0)
    try:
        DispatchBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, job_id=job.id)
        batch.refresh_from_db()
        jobs.Progress(selectors.batch_progress_key(batch)).set(1, 3)
        client = login(personas.operator)
        page = client.get(url("batch_progress", batch.pk), HTTP_HX_REQUEST="true").content.decode()
    finally:
        job.delete()
    assert 'hx-trigger="every 1s"' in page and "Granting: 1 of 3" in page and "width: 33%" in page
    # A batch whose job is gone is stuck: no more polling, and it can be resumed.
    page = client.get(url("batch_progress", batch.pk), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in page and 'id="resume-form"' in page


def test_a_confirmation_sent_twice_makes_one_batch(world, login, personas, django_capture_on_commit_callbacks):
    client = login(personas.operator)
    response = client.post(url("batch_preview"), search_data(world, world.bj))
    token = token_of(response)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("batch_confirm"), {"token": token})
        client.post(url("batch_confirm"), {"token": token})
    assert DispatchBatch.objects.count() == 1 and Grant.objects.count() == 3


def test_a_tampered_or_foreign_token_is_refused_and_writes_nothing(world, login, personas):
    client = login(personas.operator)
    token = token_of(client.post(url("batch_preview"), search_data(world, world.bj)))
    response = client.post(url("batch_confirm"), {"token": token[:-3] + "abc"}, follow=True)
    assert "This preview has expired or was changed" in response.content.decode()
    # The branch admin cannot confirm the operator's preview.
    response = login(personas.branch_admin).post(url("batch_confirm"), {"token": token}, follow=True)
    assert "This preview has expired or was changed" in response.content.decode()
    assert not DispatchBatch.objects.exists()


def test_confirm_rechecks_stock_and_shows_the_preview_again(world, login, personas):
    client = login(personas.operator)
    token = token_of(client.post(url("batch_preview"), search_data(world, world.bj)))
    services.stock_adjust(actor=personas.branch_admin, prize=world.prize, delta=-9, reason="count")
    response = client.post(url("batch_confirm"), {"token": token})
    assert response.status_code == 200 and "Not enough stock: 3 needed, 1 available." in response.content.decode()
    assert not DispatchBatch.objects.exists()


def test_confirm_rechecks_the_scope_of_a_signed_choice(world, login, personas):
    data = {
        "user": personas.operator.pk, "prize": world.prize.pk, "way": "search", "label": "", "reason": "x",
        "members": base64.b64encode(BitMap([world.bj[0].pk, world.sh[0].pk]).serialize()).decode(),
        "request": "r",
    }
    token = signing.dumps(data, salt=PREVIEW_SALT, compress=True)
    response = login(personas.operator).post(url("batch_confirm"), {"token": token})
    assert "not in your scope" in response.content.decode()
    assert not DispatchBatch.objects.exists()


# ------------------------------------------------------------------ approval


@pytest.fixture
def awaiting(world, login, personas, settings, django_capture_on_commit_callbacks):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("10")
    preview_and_confirm(login(personas.branch_admin), search_data(world, world.bj), django_capture_on_commit_callbacks)
    return DispatchBatch.objects.get()


def test_the_creator_sees_that_someone_else_must_approve(awaiting, login, personas):
    client = login(personas.branch_admin)
    page = client.get(url("batch_detail", awaiting.pk)).content.decode()
    assert "Waiting for approval by someone else" in page and 'id="approve-form"' not in page
    assert client.post(url("batch_approve", awaiting.pk)).status_code == 403
    assert client.post(url("batch_reject", awaiting.pk), {"reason": "no"}).status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL


def test_approvers_see_waiting_batches_first_and_approve_them(
    awaiting, login, personas, django_capture_on_commit_callbacks
):
    client = login(personas.reviewer)
    page = client.get(url("batch_list")).content.decode()
    assert 'id="awaiting-approval"' in page and f"#{awaiting.pk} " in page
    assert 'id="approve-form"' in client.get(url("batch_detail", awaiting.pk)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("batch_approve", awaiting.pk), {"reason": "planned"})
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.DONE and awaiting.decided_by == personas.reviewer
    assert Grant.objects.filter(source_ref=awaiting.source_ref).count() == 3
    # The creator's own list shows no approval card.
    assert 'id="awaiting-approval"' not in login(personas.branch_admin).get(url("batch_list")).content.decode()


def test_rejecting_without_a_reason_is_refused_then_rejecting_grants_nothing(awaiting, login, personas):
    client = login(personas.reviewer)
    response = client.post(url("batch_reject", awaiting.pk), {"reason": ""}, follow=True)
    assert "Say why the batch is rejected." in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL
    client.post(url("batch_reject", awaiting.pk), {"reason": "over budget for the month"})
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.REJECTED and not Grant.objects.exists()


# ------------------------------------------------------------------ roles, scope, methods


def test_analysts_and_reviewers_cannot_dispatch(world, login, personas):
    for persona in (personas.analyst, personas.reviewer):
        client = login(persona)
        assert client.get(url("batch_new")).status_code == 403
        assert client.post(url("batch_preview"), search_data(world, world.bj)).status_code == 403
        assert client.post(url("batch_confirm"), {"token": "x"}).status_code == 403
        assert client.get(url("batch_customers"), {"q": "C"}, HTTP_HX_REQUEST="true").status_code == 403
    assert not DispatchBatch.objects.exists()


def test_operators_cannot_approve(awaiting, login, personas):
    assert login(personas.operator).post(url("batch_approve", awaiting.pk)).status_code == 403
    assert login(personas.analyst).post(url("batch_reject", awaiting.pk), {"reason": "x"}).status_code == 403


def test_batches_out_of_scope_answer_404(awaiting, login, personas):
    client = login(personas.outsider)
    for name in ("batch_detail", "batch_progress", "batch_report"):
        assert client.get(url(name, awaiting.pk)).status_code == 404
    for name in ("batch_approve", "batch_reject", "batch_resume"):
        assert client.post(url(name, awaiting.pk), {"reason": "x"}).status_code == 404
    assert f"#{awaiting.pk}" not in client.get(url("batch_list")).content.decode()
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL


def test_analysts_read_batches(awaiting, login, personas):
    client = login(personas.analyst)
    assert client.get(url("batch_list")).status_code == 200
    page = client.get(url("batch_detail", awaiting.pk)).content.decode()
    assert "Waiting for approval by a reviewer or branch admin." in page and 'id="approve-form"' not in page


def test_a_report_that_does_not_exist_yet_answers_404(awaiting, login, personas):
    assert login(personas.operator).get(url("batch_report", awaiting.pk)).status_code == 404


def test_resume_refuses_a_batch_that_is_not_stuck(awaiting, login, personas):
    response = login(personas.operator).post(url("batch_resume", awaiting.pk), follow=True)
    assert "nothing to resume" in response.content.decode()


def test_the_list_filters_by_status(awaiting, login, personas):
    client = login(personas.operator)
    assert f">#{awaiting.pk}<" in client.get(url("batch_list"), {"status": "awaiting_approval"}).content.decode()
    page = client.get(url("batch_list"), {"status": "done"}, HTTP_HX_REQUEST="true").content.decode()
    assert page.startswith('<div id="batch-table">') and f">#{awaiting.pk}<" not in page


@pytest.mark.parametrize(
    ("method", "name", "with_pk"),
    [
        ("post", "batch_list", False),
        ("delete", "batch_new", False),
        ("get", "batch_preview", False),
        ("get", "batch_confirm", False),
        ("post", "batch_customers", False),
        ("post", "batch_detail", True),
        ("post", "batch_progress", True),
        ("post", "batch_report", True),
        ("get", "batch_approve", True),
        ("get", "batch_reject", True),
        ("get", "batch_resume", True),
    ],
)
def test_wrong_methods_answer_405(awaiting, login, personas, method, name, with_pk):
    client = login(personas.ho_admin)
    target = url(name, awaiting.pk) if with_pk else url(name)
    assert getattr(client, method)(target).status_code == 405
