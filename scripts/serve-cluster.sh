#!/usr/bin/env bash
# Several app servers on one PostgreSQL database behind nginx (see docs/deploy.md):
#   ENROLLMENT_DB=postgresql://user:password@host:5432/name scripts/serve-cluster.sh [N]
# starts N `streamlit run` servers (default 2) on 127.0.0.1:FIRST_PORT… and nginx on
# ADDRESS:PORT (default 0.0.0.0:8501) in front of them, and stops them all when it is stopped
# (Ctrl-C, SIGTERM). nginx (Debian package) is installed with apt-get when missing.
#   * sticky sessions: a browser tab's websocket, its file uploads and its page loads must reach
#     the same server; nginx picks a server by a random key it gives the browser as a cookie
#     (enrollment_route) on the first request, and hashes that key ever after;
#   * the websocket needs HTTP/1.1 with the Upgrade and Connection headers;
#   * every server gets the same Streamlit cookieSecret (XSRF tokens of uploads) and the same
#     ENROLLMENT_SECRET (login cookies), so any server accepts what another one signed;
#   * nginx is the trusted proxy whose X-Forwarded-For names the client (login throttling).
# Settings: SERVERS (instead of N), PORT, ADDRESS, FIRST_PORT (default PORT+100), WORK (nginx
# configuration, logs and the servers' pids: default data/cluster), and every ENROLLMENT_ one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
servers=${1:-${SERVERS:-2}}
port=${PORT:-8501}
address=${ADDRESS:-0.0.0.0}
first=${FIRST_PORT:-$((port + 100))}
work=$(realpath -m "${WORK:-data/cluster}")

case "${ENROLLMENT_DB:-}" in
    postgresql://*|postgres://*) ;;
    *) echo "ENROLLMENT_DB must be a PostgreSQL URL (postgresql://user:password@host:5432/name):" \
            "several servers cannot share a DuckDB file" >&2; exit 2 ;;
esac
if ! command -v nginx > /dev/null && [ ! -x /usr/sbin/nginx ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing nginx"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x .venv/bin/streamlit ] || scripts/install.sh

# One secret for all servers: from the settings, else a random one kept in data/ (git-ignored).
if [ -z "${ENROLLMENT_SECRET:-}" ]; then
    secret_file=${ENROLLMENT_SECRET_FILE:-$root/data/secret.key}
    if [ ! -s "$secret_file" ]; then
        mkdir -p "$(dirname "$secret_file")"
        (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(48))" \
            > "$secret_file")
    fi
    ENROLLMENT_SECRET=$(cat "$secret_file")
fi
export ENROLLMENT_SECRET
export ENROLLMENT_TRUSTED_PROXIES=${ENROLLMENT_TRUSTED_PROXIES:-127.0.0.1}
cookie_secret=$(printf '%s' "$ENROLLMENT_SECRET" | sha256sum | cut -c1-64)

.venv/bin/python -m enrollment init

mkdir -p "$work/temp"
: > "$work/servers"
pids=()
stop() {
    trap - EXIT INT TERM
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

upstream=""
for i in $(seq 0 $((servers - 1))); do
    p=$((first + i))
    STREAMLIT_SERVER_COOKIE_SECRET=$cookie_secret \
    .venv/bin/streamlit run dashboard.py --server.port "$p" --server.address 127.0.0.1 \
        --server.headless true --server.fileWatcherType none --browser.gatherUsageStats false \
        > "$work/server-$p.log" 2>&1 &
    pids+=($!)
    echo "$p $!" >> "$work/servers"
    upstream+="        server 127.0.0.1:$p max_fails=1 fail_timeout=10s;"$'\n'
done

max_mb=$(.venv/bin/python -c "from enrollment import settings; print(int(settings.max_upload_bytes() / 1048576) + 5)")
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat > "$work/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $work/temp/body;
    proxy_temp_path $work/temp/proxy;
    fastcgi_temp_path $work/temp/fastcgi;
    uwsgi_temp_path $work/temp/uwsgi;
    scgi_temp_path $work/temp/scgi;
    log_format combined_upstream '\$remote_addr [\$time_local] "\$request" \$status '
                                 '\$body_bytes_sent upstream=\$upstream_addr route=\$route';
    access_log $work/nginx-access.log combined_upstream;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    # The sticky key: the browser's cookie, or a new random one (handed out below).
    map \$cookie_enrollment_route \$route { '' \$request_id; default \$cookie_enrollment_route; }
    upstream enrollment {
        hash \$route consistent;
$upstream    }
    server {
        listen $address:$port;
        client_max_body_size ${max_mb}m;
        location / {
            add_header Set-Cookie "enrollment_route=\$route; Path=/; HttpOnly; SameSite=Lax" always;
            proxy_pass http://enrollment;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
        }
    }
}
CONF
"$nginx" -t -q -c "$work/nginx.conf" -p "$work"
"$nginx" -c "$work/nginx.conf" -p "$work" -g "daemon off;" &
pids+=($!)
echo "nginx on $address:$port in front of $servers servers (127.0.0.1:$first…); logs in $work"
wait -n "${pids[@]}" || true
echo "a process of the cluster ended; the others go on (stop with Ctrl-C)" >&2
wait
