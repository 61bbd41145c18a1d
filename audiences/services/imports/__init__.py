"""Customer and tag-assignment imports: upload → check → preview → confirm → job → report.

A file is checked twice. Once after upload, to preview what it would change
and list its row errors (``import_upload``; a large file by the job
``import_check``). Again by the import job (``import_run``), inside the one
transaction that writes it, because customers, tags and scopes may have
changed since the preview. Either every row is written or none is, so a batch
whose worker died can be run again (``import_retry``).

    reading    the file's type, encoding, header and rows
    checking   row errors, preview counts, and how to write the rows
    uploading  upload and the check job
    running    confirm, the import job, retry, job queueing and progress
    reports    the result report and the sample files
"""

from audiences.services.imports.reading import COLUMNS, EXTENSIONS
from audiences.services.imports.reports import import_sample_csv
from audiences.services.imports.running import import_confirm, import_retry, import_run
from audiences.services.imports.uploading import import_check, import_upload

__all__ = [
    "COLUMNS",
    "EXTENSIONS",
    "import_check",
    "import_confirm",
    "import_retry",
    "import_run",
    "import_sample_csv",
    "import_upload",
]
