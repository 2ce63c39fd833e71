#!/usr/bin/env bash
# A throwaway PostgreSQL for the warehouse tests (tests/backends/warehouse.rs).
#
#   eval "$(.ci/postgres.sh start)"   # installs PostgreSQL from Debian's packages if absent,
#                                     # starts a cluster on a free local port, prints exports
#   .ci/postgres.sh stop              # stops it and removes its directory
#
# The cluster runs as an unprivileged user (PostgreSQL refuses root): `postgres` when the
# package created it, else `nobody`. Password authentication over TCP (scram-sha-256), so a
# wrong password is refused as a warehouse would; every statement is logged
# (log_statement=all) for the tests to check that only aggregates were asked for.
set -euo pipefail

dir=${MRFLOW_PG_DIR:-/tmp/mrflow-test-postgres}

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then
    echo "$found"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

case "${1:-start}" in
start)
  if [ -z "$(bindir)" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
  fi
  bin=$(bindir)
  [ -n "$bin" ] || { echo "PostgreSQL's initdb not found after installing" >&2; exit 1; }
  owner=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    owner=postgres
    getent passwd postgres >/dev/null || owner=nobody
  fi
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$password" > "$dir/password"
  chown -R "$owner" "$dir" 2>/dev/null || true
  chmod 700 "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/password" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >&2
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c log_statement=all -c fsync=off" start >&2
  chmod 755 "$dir"
  chmod 644 "$dir/server.log"
  echo "export MRFLOW_TEST_POSTGRES=postgres://postgres:$password@127.0.0.1:$port/postgres"
  echo "export MRFLOW_TEST_POSTGRES_LOG=$dir/server.log"
  echo "export MRFLOW_TEST_POSTGRES_VERSION='$("$bin/postgres" --version)'"
  ;;
stop)
  bin=$(bindir)
  owner=$(stat -c %U "$dir/data" 2>/dev/null || id -un)
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: .ci/postgres.sh start|stop" >&2
  exit 2
  ;;
esac
