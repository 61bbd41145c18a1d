#!/usr/bin/env bash
# `make bench`: every benchmark, on a Redis and a throwaway PostgreSQL this script
# starts and stops (the figures worth quoting). Arguments go to bench/segments.py,
# e.g. `scripts/bench.sh --customers 200000 --import-rows 100000`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PY=.venv/bin/python
work=$(mktemp -d -t campaign-studio-bench.XXXXXX)
trap 'trap - EXIT INT TERM; stop_services; rm -rf "$work"' EXIT INT TERM
ensure_system_packages
PG_EXTRA_OPTS="-c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=1GB" start_services "$work"
db() { createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"; echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"; }

echo "== bench/scope.py"
DATABASE_URL=$(db scope) "$PY" bench/scope.py
echo "== bench/segments.py $*"
DATABASE_URL=$(db segments) "$PY" bench/segments.py "$@"
echo "== bench/dispatch.py"
DATABASE_URL=$(db dispatch) "$PY" bench/dispatch.py
echo "== bench/claim.py"
DATABASE_URL=$(db claim) "$PY" bench/claim.py
echo "== bench/analysis.py"
DATABASE_URL=$(db analysis) "$PY" bench/analysis.py
echo "== bench/draw.py"
"$PY" bench/draw.py
