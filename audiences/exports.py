"""Tabular exports (CSV and XLSX) that are safe to open in a spreadsheet.

Generic helpers — a header, an iterable of rows, a file name — plus the rows
of a customer export. Any export of the project can reuse them:

    exports.csv_response(header, rows, filename="x.csv")    # streamed
    exports.xlsx_response(header, rows, filename="x.xlsx", title="…")

Every text cell goes through ``safe_cell``: a spreadsheet treats a cell that
starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return that hides
one) as a formula, so a customer named ``=HYPERLINK(…)`` would run in the
reader's Excel. Such cells get a leading single quote (OWASP's advice).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook

from audiences import selectors
from audiences.models import Customer

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000
CUSTOMER_HEADER = ("customer_ref", "name", "phone", "branch", "opened_on")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel opens a UTF-8 CSV with Chinese names correctly only when it starts with a BOM.
BOM = "\ufeff"


def safe_cell(value: Any) -> Any:
    """The value, with text that a spreadsheet would run as a formula made inert."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class _Echo:
    """A write-only file whose ``write`` hands the line back, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(safe_row(header))
    for row in rows:
        yield writer.writerow(safe_row(_text(value) for value in row))


def _text(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return "" if value is None else value


def csv_response(
    header: Sequence[str], rows: Iterable[Iterable[Any]], *, filename: str
) -> StreamingHttpResponse:
    """A CSV download produced row by row while it is sent (no file in memory)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def xlsx_response(
    header: Sequence[str], rows: Iterable[Iterable[Any]], *, filename: str, title: str = "Export"
) -> FileResponse:
    """An XLSX download; openpyxl's write-only mode keeps memory flat, the file is spooled to disk."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(safe_row(row))
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once it is sent
    workbook.save(handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
    )


def chunked(ids: Iterable[int], size: int = CHUNK_SIZE) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


def customer_rows(ids: Iterable[int], *, user, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple]:
    """``CUSTOMER_HEADER`` rows for the customer ids (for example a segment's
    member bitmap), fetched ``chunk_size`` at a time, in id order, and only
    within ``user``'s scope. The phone is masked unless the user's role sees it
    in full."""
    full_phone = selectors.sees_full_phone(user)
    scoped = Customer.objects.visible_to(user).order_by("pk")
    columns = ("customer_ref", "name", "phone", "branch__code", "opened_on")
    for chunk in chunked(ids, chunk_size):
        for ref, name, phone, branch_code, opened_on in scoped.filter(pk__in=chunk).values_list(
            *columns
        ):
            yield (
                ref,
                name,
                phone if full_phone else selectors.mask_phone(phone),
                branch_code,
                opened_on,
            )
