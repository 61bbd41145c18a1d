"""Production settings: safe when set right, loud when set wrong."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP"


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    base["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="False", SECRET_KEY=GOOD_SECRET, ALLOWED_HOSTS="campaigns.bank.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_key_in_production_fails_at_start():
    result = manage("check", DEBUG="False", ALLOWED_HOSTS="campaigns.bank.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_short_secret_key_or_wildcard_host_in_production_fails_at_start():
    result = manage("check", DEBUG="False", SECRET_KEY="short", ALLOWED_HOSTS="*")
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr and "ALLOWED_HOSTS" in result.stderr


def test_bad_database_url_fails_at_start():
    result = manage("check", DATABASE_URL="nosuchdb://whatever")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_bad_redis_url_fails_at_start():
    result = manage("check", REDIS_URL="localhost:6379")
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr
