"""The CSV files an import gives back: the result (or error) report and the samples."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.files import File

from audiences.models import ImportBatch, ImportKind
from audiences.services.imports.checking import REF
from audiences.services.imports.reading import COLUMNS

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def import_sample_csv(*, kind: str, branch_code: str = "") -> bytes:
    """A header line and one example row, in UTF-8 with a BOM so Excel reads it."""
    required, optional = COLUMNS[kind]
    example = {
        ImportKind.CUSTOMERS: ["C000001", "张三", "13800138000", branch_code or "BJ", "2024-01-15", "VIP;PAYROLL"],
        ImportKind.TAGS: ["C000001", "VIP", "add"],
    }[kind]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*required, *optional])
    writer.writerow(example)
    return out.getvalue().encode("utf-8-sig")


def _cell(value: Any) -> Any:
    # A cell starting like a formula is run by Excel; customer numbers are safe.
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not REF.match(value):
        return "'" + value
    return value


def save_report(batch: ImportBatch, rows: Iterable[list[Any]]) -> None:
    """Write ``row, customer_ref, outcome, message`` as UTF-8 CSV with a BOM (Excel)
    into ``batch.report``; the caller saves the batch."""
    with tempfile.TemporaryFile() as tmp:
        text = io.TextIOWrapper(tmp, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(["row", "customer_ref", "outcome", "message"])
        for row in rows:
            writer.writerow([_cell(value) for value in row])
        text.flush()
        text.detach()
        tmp.seek(0)
        batch.report.save(f"{uuid.uuid4().hex}.csv", File(tmp, name="report.csv"), save=False)
