"""Coupon-code uploads: CSV or XLSX, all or nothing, each code issued at most once."""

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from accounts.models import AuditEntry
from rewards import selectors, services
from rewards.models import CouponCode, Prize, StockMovement
from rewards.services import codes


def csv_file(lines, *, name="codes.csv", encoding="utf-8", header="code"):
    text = "".join(f"{line}\r\n" for line in ([header] if header is not None else []) + list(lines))
    return SimpleUploadedFile(name, text.encode(encoding))


def xlsx_file(values, *, name="codes.xlsx", header="code"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([header])
    for value in values:
        sheet.append([value])
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile(name, out.getvalue())


@pytest.fixture
def coupon(pool, personas):
    return services.prize_create(
        actor=personas.branch_admin, pool=pool, code="COFFEE", name="Coffee coupon", kind="coupon", unit_cost=Decimal("2")
    )


@pytest.fixture
def upload(personas, coupon):
    def run(uploaded_file, *, prize=None, actor=None):
        return codes.coupon_codes_add(actor=actor or personas.branch_admin, prize=prize or coupon, uploaded_file=uploaded_file)

    return run


def state(prize):
    """Everything an upload may write, to check that a refused one wrote none of it."""
    prize.refresh_from_db()
    return (
        prize.stock_available,
        sorted(CouponCode.objects.filter(prize=prize).values_list("code", flat=True)),
        StockMovement.objects.filter(prize=prize).count(),
        AuditEntry.objects.filter(action="coupon_codes.add").count(),
    )


# --- happy paths -------------------------------------------------------------------


def test_a_csv_of_codes_adds_them_and_as_many_units_of_stock(upload, coupon, personas):
    result = upload(csv_file(["  AB-001 ", "AB-002", "AB-003"]))
    assert result.ok and result.added == 3
    coupon.refresh_from_db()
    assert coupon.stock_available == 3
    assert sorted(coupon.coupon_codes.values_list("code", flat=True)) == ["AB-001", "AB-002", "AB-003"]
    movement = StockMovement.objects.get(prize=coupon)
    assert (movement.kind, movement.delta, movement.actor) == ("added", 3, personas.branch_admin)
    assert "codes.csv" in movement.reason
    assert AuditEntry.objects.get(action="coupon_codes.add").changes == {"codes": 3, "file": "codes.csv"}
    assert selectors.reconcile() == []


def test_a_second_file_adds_to_the_stock_of_the_first(upload, coupon):
    upload(csv_file(["A1", "A2"]))
    upload(csv_file(["A3"], name="more.csv"))
    coupon.refresh_from_db()
    assert coupon.stock_available == 3 and coupon.coupon_codes.count() == 3


def test_an_xlsx_workbook_is_read_like_a_csv(upload, coupon):
    result = upload(xlsx_file(["X-1", "X-2", 12345]))
    assert result.added == 3
    assert sorted(coupon.coupon_codes.values_list("code", flat=True)) == ["12345", "X-1", "X-2"]
    coupon.refresh_from_db()
    assert coupon.stock_available == 3


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_a_csv_saved_by_chinese_excel_keeps_its_chinese_codes(upload, coupon, encoding):
    result = upload(csv_file(["咖啡券0001", "咖啡券0002"], encoding=encoding))
    assert result.added == 2
    assert sorted(coupon.coupon_codes.values_list("code", flat=True)) == ["咖啡券0001", "咖啡券0002"]


def test_many_codes_are_checked_and_written_in_chunks(upload, coupon, monkeypatch):
    monkeypatch.setattr(codes, "CHUNK", 7)
    upload(csv_file([f"OLD{i}" for i in range(10)]))
    new = [f"NEW{i}" for i in range(40)]
    result = upload(csv_file(new + [f"OLD{i}" for i in range(10)]))
    assert not result.ok and result.error_count == 10  # every known code is found, whichever chunk it is in
    assert [e.row for e in result.errors] == list(range(42, 52))
    result = upload(csv_file(new))
    assert result.added == 40
    coupon.refresh_from_db()
    assert coupon.stock_available == 50 and coupon.coupon_codes.count() == 50


# --- row errors: nothing written, every bad row named -------------------------------


def test_a_code_twice_in_the_file_is_refused_with_both_rows_and_nothing_is_written(upload, coupon):
    before = state(coupon)
    result = upload(csv_file(["A1", "A2", "A1", "A3", "A2"]))
    assert not result.ok and result.added == 0 and result.error_count == 2
    assert [(e.row, e.code) for e in result.errors] == [(4, "A1"), (6, "A2")]
    assert result.errors[0].message == "A1 is also on row 2."
    assert state(coupon) == before


def test_a_code_the_prize_already_has_is_refused(upload, coupon):
    upload(csv_file(["A1", "A2"]))
    before = state(coupon)
    result = upload(csv_file(["A3", "A2"]))
    assert [(e.row, e.message) for e in result.errors] == [(3, "A2 was already uploaded for this prize.")]
    assert state(coupon) == before


def test_a_code_moved_to_a_branch_pool_cannot_be_uploaded_again_upstream(personas, tree):
    ho_pool = services.pool_create(actor=personas.ho_admin, code="HO-P", name="HO pool", owner_branch=tree.ho)
    bj_pool = services.pool_create(actor=personas.ho_admin, code="BJ-P", name="BJ pool", owner_branch=tree.bj)
    coupon = services.prize_create(
        actor=personas.ho_admin, pool=ho_pool, code="CPN", name="Coupon", kind="coupon", unit_cost=Decimal("1")
    )
    codes.coupon_codes_add(actor=personas.ho_admin, prize=coupon, uploaded_file=csv_file(["K1", "K2", "K3"]))
    branch_coupon = services.stock_transfer(actor=personas.ho_admin, prize=coupon, target_pool=bj_pool, quantity=2)
    moved = set(branch_coupon.coupon_codes.values_list("code", flat=True))
    assert len(moved) == 2
    again = codes.coupon_codes_add(actor=personas.ho_admin, prize=coupon, uploaded_file=csv_file(sorted(moved)))
    assert again.error_count == 2  # the same code in both pools could be granted twice
    down = codes.coupon_codes_add(actor=personas.branch_admin, prize=branch_coupon, uploaded_file=csv_file(["K1", "K2", "K3"]))
    assert down.error_count == 3
    assert CouponCode.objects.count() == 3 and selectors.reconcile() == []


def test_a_blank_or_malformed_code_is_refused(upload, coupon):
    before = state(coupon)
    # A code made only of a zero-width space (pasted from a chat) is blank once cleaned.
    result = upload(csv_file(["A1", "\u200b", "AB CD", "X" * 81, "\ufeffA5\u200b"]))
    assert [(e.row, e.message) for e in result.errors] == [
        (3, "The code is blank."),
        (4, "A code has at most 80 characters and no spaces."),
        (5, "A code has at most 80 characters and no spaces."),
    ]
    assert state(coupon) == before
    assert upload(csv_file(["A1", "\ufeffA5\u200b"])).added == 2
    assert set(coupon.coupon_codes.values_list("code", flat=True)) == {"A1", "A5"}


def test_blank_lines_between_codes_are_skipped(upload, coupon):
    result = upload(csv_file(["A1", "", "   ", "A2"]))
    assert result.added == 2


def test_only_the_first_errors_are_spelt_out_but_all_are_counted(upload, coupon, monkeypatch):
    monkeypatch.setattr(codes, "SHOWN_ERRORS", 3)
    result = upload(csv_file(["A1"] * 6))
    assert result.error_count == 5 and [e.row for e in result.errors] == [3, 4, 5]


# --- files refused as a whole -----------------------------------------------------------


def _zip_bomb():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 200_000)
    return out.getvalue()


BAD_FILES = {
    "wrong header": (csv_file(["A1"], header="coupon"), "Missing columns: code"),
    "extra column": (csv_file(["A1,x"], header="code,note"), "Unknown columns: note"),
    "binary junk": (SimpleUploadedFile("codes.csv", b"code\nA1\n\x00\x01\x02 junk\n"), "binary data"),
    "not text at all": (SimpleUploadedFile("codes.csv", b"code\n" + bytes(range(128, 256)) * 4), "could not be read"),
    "workbook named .csv": (SimpleUploadedFile("codes.csv", xlsx_file(["A1"]).read()), "Excel workbook"),
    "csv named .xlsx": (SimpleUploadedFile("codes.xlsx", b"code\nA1\n"), "not an Excel workbook"),
    "wrong extension": (SimpleUploadedFile("codes.txt", b"code\nA1\n"), "Upload a .csv or .xlsx file"),
    "empty": (SimpleUploadedFile("codes.csv", b""), "The file is empty."),
    "header only": (csv_file([]), "no data rows"),
    "utf-16": (SimpleUploadedFile("codes.csv", "code\nA1\n".encode("utf-16")), "UTF-16"),
    "zip bomb": (SimpleUploadedFile("codes.xlsx", _zip_bomb()), "too large once unpacked"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_file_that_is_not_a_table_of_codes_is_refused_and_writes_nothing(upload, coupon, case, settings):
    settings.IMPORT_MAX_BYTES = 10_000  # the zip bomb unpacks to 20 times that
    uploaded_file, message = BAD_FILES[case]
    uploaded_file.seek(0)
    before = state(coupon)
    with pytest.raises(ValidationError) as exc:
        upload(uploaded_file)
    assert message in " ".join(exc.value.messages)
    assert state(coupon) == before


def test_a_file_above_the_size_limit_is_refused(upload, coupon, settings):
    settings.IMPORT_MAX_BYTES = 50
    before = state(coupon)
    with pytest.raises(ValidationError) as exc:
        upload(csv_file([f"CODE-{i:04d}" for i in range(10)]))
    assert "the largest file you can upload is 50" in exc.value.messages[0]
    assert state(coupon) == before


def test_a_prize_that_is_not_a_coupon_takes_no_codes(upload, prize):
    with pytest.raises(ValidationError) as exc:
        upload(csv_file(["A1"]), prize=prize)
    assert exc.value.messages == ["Only a coupon prize takes coupon codes."]
    prize.refresh_from_db()
    assert prize.stock_available == 10 and not CouponCode.objects.exists()


@pytest.mark.parametrize("who", ["operator", "analyst", "outsider"])
def test_only_pool_managers_in_scope_upload_codes(upload, coupon, personas, who):
    with pytest.raises(PermissionDenied):
        upload(csv_file(["A1"]), actor=getattr(personas, who))
    assert state(coupon)[:2] == (0, [])


def test_coupon_stock_is_still_refused_without_codes(coupon, personas):
    with pytest.raises(ValidationError):
        services.stock_add(actor=personas.branch_admin, prize=coupon, quantity=5, reason="no codes")
    assert Prize.objects.get(pk=coupon.pk).stock_available == 0


# --- issuing -------------------------------------------------------------------------


def test_each_uploaded_code_is_issued_to_one_grant(upload, coupon, tree, make_customers):
    upload(csv_file(["Q1", "Q2", "Q3"]))
    customers = make_customers(4, tree.bj)
    grants = [
        services.grant_create(prize=coupon, customer=c, idempotency_key=f"q{i}", source="test")
        for i, c in enumerate(customers[:3])
    ]
    assert sorted(g.coupon_code.code for g in grants) == ["Q1", "Q2", "Q3"]
    with pytest.raises(ValidationError) as exc:
        services.grant_create(prize=coupon, customer=customers[3], idempotency_key="q3", source="test")
    assert exc.value.code == "sold_out"
    assert selectors.coupon_code_counts(prize=coupon) == {"available": 0, "issued": 3}
    assert selectors.reconcile() == []


def test_the_sample_file_uploads_as_it_is(upload, coupon):
    result = upload(SimpleUploadedFile("sample.csv", codes.coupon_sample_csv().encode()))
    assert result.added == 5
