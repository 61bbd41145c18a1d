"""Reading an uploaded file: its type, its text encoding, its header row and its
data rows as a table of strings.

Two depths. ``sniff`` looks only at what is instant whatever the file's size:
the first bytes (a workbook named .csv, UTF-16, binary data, an encoding that is
neither UTF-8 nor GB18030) and, for a CSV, the header row; for a workbook, the
zip directory. ``load`` reads the whole file, with the same checks and the same
messages, and is what the check job and the import job use.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from audiences.models import ImportKind

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    ImportKind.CUSTOMERS: (("customer_ref", "name", "phone", "branch_code", "opened_on"), ("tags",)),
    ImportKind.TAGS: (("customer_ref", "tag_code"), ("action",)),
    # Tables other apps read with the same checks (rewards: coupon codes, dispatch lists).
    "coupon_codes": (("code",), ()),
    "customer_refs": (("customer_ref",), ()),
}
EXTENSIONS = (".csv", ".xlsx")
# An .xlsx is a zip; refuse "zip bombs" that unpack far beyond the upload limit.
XLSX_UNPACK_FACTOR = 10
# What ``sniff`` reads of a CSV: enough for the header row of any sane file.
HEAD_BYTES = 64 * 1024
READ_CHUNK = 1 << 20

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# ``(phase, done, total)``: reading reports bytes, the checks rows.
ProgressFn = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


def binary(fh):
    """pandas and openpyxl want the plain binary file, not Django's wrappers."""
    while isinstance(fh, File):
        fh = fh.file
    return fh


def digest(fh) -> str:
    fh.seek(0)
    sha256 = hashlib.sha256()
    while chunk := fh.read(READ_CHUNK):
        sha256.update(chunk)
    return sha256.hexdigest()


def check_upload(uploaded_file, kind: str) -> str:
    """Refuse an upload that cannot be the table asked for, before anything is
    stored: its extension, its size, then ``sniff``. Returns the extension."""
    ext = PurePath(uploaded_file.name or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise ValidationError(_("Upload a .csv or .xlsx file (an older .xls workbook: save it as .xlsx first)."))
    if uploaded_file.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError(
            _("The file is %(size)s; the largest file you can upload is %(max)s.")
            % {"size": filesizeformat(uploaded_file.size), "max": filesizeformat(settings.IMPORT_MAX_BYTES)}
        )
    if not uploaded_file.size:
        raise ValidationError(_("The file is empty."))
    sniff(uploaded_file, ext, kind)
    return ext


def read_upload(uploaded_file, kind: str) -> tuple[pd.DataFrame, np.ndarray]:
    """``check_upload`` then ``load``: a small table read within the request."""
    ext = check_upload(uploaded_file, kind)
    return load(uploaded_file, ext, kind)


def sniff(fh, ext: str, kind: str) -> None:
    """Refuse, from its first bytes, a file that cannot be the table asked for.

    Raises ValidationError. Passing says little about the rows: ``load`` may
    still refuse the file as a whole (a ragged row, no data rows, a workbook
    whose header is wrong), or the checks may find row errors.
    """
    fh = binary(fh)
    if ext == ".xlsx":
        _check_zip(fh)
        return
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    whole = not fh.read(1)
    text = None
    for candidate in _encoding_candidates(head):
        decoder = codecs.getincrementaldecoder(candidate)("strict")
        try:
            text = decoder.decode(head, final=whole)
        except UnicodeDecodeError:
            continue
        break
    if text is None:
        raise ValidationError(_undecodable())
    if "\x00" in text or _CONTROL.search(text):
        raise ValidationError(_("This is not a text CSV file (it contains binary data)."))
    if not whole:
        # The head ends mid-line: only complete lines count.
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1]
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            cells = [cell.strip() for cell in row]
            if any(cells):
                header_positions(cells, kind)
                return
    except csv.Error:
        return  # pandas, reading the whole file, says what is wrong


def load(fh, ext: str, kind: str, progress: ProgressFn | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The file's data rows as strings under canonical column names, and their
    row numbers as Excel shows them. Raises ValidationError for a file that
    is not a readable table of the expected columns."""
    fh = binary(fh)
    raw, numbers = _read_xlsx(fh) if ext == ".xlsx" else _read_csv(fh, progress or _no_progress)
    return _frame(raw, numbers, kind)


def header_positions(header: Sequence[str], kind: str, filled: np.ndarray | None = None) -> dict[str, int]:
    """Where each expected column is in ``header``; raises ValidationError.

    ``filled`` says which columns have values below the header (unknown when
    only the head of the file has been read).
    """
    from openpyxl.utils import get_column_letter

    header = [str(h).lstrip("\ufeff").strip().lower() for h in header]
    required, optional = COLUMNS[kind]
    expected = ", ".join([*required, *(f"[{c}]" for c in optional)])
    problems, positions = [], {}
    for index, title in enumerate(header):
        if not title:
            if filled is not None and filled[index]:
                problems.append(
                    _("Column %(letter)s has values but no name in the header row.")
                    % {"letter": get_column_letter(index + 1)}
                )
        elif title in positions:
            problems.append(_("Column %(name)s appears more than once.") % {"name": title})
        else:
            positions[title] = index
    missing = [c for c in required if c not in positions]
    unknown = [c for c in positions if c not in required and c not in optional]
    if missing:
        problems.append(_("Missing columns: %(names)s.") % {"names": ", ".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(names)s.") % {"names": ", ".join(unknown)})
    if problems:
        if len(positions) == 1 and any(sep in header[0] for sep in ";\t|"):
            problems.append(_("Separate the columns with commas (in Excel: save as CSV)."))
        problems.append(_("The first row must name the columns: %(expected)s.") % {"expected": expected})
        raise ValidationError(problems)
    return positions


# -------------------------------------------------------------------- CSV


def _undecodable() -> str:
    return _('The text could not be read as UTF-8 or GB18030; in Excel, save it as "CSV UTF-8".')


def _encoding_candidates(head: bytes) -> list[str]:
    if head.startswith(b"PK\x03\x04"):
        raise ValidationError(_("This is an Excel workbook, not a CSV file; upload it with the .xlsx extension."))
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValidationError(_('This text is UTF-16; in Excel, save it as "CSV UTF-8" or "CSV (comma delimited)".'))
    return ["utf-8-sig"] if head.startswith(codecs.BOM_UTF8) else ["utf-8", "gb18030"]


def _csv_encoding(fh, progress: ProgressFn) -> str:
    fh.seek(0)
    candidates = _encoding_candidates(fh.read(4))
    size = fh.seek(0, io.SEEK_END)
    for encoding in candidates:
        fh.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        done = 0
        try:
            while chunk := fh.read(READ_CHUNK):
                if b"\x00" in chunk or _CONTROL.search(decoder.decode(chunk)):
                    raise ValidationError(_("This is not a text CSV file (it contains binary data)."))
                done += len(chunk)
                progress("read", done, size)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ValidationError(_undecodable())


def _read_csv(fh, progress: ProgressFn) -> tuple[pd.DataFrame, np.ndarray]:
    encoding = _csv_encoding(fh, progress)
    fh.seek(0)
    try:
        raw = pd.read_csv(
            fh,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(_("The file is empty.")) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(_("The CSV file could not be read: %(error)s") % {"error": exc}) from exc
    return raw, np.arange(1, len(raw) + 1)


# ------------------------------------------------------------------- XLSX


def _not_xlsx() -> str:
    return _("This is not an Excel workbook (.xlsx), or it is password-protected.")


def _check_zip(fh) -> None:
    """The zip directory only: instant even for a large workbook."""
    fh.seek(0)
    if not zipfile.is_zipfile(fh):
        raise ValidationError(_not_xlsx())
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationError(_not_xlsx()) from exc
    if not {"[Content_Types].xml", "xl/workbook.xml"} <= names:
        raise ValidationError(_not_xlsx())
    if unpacked > XLSX_UNPACK_FACTOR * settings.IMPORT_MAX_BYTES:
        raise ValidationError(_("The workbook is too large once unpacked."))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(fh) -> tuple[pd.DataFrame, np.ndarray]:
    from openpyxl import load_workbook

    _check_zip(fh)
    fh.seek(0)
    try:
        workbook = load_workbook(fh, read_only=True, data_only=True, keep_links=False)
        try:
            sheet = workbook.worksheets[0]
            # Some writers record a wrong sheet size; read every row there is.
            sheet.reset_dimensions()
            data = [
                [_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ValidationError(_("The workbook could not be read: %(error)s") % {"error": exc}) from exc
    if not data:
        raise ValidationError(_("The file is empty."))
    width = max(len(row) for row in data)
    for row in data:
        row.extend([""] * (width - len(row)))
    raw = pd.DataFrame(data, dtype=str)
    return raw, np.arange(1, len(raw) + 1)


# ------------------------------------------------------------------ table


def _frame(raw: pd.DataFrame, numbers: np.ndarray, kind: str) -> tuple[pd.DataFrame, np.ndarray]:
    raw = raw.apply(lambda column: column.str.strip())
    filled = (raw != "").to_numpy()
    used = filled.any(axis=1)
    if not used.any():
        raise ValidationError(_("The file is empty."))
    top = int(np.argmax(used))  # the header is the first row with anything in it
    keep = used.copy()
    keep[: top + 1] = False
    positions = header_positions(list(raw.iloc[top]), kind, filled[keep].any(axis=0))
    body, numbers = raw[keep], numbers[keep]
    if not len(body):
        raise ValidationError(_("The file has a header row but no data rows."))
    frame = pd.DataFrame(
        {name: body.iloc[:, index].to_numpy() for name, index in positions.items()}, dtype=str
    )
    return frame, numbers
