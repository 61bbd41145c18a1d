# Shared helpers for scripts/run.sh and scripts/test.sh (sourced, not run).

# free_port START: print the first TCP port from START up that nothing listens on.
free_port() {
  python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
while True:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            print(port)
            break
        except OSError:
            port += 1
PY
}

# system_redis: the redis-server on PATH outside the project's venv, if any.
system_redis() {
  local p
  p=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v "/\.venv/bin$" | paste -sd: -) command -v redis-server || true)
  printf '%s' "$p"
}

# apt_install PKG...: install Debian packages that are missing (root only).
apt_install() {
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: $* (install them, or run as root to let this script do it)" >&2
    return 1
  fi
  echo "installing system packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
}

# wait_redis PORT: wait until a Redis on PORT answers, at most ~10 s.
wait_redis() {
  python3 - "$1" <<'PY'
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("redis did not start")
PY
}

# start_services WORKDIR: a Redis and a throwaway PostgreSQL cluster on free ports,
# both under WORKDIR; exports REDIS_URL and PG_PORT and sets the PIDs that
# stop_services uses. Root only (PostgreSQL runs as the postgres user).
start_services() {
  local work=$1
  chmod 755 "$work"
  local redis_port
  redis_port=$(free_port 6480)
  "$(system_redis)" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" --logfile "$work/redis.log" &
  REDIS_PID=$!
  wait_redis "$redis_port"
  export REDIS_URL="redis://127.0.0.1:$redis_port/0"

  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DATA="$work/pg"
  PG_PORT=$(free_port 5480)
  install -d -o postgres -g postgres -m 700 "$PG_DATA"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/server.log" \
    -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
    start >/dev/null
  export PG_PORT
  echo "redis on $redis_port, postgresql on $PG_PORT"
}

stop_services() {
  if [ -n "${PGBIN:-}" ] && [ -f "${PG_DATA:-/nonexistent}/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}

# ensure_system_packages: what make test and make bench need, installed when missing.
ensure_system_packages() {
  local missing=()
  [ -n "$(system_redis)" ] || missing+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v msgfmt >/dev/null 2>&1 || missing+=(gettext)
  apt_install "${missing[@]}"
}
