"""Coupon codes: a coupon prize's stock is its uploaded codes.

An upload reads a CSV or XLSX with one column, ``code``, through the same
reader as the customer imports (``audiences.services.imports.reading``: type
by content, text encodings, binary junk, zip bombs, the header row). It is all
or nothing: one bad row and nothing is written, and the caller gets every row
error (the first ``SHOWN_ERRORS`` of them spelt out). A clean file adds its
codes and the same number of units of stock, with one ledger movement, in one
transaction.

Each code is issued at most once: the database refuses a code twice for one
prize, and the upload also refuses a code that any prize of the same
transfer family already has (stock transfers move codes between them, so the
same code in two of them could be granted twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import Verb, can
from accounts.services import audit_record
from audiences.services.imports import reading
from rewards.models import CouponCode, MovementKind, Prize, PrizeKind
from rewards.services import ledger

KIND = "coupon_codes"
SHOWN_ERRORS = 200
CHUNK = 5000
MAX_LENGTH = CouponCode._meta.get_field("code").max_length
# Spreadsheets and chat tools leave zero-width characters around pasted codes.
_INVISIBLE = r"[\u200b\u200c\u200d\u2060\ufeff]"
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class RowError:
    row: int
    code: str
    message: str


@dataclass
class CodesUpload:
    """What an upload did: ``added`` codes, or (and then nothing was written) its row errors."""

    added: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


def coupon_codes_add(*, actor, prize: Prize, uploaded_file) -> CodesUpload:
    """Add a file's coupon codes to a coupon prize and its stock by as many units.

    Raises ValidationError for a file that cannot be read as a table of codes,
    PermissionDenied for an actor who may not manage the prize's pool.
    """
    if not can(actor, Verb.MANAGE_POOLS, prize):
        raise PermissionDenied
    if prize.kind != PrizeKind.COUPON:
        raise ValidationError(_("Only a coupon prize takes coupon codes."))
    name = PurePath(uploaded_file.name or "").name
    frame, numbers = reading.read_upload(uploaded_file, KIND)
    codes = frame["code"].str.replace(_INVISIBLE, "", regex=True).str.strip().tolist()
    rows = [int(n) for n in numbers]
    errors, first_row = _file_errors(codes, rows)
    # Synchronous on purpose: 100,000 codes are read, checked and inserted in a
    # few seconds, well inside a request, and one transaction keeps the upload
    # all or nothing. Larger code pools are split into several files.
    with transaction.atomic():
        # The prize row lock serialises uploads for one prize, so the check for
        # codes it already has cannot race another upload of the same codes.
        list(Prize.objects.select_for_update().filter(pk=prize.pk).values_list("pk"))
        known = _known_codes(_family(prize), list(first_row))
        errors += [
            RowError(row, code, _("%(code)s was already uploaded for this prize.") % {"code": code})
            for code, row in first_row.items()
            if code in known
        ]
        if errors:
            errors.sort(key=lambda e: e.row)
            return CodesUpload(errors=errors[:SHOWN_ERRORS], error_count=len(errors))
        CouponCode.objects.bulk_create(
            [CouponCode(prize=prize, code=code) for code in first_row], batch_size=CHUNK
        )
        added = len(first_row)
        reason = (_("Coupon codes uploaded: %(file)s") % {"file": name})[:200]
        ledger.stock_add(
            actor=actor, prize=prize, quantity=added, reason=reason, kind=MovementKind.ADDED, _with_codes=True
        )
        audit_record(actor=actor, action="coupon_codes.add", obj=prize, changes={"codes": added, "file": name})
    prize.refresh_from_db(fields=["stock_available"])
    return CodesUpload(added=added)


def _file_errors(codes: list[str], rows: list[int]) -> tuple[list[RowError], dict[str, int]]:
    """Blank, malformed and repeated codes; and each good code's first row."""
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for code, row in zip(codes, rows, strict=True):
        if not code:
            errors.append(RowError(row, code, _("The code is blank.")))
        elif len(code) > MAX_LENGTH or _WHITESPACE.search(code):
            errors.append(
                RowError(row, code, _("A code has at most %(max)d characters and no spaces.") % {"max": MAX_LENGTH})
            )
        elif code in first_row:
            errors.append(
                RowError(row, code, _("%(code)s is also on row %(row)d.") % {"code": code, "row": first_row[code]})
            )
        else:
            first_row[code] = row
    return errors, first_row


def _family(prize: Prize) -> set[int]:
    """The prize, the prize its stock came from, and so on up and back down:
    every prize that stock transfers can move this coupon's codes between."""
    root_id = prize.pk
    source_id = prize.source_prize_id
    while source_id is not None:
        root_id = source_id
        source_id = Prize.objects.filter(pk=source_id).values_list("source_prize_id", flat=True).get()
    family, frontier = {root_id}, [root_id]
    while frontier:
        frontier = list(
            Prize.objects.filter(source_prize__in=frontier).exclude(pk__in=family).values_list("pk", flat=True)
        )
        family.update(frontier)
    return family


def _known_codes(family: set[int], codes: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        known.update(
            CouponCode.objects.filter(prize_id__in=family, code__in=chunk).values_list("code", flat=True)
        )
    return known


def coupon_sample_csv() -> str:
    """A file to start from: the header row and a few made-up codes."""
    return "code\r\n" + "".join(f"SAMPLE-{n:04d}\r\n" for n in range(1, 6))
