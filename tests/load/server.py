"""A real gunicorn for the load tests: several worker processes (threaded)
serving ``tests.load.settings_load`` — the project's URLs plus the naive
claim — against the test's PostgreSQL database and Redis; a real RQ worker
beside it, granting the awards the requests make, as in production; and
``manage.py`` commands run as processes of their own against the same.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
THREADS = 8
START_TIMEOUT = 30.0


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a server or command process: this test's database and
    Redis. DEBUG=true only for ``config.settings``' import (its production checks
    want real secrets and HTTPS); ``settings_load`` then turns DEBUG off."""
    return {
        **os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "tests.load.settings_load", "DEBUG": "true", "PYTHONPATH": str(ROOT),
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The PIDs of a process's children (gunicorn's master: its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("PPid:"):
                    if int(line.split()[1]) == pid:
                        found.append(int(entry.name))
                    break
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Gunicorn:
    def __init__(self, log: Path, *, workers: int = WORKERS, threads: int = THREADS):
        self.log, self.workers, self.threads = log, workers, threads
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self._mark = 0

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "tests.load.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--worker-class", "gthread",
            "--threads", str(self.threads), "--preload", "--timeout", "30", "--graceful-timeout", "1",
            "--access-logfile", "-", "--access-logformat", '"%(r)s" %(s)s %(b)s pid=%(p)s %(M)sms',
            "--error-logfile", "-", "--log-level", "info", "--no-control-socket",
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=process_env(), stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            if len(self.workers_pids()) >= self.workers and self._answers():
                self._warm_up()
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def _warm_up(self) -> None:
        """Requests enough for every thread of every worker, so that the measured
        runs do not pay for opening database connections."""
        threads = [threading.Thread(target=self._answers) for _ in range(self.workers * self.threads * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def workers_pids(self) -> list[int]:
        return [pid for pid in children(self.process.pid) if _alive(pid)] if self.process else []

    def wait_workers(self, timeout: float = 15.0) -> None:
        """Until every worker is up (the master replaces a killed one)."""
        deadline = time.monotonic() + timeout
        while len(self.workers_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn has {len(self.workers_pids())} workers:\n{self.log_tail()}")
            time.sleep(0.1)

    def kill_worker(self) -> int:
        """SIGKILL one worker (the master starts a new one); returns its PID."""
        pid = self.workers_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            workers = self.workers_pids()
            self.process.kill()
            self.process.wait(timeout=10)
            for pid in workers:  # a master killed outright leaves its workers behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def mark(self) -> None:
        """Start a test's part of the log (the server outlives one test)."""
        self._mark = self.log.stat().st_size if self.log.exists() else 0

    def log_text(self) -> str:
        try:
            with self.log.open("rb") as f:
                f.seek(self._mark)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def errors(self) -> list[str]:
        """This test's server log lines about failures (tracebacks, 5xx, worker deaths)."""
        marks = ("Traceback", "ERROR", "Internal Server Error", "Error:", "Worker", "WORKER TIMEOUT", '" 5')
        return [line for line in self.log_text().splitlines() if any(m in line for m in marks)]


class RqWorker:
    """``manage.py rqworker`` on the default queue (emptied first: jobs other
    tests left there belong to other databases)."""

    def __init__(self, log: Path):
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import django_rq

        django_rq.get_queue("default").empty()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "default"], cwd=ROOT, env=process_env(), stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # What it leaves in Redis (drains queued after it stopped, a job it was
        # killed in) belongs to this test's database: later tests must not see it.
        import django_rq

        queue = django_rq.get_queue("default")
        queue.empty()
        for registry in (queue.started_job_registry, queue.failed_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)

    def wait_idle(self, campaign_id: int, timeout: float = 60.0) -> float:
        """Until the campaign has no award waiting for its grant; returns how long that took (s)."""
        from campaigns.models import Award, AwardStatus

        started = time.monotonic()
        while Award.objects.filter(campaign_id=campaign_id, status=AwardStatus.QUEUED).exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"rqworker exited with {self.process.returncode}")
            if time.monotonic() - started > timeout:
                raise RuntimeError("awards still queued: the worker did not grant them")
            time.sleep(0.1)
        return time.monotonic() - started


def manage(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``manage.py <args>`` in a process of its own, on this test's database and Redis."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=process_env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )
