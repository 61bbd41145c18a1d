"""Writes for audiences. Every write that changes who has which tag, or which
customer is where, updates the bitmap index in the same transaction."""

from audiences.services.customers import CustomerRow, UpsertResult, customers_upsert
from audiences.services.imports import (
    import_check,
    import_confirm,
    import_retry,
    import_run,
    import_upload,
)
from audiences.services.index import index_rebuild
from audiences.services.segments import (
    segment_archive,
    segment_create,
    segment_export_log,
    segment_rule_edit,
    segment_snapshot_take,
    segment_update,
)
from audiences.services.tagging import customer_tags_add, customer_tags_remove
from audiences.services.tags import tag_category_save, tag_save

__all__ = [
    "CustomerRow",
    "UpsertResult",
    "customer_tags_add",
    "customer_tags_remove",
    "customers_upsert",
    "import_check",
    "import_confirm",
    "import_retry",
    "import_run",
    "import_upload",
    "index_rebuild",
    "segment_archive",
    "segment_create",
    "segment_export_log",
    "segment_rule_edit",
    "segment_snapshot_take",
    "segment_update",
    "tag_category_save",
    "tag_save",
]
