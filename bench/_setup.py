"""Shared set-up for benchmarks: Django on a throwaway database.

A benchmark runs on the database DATABASE_URL names (PostgreSQL for figures
worth quoting), or on a temporary SQLite file when it names none.
"""

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    if "DATABASE_URL" not in os.environ:
        path = Path(tempfile.mkdtemp(prefix="bench-")) / "bench.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


@contextmanager
def timed(results: dict, name: str):
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def report(name: str, value: float | int, unit: str) -> None:
    shown = f"{value:d}" if isinstance(value, int) else f"{value:.3f}"
    print(f"{name} = {shown} {unit}")


def ratio(what: str, value: float, target: float) -> None:
    print(f"ratio {what} = {value:.1f} (target >= {target})")
