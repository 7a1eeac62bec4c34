#!/bin/sh
# pg_util.sh: a throw-away PostgreSQL cluster for tests and benchmarks (issue 15).
#   pg_util.sh start DIR [PORT]   initdb + start under DIR (socket in DIR; TCP on 127.0.0.1:PORT
#                                 when PORT is given); prints the base connection URI
#   pg_util.sh stop DIR           fast shutdown (the data stays)
#   pg_util.sh kill DIR           immediate shutdown (as a crash; recovery on the next start)
#   pg_util.sh restart DIR        start again after stop/kill (same port)
#   pg_util.sh createdb DIR NAME  a fresh database; prints its URI
# Exits 77 (the "skipped" code of ctest and the e2e helper) when no server binaries are found.
# As root the server runs as user postgres (initdb refuses root). PG_FSYNC=off for speed where
# durability is not what a test checks.
set -eu
cmd=${1:?usage: pg_util.sh start|stop|kill|restart|createdb DIR [...]}
dir=${2:?DIR missing}

bindir=""
for d in ${PG_BINDIR:-} /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; fi
done
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then
    bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ]; then
    echo "pg_util: PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql" >&2
    exit 77
fi

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

uri() { # database name
    port=$(cat "$dir/port")
    echo "postgresql:///$1?host=$dir&port=$port&user=arca"
}

pgctl_start() {
    port=$(cat "$dir/port")
    listen=""
    [ -f "$dir/tcp" ] && listen=127.0.0.1
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -p $port -c listen_addresses='$listen' -c fsync=${PG_FSYNC:-on} -c max_connections=300 -c shared_buffers=32MB" \
        start >/dev/null
}

case $cmd in
start)
    mkdir -p "$dir"
    if [ -n "${3:-}" ]; then echo "$3" >"$dir/port"; touch "$dir/tcp"; else echo 5432 >"$dir/port"; fi
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -A trust -U arca -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    pgctl_start || { cat "$dir/server.log" >&2; exit 1; }
    uri postgres
    ;;
restart)
    pgctl_start || { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
kill)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
createdb)
    name=${3:?NAME missing}
    "$bindir/psql" -X -q -d "$(uri postgres)" -c "CREATE DATABASE \"$name\"" >/dev/null
    uri "$name"
    ;;
*)
    echo "pg_util: unknown command $cmd" >&2
    exit 2
    ;;
esac
