"""Export helpers: inert formulas, streamed CSV, XLSX, customer rows fetched in chunks within scope."""

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse
from openpyxl import load_workbook

from audiences import exports


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Zhang San", "Zhang San"),
        ("a=b", "a=b"),
        ("", ""),
        (-2, -2),
        (None, None),
        (dt.date(2024, 1, 2), dt.date(2024, 1, 2)),
    ],
)
def test_safe_cell_makes_formula_starts_inert_and_leaves_the_rest(value, expected):
    assert exports.safe_cell(value) == expected


def test_csv_lines_start_with_a_bom_and_escape_every_text_cell():
    lines = list(
        exports.csv_lines(
            ["a", "=b"], [["=x", dt.date(2024, 3, 4), None, 5], ["张三", "-1", "", ""]]
        )
    )
    assert lines[0].startswith("\ufeff")
    rows = list(csv.reader(io.StringIO("".join(lines).lstrip("\ufeff"))))
    assert rows == [["a", "'=b"], ["'=x", "2024-03-04", "", "5"], ["张三", "'-1", "", ""]]


def test_csv_response_streams_lazily():
    consumed = []

    def rows():
        for i in range(3):
            consumed.append(i)
            yield [i]

    response = exports.csv_response(["n"], rows(), filename="n.csv")
    assert isinstance(response, StreamingHttpResponse) and consumed == []
    assert response["Content-Disposition"] == 'attachment; filename="n.csv"'
    body = b"".join(response.streaming_content).decode()
    assert consumed == [0, 1, 2] and body.endswith("0\r\n1\r\n2\r\n")


def test_xlsx_response_writes_the_rows_with_inert_formulas():
    response = exports.xlsx_response(
        ["name", "day"],
        [["=cmd|' /C calc'!A0", dt.date(2024, 1, 2)], ["ok", None]],
        filename="x.xlsx",
        title="Members",
    )
    assert (
        response["Content-Disposition"].startswith("attachment")
        and "x.xlsx" in response["Content-Disposition"]
    )
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook["Members"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("name", "day")
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and sheet["A2"].data_type == "s"
    assert rows[1][1].date() == dt.date(2024, 1, 2)
    assert rows[2] == ("ok", None)


def test_chunked_splits_any_iterable():
    assert list(exports.chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(exports.chunked([], 2)) == []


def test_customer_rows_fetch_by_chunks_in_scope_and_mask_phones(
    tree, personas, make_customers, django_assert_num_queries
):
    bj = make_customers(5, tree.bj)
    sh = make_customers(2, tree.sh, start=100)
    ids = [c.pk for c in bj + sh]
    with django_assert_num_queries(
        4
    ):  # one query per chunk of 2 (the user's branch is already loaded)
        rows = list(exports.customer_rows(ids, user=personas.branch_admin, chunk_size=2))
    # Shanghai's customers are outside the user's scope, whatever ids are asked for.
    assert [row[0] for row in rows] == [c.customer_ref for c in bj]
    assert rows[0] == ("C000000", "Customer 0", "138****0000", "BJ", dt.date(2024, 1, 15))
    full = list(exports.customer_rows(ids, user=personas.ho_admin))
    assert len(full) == 7 and full[0][2] == "13800000000"
