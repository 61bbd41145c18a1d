"""Manual dispatch batches: maker-checker, the job that grants, its report and progress."""

import csv
import io
import json
from decimal import Decimal

import django_rq
import pytest
import redis
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEntry
from rewards import selectors, services
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
def customers(tree, make_customers):
    return make_customers(3, tree.bj)


def create(actor, prize, customers, *, reason="Thank-you gift", request_id=""):
    return batches.batch_create(
        actor=actor, prize=prize, customer_ids=[c.pk for c in customers], selection=BatchSelection.SEARCH,
        selection_label="picked", reason=reason, request_id=request_id,
    )


def create_and_run(actor, prize, customers, capture, **kwargs):
    with capture(execute=True):
        batch = create(actor, prize, customers, **kwargs)
    batch.refresh_from_db()
    return batch


def report_of(batch):
    with batch.report.open("rb") as fh:
        return list(csv.DictReader(io.StringIO(fh.read().decode("utf-8-sig"))))


def test_a_batch_up_to_the_limit_is_queued_and_granted_by_its_job(
    prize, customers, personas, django_capture_on_commit_callbacks
):
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    assert batch.status == BatchStatus.DONE and batch.customer_count == 3
    assert batch.total_cost == Decimal("15.00")
    assert batch.summary["counts"]["granted"] == 3
    grants = Grant.objects.filter(source_ref=batch.source_ref)
    assert sorted(grants.values_list("idempotency_key", flat=True)) == sorted(
        f"batch:{batch.pk}:{c.pk}" for c in customers
    )
    assert set(grants.values_list("source", "created_by")) == {("manual dispatch", personas.operator.pk)}
    prize.refresh_from_db()
    assert prize.stock_available == 7
    entry = AuditEntry.objects.get(action="batch.create")
    assert entry.actor == personas.operator and entry.reason == "Thank-you gift"
    assert entry.changes["customers"] == 3
    assert selectors.reconcile() == []


def test_a_batch_above_the_limit_waits_for_approval_and_grants_nothing(
    prize, customers, personas, settings, django_capture_on_commit_callbacks
):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("14.99")
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    assert batch.status == BatchStatus.AWAITING_APPROVAL and batch.job_id == ""
    assert not Grant.objects.exists()


def test_a_batch_costing_exactly_the_limit_needs_no_approval(
    prize, customers, personas, settings, django_capture_on_commit_callbacks
):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("15.00")
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    assert batch.status == BatchStatus.DONE


@pytest.fixture
def awaiting(prize, customers, personas, settings):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("10")
    return create(personas.branch_admin, prize, customers)


def test_nobody_approves_or_rejects_their_own_batch(awaiting, personas):
    with pytest.raises(PermissionDenied):
        batches.batch_approve(actor=personas.branch_admin, batch=awaiting)
    with pytest.raises(PermissionDenied):
        batches.batch_reject(actor=personas.branch_admin, batch=awaiting, reason="changed my mind")
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL


def test_only_approvers_in_scope_decide(awaiting, personas):
    for actor in (personas.operator, personas.analyst, personas.outsider):
        with pytest.raises(PermissionDenied):
            batches.batch_approve(actor=actor, batch=awaiting)
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL


def test_approval_by_someone_else_queues_the_job_which_grants(
    awaiting, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batches.batch_approve(actor=personas.reviewer, batch=awaiting, reason="budgeted")
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.DONE
    assert awaiting.decided_by == personas.reviewer and awaiting.decision_reason == "budgeted"
    assert Grant.objects.filter(source_ref=awaiting.source_ref).count() == 3
    assert AuditEntry.objects.filter(action="batch.approve", actor=personas.reviewer).exists()
    with pytest.raises(ValidationError, match="already been approved or rejected"):
        batches.batch_approve(actor=personas.ho_admin, batch=awaiting)


def test_rejecting_needs_a_reason_and_grants_nothing(awaiting, personas, django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError, match="Say why"):
        batches.batch_reject(actor=personas.reviewer, batch=awaiting, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        batches.batch_reject(actor=personas.reviewer, batch=awaiting, reason="not in the plan")
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.REJECTED and awaiting.decision_reason == "not in the plan"
    assert not Grant.objects.exists()
    assert AuditEntry.objects.get(action="batch.reject").reason == "not in the plan"
    with pytest.raises(ValidationError):
        batches.batch_approve(actor=personas.ho_admin, batch=awaiting)


def test_approval_is_refused_when_stock_ran_short_meanwhile(awaiting, prize, personas):
    services.stock_adjust(actor=personas.branch_admin, prize=prize, delta=-8, reason="damaged")
    with pytest.raises(ValidationError, match="Not enough stock"):
        batches.batch_approve(actor=personas.reviewer, batch=awaiting)
    awaiting.refresh_from_db()
    assert awaiting.status == BatchStatus.AWAITING_APPROVAL


def test_running_the_job_twice_grants_once(prize, customers, personas, django_capture_on_commit_callbacks):
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    batches.batch_run(batch_id=batch.pk)
    assert Grant.objects.count() == 3
    prize.refresh_from_db()
    assert prize.stock_available == 7


def test_a_batch_left_running_by_a_dead_worker_resumes_without_granting_twice(
    prize, customers, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = create(personas.operator, prize, customers)
    # The dead worker claimed the batch and granted the first member, then died.
    first = customers[0]
    services.grant_create(
        prize=prize, customer=first, idempotency_key=batches.grant_key(batch, first.pk),
        source="manual dispatch", source_ref=batch.source_ref,
    )
    DispatchBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, job_id="gone-with-the-worker")
    batch.refresh_from_db()
    assert selectors.batch_stuck(batch=batch)
    with django_capture_on_commit_callbacks(execute=True):
        batches.batch_resume(actor=personas.operator, batch=batch)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert batch.summary["counts"]["granted"] == 2 and batch.summary["counts"]["already_granted"] == 1
    assert Grant.objects.filter(customer=first).count() == 1 and Grant.objects.count() == 3
    prize.refresh_from_db()
    assert prize.stock_available == 7


def test_a_batch_that_is_running_fine_cannot_be_resumed(prize, customers, personas):
    batch = create(personas.operator, prize, customers)  # on_commit never runs: its job is not in Redis
    job = django_rq.get_queue("default", is_async=True).enqueue("rewards.jobs.batch_run", 0)
    try:
        DispatchBatch.objects.filter(pk=batch.pk).update(job_id=job.id)
        batch.refresh_from_db()
        assert not selectors.batch_stuck(batch=batch)
        with pytest.raises(ValidationError, match="not stuck"):
            batches.batch_resume(actor=personas.operator, batch=batch)
    finally:
        job.delete()


def test_stock_short_at_run_time_counts_sold_out_and_grants_the_rest(
    prize, personas, tree, make_customers, django_capture_on_commit_callbacks
):
    five = make_customers(5, tree.bj)
    with django_capture_on_commit_callbacks(execute=False):
        batch = create(personas.operator, prize, five)
    services.stock_adjust(actor=personas.branch_admin, prize=prize, delta=-7, reason="given at the counter")
    batches.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert batch.summary["counts"]["granted"] == 3 and batch.summary["counts"]["sold_out"] == 2
    outcomes = sorted(row["outcome"] for row in report_of(batch))
    assert outcomes == ["granted"] * 3 + ["sold_out"] * 2
    prize.refresh_from_db()
    assert prize.stock_available == 0


def test_budget_used_up_at_run_time_is_counted(pool, personas, tree, make_customers, django_capture_on_commit_callbacks):
    dear = services.prize_create(
        actor=personas.branch_admin, pool=pool, code="GIFT30", name="Tea set", kind="gift", unit_cost=Decimal("30.00")
    )
    services.stock_add(actor=personas.branch_admin, prize=dear, quantity=10, reason="stock")
    *three, other = make_customers(4, tree.bj)
    with django_capture_on_commit_callbacks(execute=False):
        batch = create(personas.operator, dear, three)
    services.grant_create(prize=dear, customer=other, idempotency_key="elsewhere", source="campaign")
    batches.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.summary["counts"]["granted"] == 2 and batch.summary["counts"]["budget"] == 1
    pool.refresh_from_db()
    assert pool.budget_available == Decimal("10.00")


def test_the_report_lists_every_customer_with_outcome_and_grant(
    prize, customers, personas, django_capture_on_commit_callbacks
):
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    with batch.report.open("rb") as fh:
        raw = fh.read()
    assert raw.startswith(b"\xef\xbb\xbfcustomer_ref,outcome,grant_id,message\r\n")
    rows = report_of(batch)
    grants = {g.customer.customer_ref: g.pk for g in Grant.objects.select_related("customer")}
    assert {row["customer_ref"]: int(row["grant_id"]) for row in rows} == grants
    assert {row["outcome"] for row in rows} == {"granted"}


def test_the_job_writes_its_progress_to_redis(prize, customers, personas, django_capture_on_commit_callbacks):
    batch = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks)
    raw = django_rq.get_connection("default").get(selectors.batch_progress_key(batch))
    assert json.loads(raw) == {"done": 3, "total": 3}
    batch.status = BatchStatus.RUNNING  # as the page sees it while the job runs
    assert selectors.batch_progress_get(batch=batch) == {"done": 3, "total": 3, "percent": 100}


def test_a_redis_hiccup_does_not_stop_the_job(
    prize, customers, personas, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = create(personas.operator, prize, customers)

    class Broken:
        def set(self, *args, **kwargs):
            raise redis.ConnectionError("lost")

    monkeypatch.setattr(batches.django_rq, "get_connection", lambda name: Broken())
    batches.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and Grant.objects.count() == 3


def test_an_unexpected_error_fails_the_batch_and_resuming_finishes_it(
    prize, customers, personas, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        batch = create(personas.operator, prize, customers)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(batches, "grant_create", broken)
        batches.batch_run(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and "RuntimeError: database went away" in batch.failure
    with django_capture_on_commit_callbacks(execute=True):
        batches.batch_resume(actor=personas.operator, batch=batch)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and Grant.objects.count() == 3


def test_customers_outside_the_scope_or_unknown_are_refused(prize, customers, personas, tree, make_customers):
    (shanghai,) = make_customers(1, tree.sh, start=100)
    with pytest.raises(ValidationError, match="not in your scope"):
        batches.batch_create(
            actor=personas.operator, prize=prize, customer_ids=[customers[0].pk, shanghai.pk],
            selection=BatchSelection.SEARCH, selection_label="", reason="x",
        )
    with pytest.raises(ValidationError, match="not in your scope"):
        batches.batch_create(
            actor=personas.operator, prize=prize, customer_ids=[customers[0].pk, 999_999],
            selection=BatchSelection.SEARCH, selection_label="", reason="x",
        )
    assert not DispatchBatch.objects.exists()


def test_a_batch_is_refused_when_stock_or_budget_cannot_cover_it(prize, personas, tree, make_customers):
    eleven = make_customers(11, tree.bj)
    with pytest.raises(ValidationError, match="Not enough stock"):
        create(personas.operator, prize, eleven)
    services.stock_add(actor=personas.branch_admin, prize=prize, quantity=100, reason="more")
    twenty_one = eleven + make_customers(10, tree.bj, start=50)
    with pytest.raises(ValidationError, match="Not enough budget"):
        create(personas.operator, prize, twenty_one)
    assert not DispatchBatch.objects.exists()


def test_a_batch_needs_a_reason_and_customers(prize, customers, personas):
    with pytest.raises(ValidationError, match="Say why"):
        create(personas.operator, prize, customers, reason=" ")
    with pytest.raises(ValidationError, match="at least one customer"):
        create(personas.operator, prize, [])
    assert not DispatchBatch.objects.exists()


def test_only_dispatchers_in_scope_create_batches(prize, customers, personas):
    for actor in (personas.analyst, personas.reviewer, personas.outsider):
        with pytest.raises(PermissionDenied):
            create(actor, prize, customers)
    assert not DispatchBatch.objects.exists()


def test_the_same_confirmation_twice_makes_one_batch(prize, customers, personas, django_capture_on_commit_callbacks):
    first = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks, request_id="r1")
    again = create_and_run(personas.operator, prize, customers, django_capture_on_commit_callbacks, request_id="r1")
    assert first.pk == again.pk and DispatchBatch.objects.count() == 1 and Grant.objects.count() == 3


def test_the_dashboard_shows_failed_grants_and_batches_waiting_for_someone_elses_approval(
    settings, login, personas, prize, customers
):
    settings.REWARDS_BATCH_APPROVAL_ABOVE = Decimal("1")
    create(personas.branch_admin, prize, customers)
    grant = services.grant_create(prize=prize, customer=customers[0], idempotency_key="dash", source="t")
    Grant.objects.filter(pk=grant.pk).update(status="failed")

    def cards(user):
        return {c.key: c.count for c in login(user).get(reverse("dashboard")).context["cards"]}

    reviewer = cards(personas.reviewer)
    assert (reviewer["batches_to_approve"], reviewer["failed_grants"]) == (1, 1)
    assert cards(personas.branch_admin)["batches_to_approve"] == 0  # their own batch
    assert "batches_to_approve" not in cards(personas.operator)  # operators approve nothing
    outsider = cards(personas.outsider)
    assert (outsider["batches_to_approve"], outsider["failed_grants"]) == (0, 0)
