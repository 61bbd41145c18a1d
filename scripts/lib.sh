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
