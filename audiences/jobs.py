"""Background jobs for audiences: thin, take ids, safe to run twice."""

from __future__ import annotations

from audiences.services import imports


def import_check(batch_id: int) -> None:
    """Check an uploaded file (``services.imports.import_check`` keeps one result)."""
    imports.import_check(batch_id=batch_id)


def import_run(batch_id: int) -> None:
    """Run a confirmed import (``services.imports.import_run`` claims it once)."""
    imports.import_run(batch_id=batch_id)
