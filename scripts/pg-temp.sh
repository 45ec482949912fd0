#!/usr/bin/env bash
# A throwaway PostgreSQL server in a folder of its own, for tests and trials (no system service):
#   scripts/pg-temp.sh start DIR [PORT]   initdb into DIR/data if needed, start; prints the URL
#   scripts/pg-temp.sh stop DIR           stop it (fast shutdown)
#   scripts/pg-temp.sh restart DIR        stop and start again on the same socket
# The server listens on a Unix socket in DIR only (no TCP port to collide with others), trusts
# local connections as user postgres, and syncs nothing to disk (fsync off): never for real data.
# initdb and postgres refuse to run as root: as root they run as the postgres user.
set -euo pipefail
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (scripts/install.sh --dev installs it)" >&2; exit 1; }
command=${1:?start, stop or restart}
dir=$(realpath -m "${2:?folder}")
as_server() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$command" in
start)
    port=${3:-5432}
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        chmod a+x "$(dirname "$dir")"       # a private temporary folder: let the server reach DIR
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
            > "$dir/initdb.log"
        echo "$port" > "$dir/port"
        [ "$(id -u)" -eq 0 ] && chown postgres "$dir/port"
    fi
    port=$(cat "$dir/port")
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
        "-p $port -k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        > /dev/null
    echo "postgresql://postgres@/postgres?host=$dir&port=$port"
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] && as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop > /dev/null
    ;;
restart)
    as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart > /dev/null
    ;;
*)
    echo "unknown command $command" >&2; exit 2 ;;
esac
