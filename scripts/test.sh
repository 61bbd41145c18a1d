#!/usr/bin/env bash
# `make test`: lint, migration check and the whole pytest suite, on a Redis and a
# PostgreSQL this script starts (and stops), then the fast tests again on SQLite.
# Installs redis-server, postgresql, chromium and gettext when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PY=.venv/bin/python
work=$(mktemp -d -t campaign-studio-test.XXXXXX)
trap 'trap - EXIT INT TERM; stop_services; rm -rf "$work"' EXIT INT TERM

ensure_system_packages

echo "== ruff"
.venv/bin/ruff check .
echo "== migrations are up to date"
"$PY" manage.py makemigrations --check --dry-run
"$PY" manage.py compilemessages --ignore=.venv -v 0

echo "== services"
start_services "$work"

echo "== pytest on PostgreSQL (whole suite)"
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/campaign_studio" \
  "$PY" -m pytest -p no:cacheprovider "$@"

echo "== pytest on SQLite (all but browser and PostgreSQL-only tests)"
env -u DATABASE_URL "$PY" -m pytest -p no:cacheprovider -m "not e2e and not postgres" -q "$@"
