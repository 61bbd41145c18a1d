#!/usr/bin/env bash
# `make test`: lint, migration check and the whole pytest suite, on a Redis and a
# PostgreSQL this script starts (and stops), then the fast tests again on SQLite.
# Installs redis-server, postgresql, chromium and gettext when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PY=.venv/bin/python
work=$(mktemp -d -t campaign-studio-test.XXXXXX)
chmod 755 "$work"
redis_pid=""
PGBIN=""

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$PGBIN" ] && [ -f "$work/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

missing=()
[ -n "$(system_redis)" ] || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
apt_install "${missing[@]}"

echo "== ruff"
.venv/bin/ruff check .
echo "== migrations are up to date"
"$PY" manage.py makemigrations --check --dry-run
"$PY" manage.py compilemessages --ignore=.venv -v 0

echo "== services"
redis_port=$(free_port 6480)
"$(system_redis)" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --logfile "$work/redis.log" &
redis_pid=$!
wait_redis "$redis_port"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_port=$(free_port 5480)
install -d -o postgres -g postgres -m 700 "$work/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -w -l "$work/pg/server.log" \
  -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null
echo "redis on $redis_port, postgresql on $pg_port"

echo "== pytest on PostgreSQL (whole suite)"
DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/campaign_studio" \
  "$PY" -m pytest -p no:cacheprovider "$@"

echo "== pytest on SQLite (all but browser and PostgreSQL-only tests)"
env -u DATABASE_URL "$PY" -m pytest -p no:cacheprovider -m "not e2e and not postgres" -q "$@"
