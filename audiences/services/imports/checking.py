"""Checking a file's rows: each row's errors and, for the valid rows, what
importing them would do (created, updated, unchanged; tag added or removed).

A *plan* is a checked file. Its counts are the preview; its ``write`` imports
the rows (the import job calls it inside one transaction, after checking the
file again); its report rows are the result report.

Files are checked column by column with vectorised operations; the database is
asked in chunks of ``CHUNK`` refs, never once per row, so a million-row file
stays practical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch
from audiences import bitmaps
from audiences.models import Customer, ImportBatch, ImportKind, Tag, TagSource
from audiences.services.customers import CustomerRow, customers_upsert
from audiences.services.imports.reading import ProgressFn
from audiences.services.tagging import customer_tags_add, customer_tags_remove

CHUNK = 5000
SHOWN_ERRORS = 200

CREATED, UPDATED, UNCHANGED, ADDED, REMOVED = 1, 2, 3, 4, 5
OUTCOMES = {0: "error", CREATED: "created", UPDATED: "updated", UNCHANGED: "unchanged", ADDED: "added", REMOVED: "removed"}
NAME, PHONE, BRANCH, OPENED = 1, 2, 4, 8  # changed-field bits of an updated customer
ACTIONS = {"": True, "add": True, "添加": True, "remove": False, "删除": False, "移除": False}

REF = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class ImportRejected(Exception):
    """The file no longer passes its checks when the job runs."""


def check(kind: str, frame: pd.DataFrame, numbers: np.ndarray, scope, progress: ProgressFn | None = None) -> Plan:
    plan_class = _CustomerPlan if kind == ImportKind.CUSTOMERS else _TagPlan
    return plan_class(frame, numbers, scope, progress or (lambda *args: None))


@dataclass
class _Finding:
    positions: np.ndarray
    column: str
    message: Callable[[int], str]


class _Problems:
    """Row errors, found a column at a time; counts them all, formats few."""

    def __init__(self, numbers: np.ndarray, refs: np.ndarray) -> None:
        self.numbers = numbers
        self.refs = refs
        self.bad = np.zeros(len(numbers), dtype=bool)
        self.findings: list[_Finding] = []

    def add(self, where, column: str, message: Callable[[int], str]) -> None:
        where = np.asarray(where)
        positions = np.flatnonzero(where) if where.dtype == bool else where.astype(np.int64)
        if len(positions):
            self.bad[positions] = True
            self.findings.append(_Finding(np.sort(positions), column, message))

    @property
    def count(self) -> int:
        return sum(len(f.positions) for f in self.findings)

    def _ordered(self, limit: int | None) -> Iterator[tuple[int, _Finding]]:
        # Each finding's positions are sorted, so the overall first ``limit``
        # errors are among the first ``limit`` of each finding.
        parts = [(f.positions if limit is None else f.positions[:limit], i) for i, f in enumerate(self.findings)]
        if not parts:
            return
        positions = np.concatenate([p for p, _i in parts])
        which = np.concatenate([np.full(len(p), i) for p, i in parts])
        order = np.lexsort((which, self.numbers[positions]))
        if limit is not None:
            order = order[:limit]
        for k in order:
            yield int(positions[k]), self.findings[int(which[k])]

    def first(self, limit: int) -> list[dict[str, Any]]:
        return [
            {"row": int(self.numbers[p]), "column": f.column, "message": str(f.message(p))}
            for p, f in self._ordered(limit)
        ]

    def report_rows(self) -> Iterator[list[Any]]:
        for p, f in self._ordered(None):
            yield [int(self.numbers[p]), self.refs[p], "error", f"{f.column}: {f.message(p)}"]


def _check_refs(frame: pd.DataFrame, problems: _Problems) -> np.ndarray:
    """Marks missing and malformed customer numbers; returns the well-formed mask."""
    refs = frame["customer_ref"]
    empty = (refs == "").to_numpy()
    malformed = ~empty & ~refs.str.fullmatch(REF).to_numpy(dtype=bool)
    problems.add(empty, "customer_ref", lambda p: _("Required."))
    problems.add(
        malformed,
        "customer_ref",
        lambda p: _("%(value)s is not a customer number (letters, digits, '.', '-', '_'; at most 32).")
        % {"value": problems.refs[p]},
    )
    return ~empty & ~malformed


def _visible_tags(scope) -> dict[str, Tag]:
    return {t.code: t for t in Tag.objects.visible_to(scope).only("pk", "code", "is_active", "name_zh", "name_en")}


def _customers_by_ref(refs: Sequence[str], fields: Sequence[str]) -> Iterator[tuple[int, dict[str, tuple]]]:
    """``(done, {ref: row})`` for ``refs`` in chunks, one query per chunk."""
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start : start + CHUNK]
        found = Customer.objects.filter(customer_ref__in=chunk).values_list("customer_ref", *fields)
        yield start + len(chunk), {row[0]: row[1:] for row in found}


class Plan:
    """A checked file: its row errors, each valid row's outcome, and how to write it."""

    def __init__(self, frame: pd.DataFrame, numbers: np.ndarray, scope, progress) -> None:
        self.frame = frame
        self.numbers = numbers
        self.refs = frame["customer_ref"].to_numpy(dtype=object)
        self.problems = _Problems(numbers, self.refs)
        self.outcome = np.zeros(len(frame), dtype=np.int8)
        self.scope = scope
        self.progress = progress

    def counts(self) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, batch: ImportBatch, source_ref: str, progress: ProgressFn) -> dict[str, int]:
        raise NotImplementedError

    def report_rows(self) -> Iterator[list[Any]]:
        raise NotImplementedError


class _CustomerPlan(Plan):
    def __init__(self, frame, numbers, scope, progress) -> None:
        super().__init__(frame, numbers, scope, progress)
        n = len(frame)
        problems = self.problems
        ref_ok = _check_refs(frame, problems)

        duplicated = frame["customer_ref"].duplicated(keep=False).to_numpy() & ref_ok
        if duplicated.any():
            at = np.flatnonzero(duplicated)
            firsts = pd.Series(numbers[at]).groupby(self.refs[at]).transform("min").to_numpy()
            first_row = dict(zip(at.tolist(), firsts.tolist(), strict=True))
            problems.add(
                at,
                "customer_ref",
                lambda p: _("%(value)s appears more than once in this file (first at row %(row)s).")
                % {"value": self.refs[p], "row": first_row[p]},
            )

        names = frame["name"]
        self.names = names.to_numpy(dtype=object)
        problems.add((names == "").to_numpy(), "name", lambda p: _("Required."))
        problems.add((names.str.len() > 100).to_numpy(), "name", lambda p: _("At most 100 characters."))

        raw_phone = frame["phone"]
        raw_phones = raw_phone.to_numpy(dtype=object)
        self.phones = raw_phones.copy()
        bad_phone = np.zeros(n, dtype=bool)
        # Most cells are empty or a plain mobile number; only the rest are normalised.
        rest = np.flatnonzero(~((raw_phone == "") | raw_phone.str.fullmatch(r"1[3-9]\d{9}")).to_numpy(dtype=bool))
        if len(rest):
            spaced = raw_phone.iloc[rest].str.replace(r"\s+", "", regex=True)
            mobile = spaced.str.replace(r"[-()]", "", regex=True).str.extract(
                r"^(?:\+?86)?(1[3-9]\d{9})$", expand=False
            )
            landline = spaced.str.fullmatch(r"0\d{2,3}-?\d{7,8}").to_numpy(dtype=bool)
            is_mobile = mobile.notna().to_numpy()
            self.phones[rest] = np.where(is_mobile, mobile.fillna("").to_numpy(dtype=object), spaced.to_numpy(dtype=object))
            bad_phone[rest] = ~is_mobile & ~landline
        problems.add(
            bad_phone,
            "phone",
            lambda p: _("%(value)s is not a phone number (11-digit mobile or 0XX-XXXXXXXX).")
            % {"value": raw_phones[p]},
        )

        codes = frame["branch_code"]
        code_values = codes.to_numpy(dtype=object)
        branch_by_code = dict(Branch.objects.visible_to(scope).values_list("code", "pk"))
        self.scope_branches = set(branch_by_code.values())
        branch_ids = codes.map(branch_by_code)
        no_code = (codes == "").to_numpy()
        problems.add(no_code, "branch_code", lambda p: _("Required."))
        problems.add(
            ~no_code & branch_ids.isna().to_numpy(),
            "branch_code",
            lambda p: _("Branch %(code)s is unknown or outside your scope.") % {"code": code_values[p]},
        )
        self.branch_ids = branch_ids.fillna(0).to_numpy(dtype=np.int64)

        self.dates = self._check_dates(frame["opened_on"])

        self.tag_ids: np.ndarray | None = None
        self.tags: dict[int, Tag] = {}
        if "tags" in frame:
            self._check_tags(frame["tags"], scope)

        self.detail = np.zeros(n, dtype=np.uint8)
        self.tags_new = np.zeros(n, dtype=np.int32)
        self._compare_with_database()

    def _check_dates(self, column: pd.Series) -> np.ndarray:
        values = column.to_numpy(dtype=object)
        empty = (column == "").to_numpy()
        # ISO dates parse in C; only the other spellings go through the patterns.
        dates = pd.to_datetime(column, format="%Y-%m-%d", errors="coerce").to_numpy(dtype="datetime64[D]")
        rest = np.flatnonzero(~empty & np.isnat(dates))
        if len(rest):
            text = column.iloc[rest].str.replace("年", "-").str.replace("月", "-").str.replace("日", "")
            parts = text.str.extract(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
            compact = text.str.extract(r"^(\d{4})(\d{2})(\d{2})$")
            parts = parts.fillna(compact).astype(float)
            parts.columns = ["year", "month", "day"]
            dates[rest] = pd.to_datetime(parts, errors="coerce").to_numpy(dtype="datetime64[D]")
        invalid = ~empty & np.isnat(dates)
        today = np.datetime64(timezone.localdate(), "D")
        implausible = ~empty & ~invalid & ((dates > today) | (dates < np.datetime64("1900-01-01", "D")))
        self.problems.add(empty, "opened_on", lambda p: _("Required."))
        self.problems.add(
            invalid,
            "opened_on",
            lambda p: _("%(value)s is not a date; use YYYY-MM-DD.") % {"value": values[p]},
        )
        self.problems.add(
            implausible,
            "opened_on",
            lambda p: _("%(value)s is in the future or before 1900.") % {"value": values[p]},
        )
        return dates

    def _check_tags(self, column: pd.Series, scope) -> None:
        visible = _visible_tags(scope)
        # Rows mostly repeat a few tag cells ("VIP;PAYROLL"): parse each distinct
        # cell once; rows share its tuple of tag ids.
        cells: dict[str, tuple[tuple[int, ...], list[str], list[str]]] = {}
        values = column.to_numpy(dtype=object)
        for text in pd.unique(values):
            if not text:
                continue
            ids, unknown, inactive = set(), [], []
            for code in (c.strip() for c in re.split("[;\uff1b]", text)):
                if not code:
                    continue
                tag = visible.get(code)
                if tag is None:
                    unknown.append(code)
                elif not tag.is_active:
                    inactive.append(code)
                else:
                    ids.add(tag.pk)
                    self.tags[tag.pk] = tag
            cells[text] = (tuple(sorted(ids)), unknown, inactive)
        for which, column_name, message in (
            (1, "tags", _("Unknown tags, or not available to you: %(codes)s.")),
            (2, "tags", _("Inactive tags: %(codes)s.")),
        ):
            flagged = [text for text, parsed in cells.items() if parsed[which]]
            self.problems.add(
                column.isin(flagged).to_numpy(),
                column_name,
                lambda p, which=which, message=message: message % {"codes": ", ".join(cells[values[p]][which])},
            )
        none: tuple[int, ...] = ()
        self.tag_ids = np.empty(len(column), dtype=object)
        self.tag_ids[:] = [cells[v][0] if v else none for v in values]

    def _compare_with_database(self) -> None:
        """Classify each valid row as created, updated or unchanged."""
        candidates = np.flatnonzero(~self.problems.bad)
        tag_maps = bitmaps.get_many(bitmaps.tag_key(pk) for pk in self.tags)
        foreign: list[int] = []
        refs = self.refs[candidates].tolist()
        fields = ("pk", "name", "phone", "branch_id", "opened_on")
        start = 0
        for done, existing in _customers_by_ref(refs, fields):
            positions = candidates[start:done]
            start = done
            self.progress("check", done, len(candidates))
            if not existing:  # a chunk of new customers only
                self.outcome[positions] = CREATED
                if self.tag_ids is not None:
                    self.tags_new[positions] = [len(t) for t in self.tag_ids[positions]]
                continue
            dates = self.dates[positions].astype(object)
            for k, p in enumerate(positions.tolist()):
                tag_ids = self.tag_ids[p] if self.tag_ids is not None else ()
                current = existing.get(self.refs[p])
                if current is None:
                    self.outcome[p] = CREATED
                    self.tags_new[p] = len(tag_ids)
                    continue
                pk, name, phone, branch_id, opened_on = current
                if branch_id not in self.scope_branches:
                    foreign.append(p)
                    continue
                bits = (
                    (NAME if name != self.names[p] else 0)
                    | (PHONE if phone != self.phones[p] else 0)
                    | (BRANCH if branch_id != self.branch_ids[p] else 0)
                    | (OPENED if opened_on != dates[k] else 0)
                )
                added = sum(1 for t in tag_ids if pk not in tag_maps[bitmaps.tag_key(t)])
                self.detail[p], self.tags_new[p] = bits, added
                self.outcome[p] = UPDATED if bits or added else UNCHANGED
        self.problems.add(
            np.array(foreign, dtype=np.int64),
            "customer_ref",
            lambda p: _("%(value)s is a customer outside your scope.") % {"value": self.refs[p]},
        )
        self.outcome[self.problems.bad] = 0

    def counts(self) -> dict[str, Any]:
        return {
            "rows": len(self.frame),
            "new": int((self.outcome == CREATED).sum()),
            "updated": int((self.outcome == UPDATED).sum()),
            "unchanged": int((self.outcome == UNCHANGED).sum()),
            "error_rows": int(self.problems.bad.sum()),
            "tags_new": int(self.tags_new[self.outcome > 0].sum()),
        }

    def write(self, batch, source_ref, progress) -> dict[str, int]:
        positions = np.flatnonzero((self.outcome == CREATED) | (self.outcome == UPDATED))
        counts = self.counts()
        result = {"created": 0, "updated": counts["updated"], "unchanged": counts["unchanged"], "tags_added": 0}
        if len(positions):
            rows = _CustomerRows(self, positions)
            upserted = customers_upsert(
                rows=rows, source_ref=source_ref, progress=lambda done: progress("write", done, len(rows))
            )
            # Cannot differ while we hold the branch locks; if it ever does, write nothing.
            # (Tags added meanwhile by a campaign only make tags_added smaller.)
            if upserted.created != counts["new"]:
                raise ImportRejected(_("Customers changed while the file was being imported; nothing was written."))
            result.update(created=upserted.created, tags_added=upserted.tags_added)
        return result

    def report_rows(self) -> Iterator[list[Any]]:
        labels = [(NAME, _("name")), (PHONE, _("phone")), (BRANCH, _("branch")), (OPENED, _("customer since"))]
        messages: dict[tuple[int, int], str] = {}  # few distinct (fields, tags) pairs

        def message(bits: int, tags: int) -> str:
            notes = []
            if bits:
                notes.append(_("changed: %(fields)s") % {"fields": ", ".join(label for bit, label in labels if bits & bit)})
            if tags:
                notes.append(_("tags added: %(count)s") % {"count": tags})
            return "; ".join(notes)

        for number, ref, outcome, bits, tags in zip(
            self.numbers.tolist(), self.refs, self.outcome.tolist(), self.detail.tolist(), self.tags_new.tolist(), strict=True
        ):
            key = (bits, tags)
            if key not in messages:
                messages[key] = message(bits, tags)
            yield [number, ref, OUTCOMES[outcome], messages[key]]


class _CustomerRows(Sequence[CustomerRow]):
    """The rows to write, as CustomerRow objects made a chunk at a time: a
    million dataclass instances at once would take gigabytes."""

    def __init__(self, plan: _CustomerPlan, positions: np.ndarray) -> None:
        self.plan = plan
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._make(self.positions[index])
        return self._make(self.positions[[index]])[0]

    def __iter__(self) -> Iterator[CustomerRow]:
        for start in range(0, len(self), CHUNK):
            yield from self[start : start + CHUNK]

    def _make(self, positions: np.ndarray) -> list[CustomerRow]:
        plan = self.plan
        dates = plan.dates[positions].astype(object)
        tag_ids = plan.tag_ids[positions] if plan.tag_ids is not None else [()] * len(positions)
        return [
            CustomerRow(
                customer_ref=plan.refs[p],
                name=plan.names[p],
                phone=plan.phones[p],
                branch_id=int(plan.branch_ids[p]),
                opened_on=dates[k],
                tag_ids=tag_ids[k],
            )
            for k, p in enumerate(positions.tolist())
        ]


class _TagPlan(Plan):
    def __init__(self, frame, numbers, scope, progress) -> None:
        super().__init__(frame, numbers, scope, progress)
        n = len(frame)
        problems = self.problems
        ref_ok = _check_refs(frame, problems)

        codes = frame["tag_code"]
        self.codes = codes.to_numpy(dtype=object)
        visible = _visible_tags(scope)
        active = {code: tag.pk for code, tag in visible.items() if tag.is_active}
        self.tag_ids = codes.map(active).fillna(0).to_numpy(dtype=np.int64)
        no_code = (codes == "").to_numpy()
        is_inactive = codes.isin([c for c, t in visible.items() if not t.is_active]).to_numpy()
        problems.add(no_code, "tag_code", lambda p: _("Required."))
        problems.add(
            ~no_code & ~is_inactive & (self.tag_ids == 0),
            "tag_code",
            lambda p: _("Tag %(code)s is unknown or not available to you.") % {"code": self.codes[p]},
        )
        problems.add(is_inactive, "tag_code", lambda p: _("Tag %(code)s is inactive.") % {"code": self.codes[p]})
        self.tags = {tag.pk: tag for tag in visible.values() if tag.is_active}

        if "action" in frame:
            actions = frame["action"]
            action_values = actions.to_numpy(dtype=object)
            adds = actions.str.lower().map(ACTIONS)
            problems.add(
                adds.isna().to_numpy(),
                "action",
                lambda p: _("%(value)s: use add or remove.") % {"value": action_values[p]},
            )
            self.is_add = adds.fillna(True).to_numpy(dtype=bool)
        else:
            self.is_add = np.ones(n, dtype=bool)

        pairs = pd.DataFrame({"ref": self.refs, "tag": self.codes})
        twice = pairs.duplicated(keep=False).to_numpy() & ref_ok & ~no_code
        problems.add(
            twice,
            "tag_code",
            lambda p: _("Customer %(ref)s and tag %(code)s appear together more than once in this file.")
            % {"ref": self.refs[p], "code": self.codes[p]},
        )

        self.customer_ids = np.zeros(n, dtype=np.int64)
        self._classify(ref_ok)

    def _classify(self, ref_ok: np.ndarray) -> None:
        scope_branches = set(Branch.objects.visible_to(self.scope).values_list("pk", flat=True))
        wanted = pd.unique(self.refs[ref_ok]).tolist()
        known: dict[str, int] = {}
        for done, existing in _customers_by_ref(wanted, ("pk", "branch_id")):
            known.update((ref, pk) for ref, (pk, branch_id) in existing.items() if branch_id in scope_branches)
            self.progress("check", done, len(wanted))
        ids = pd.Series(self.refs).map(known)
        missing = ref_ok & ids.isna().to_numpy()
        self.problems.add(
            missing,
            "customer_ref",
            lambda p: _("Customer %(ref)s is unknown or outside your scope.") % {"ref": self.refs[p]},
        )
        self.customer_ids = ids.fillna(0).to_numpy(dtype=np.int64)

        valid = np.flatnonzero(~self.problems.bad)
        maps = bitmaps.get_many(bitmaps.tag_key(int(pk)) for pk in np.unique(self.tag_ids[valid]))
        for p in valid.tolist():
            has = int(self.customer_ids[p]) in maps[bitmaps.tag_key(int(self.tag_ids[p]))]
            add = bool(self.is_add[p])
            self.outcome[p] = ADDED if add and not has else REMOVED if has and not add else UNCHANGED

    def _per_tag(self) -> list[dict[str, Any]]:
        valid = self.outcome > 0
        rows = []
        for pk in sorted(set(self.tag_ids[valid].tolist())):
            mine = valid & (self.tag_ids == pk)
            rows.append(
                {
                    "code": self.tags[pk].code,
                    "name": self.tags[pk].name,
                    "add": int((mine & self.is_add).sum()),
                    "remove": int((mine & ~self.is_add).sum()),
                    "added": int((mine & (self.outcome == ADDED)).sum()),
                    "removed": int((mine & (self.outcome == REMOVED)).sum()),
                }
            )
        return rows

    def counts(self) -> dict[str, Any]:
        return {
            "rows": len(self.frame),
            "add": int((self.outcome == ADDED).sum()),
            "remove": int((self.outcome == REMOVED).sum()),
            "unchanged": int((self.outcome == UNCHANGED).sum()),
            "error_rows": int(self.problems.bad.sum()),
            "tags": self._per_tag(),
        }

    def write(self, batch, source_ref, progress) -> dict[str, int]:
        valid = self.outcome > 0
        total, done, added, removed = int(valid.sum()), 0, 0, 0
        # One tag at a time, in ascending id order (their bitmaps are already
        # locked by the caller, so the order cannot deadlock).
        for pk in sorted(set(self.tag_ids[valid].tolist())):
            mine = valid & (self.tag_ids == pk)
            tag = self.tags[pk]
            adds = self.customer_ids[mine & self.is_add].tolist()
            removes = self.customer_ids[mine & ~self.is_add].tolist()
            if adds:
                added += customer_tags_add(
                    tag=tag, customer_ids=adds, source=TagSource.IMPORT, source_ref=source_ref, actor=batch.uploaded_by
                )
            if removes:
                removed += customer_tags_remove(
                    tag=tag, customer_ids=removes, actor=batch.uploaded_by, reason=source_ref
                )
            done += len(adds) + len(removes)
            progress("write", done, total)
        counts = self.counts()
        if (added, removed) != (counts["add"], counts["remove"]):
            raise ImportRejected(_("Tags changed while the file was being imported; nothing was written."))
        return {"added": added, "removed": removed, "unchanged": counts["unchanged"]}

    def report_rows(self) -> Iterator[list[Any]]:
        for p in range(len(self.frame)):
            outcome = int(self.outcome[p])
            code = self.codes[p]
            message = {
                ADDED: _("tag %(code)s added"),
                REMOVED: _("tag %(code)s removed"),
                UNCHANGED: _("already had tag %(code)s") if self.is_add[p] else _("did not have tag %(code)s"),
            }.get(outcome, "")
            yield [int(self.numbers[p]), self.refs[p], OUTCOMES[outcome], message % {"code": code} if message else ""]

