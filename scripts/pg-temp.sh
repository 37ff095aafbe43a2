#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on a free loopback port in a temporary directory.
#   source scripts/pg-temp.sh && pg_temp_start    -> exports EVENTSYNC_TEST_POSTGRES (an Npgsql connection string),
#                                                   PG_TEMP_DIR, PG_TEMP_PORT, PG_TEMP_BIN
#   pg_temp_stop                                  -> stops it and removes the directory
# Works as root (runs the server as the postgres user) and as a normal user.
pg_temp_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

pg_temp_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_temp_as() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_temp_start() {
  PG_TEMP_BIN="$(pg_temp_bin)" || { echo "PostgreSQL binaries not found: apt-get install postgresql" >&2; return 1; }
  PG_TEMP_DIR="$(mktemp -d /tmp/eventsync-pg.XXXXXX)"
  PG_TEMP_PORT="$(pg_temp_free_port)"
  [ "$(id -u)" = "0" ] && chown postgres "$PG_TEMP_DIR"
  pg_temp_as "$PG_TEMP_BIN/initdb" -D "$PG_TEMP_DIR/data" -U eventsync --auth=trust -E UTF8 --no-locale >"$PG_TEMP_DIR/initdb.log" 2>&1 \
    || { cat "$PG_TEMP_DIR/initdb.log" >&2; return 1; }
  pg_temp_as "$PG_TEMP_BIN/pg_ctl" -D "$PG_TEMP_DIR/data" -l "$PG_TEMP_DIR/server.log" -w -t 60 \
    -o "-p $PG_TEMP_PORT -k $PG_TEMP_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on -c synchronous_commit=on" start >/dev/null \
    || { cat "$PG_TEMP_DIR/server.log" >&2; return 1; }
  pg_temp_as "$PG_TEMP_BIN/createdb" -h 127.0.0.1 -p "$PG_TEMP_PORT" -U eventsync eventsync_test
  export PG_TEMP_DIR PG_TEMP_PORT PG_TEMP_BIN
  export EVENTSYNC_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_TEMP_PORT;Username=eventsync;Database=eventsync_test;Pooling=true;Maximum Pool Size=100"
}

pg_temp_stop() {
  [ -n "${PG_TEMP_DIR:-}" ] || return 0
  pg_temp_as "$PG_TEMP_BIN/pg_ctl" -D "$PG_TEMP_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEMP_DIR"
  unset PG_TEMP_DIR
}
