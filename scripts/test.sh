#!/usr/bin/env bash
# Install everything the tests need (system packages included), start a throwaway PostgreSQL,
# then run the whole suite: every test that touches storage runs on both engines ([duckdb] and
# [postgresql] in its id). Extra arguments go to pytest (-m "not postgresql" runs DuckDB only).
# pytest exits 5 when it collects no test: that fails here too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
# initdb into a temporary folder (as the postgres user when run as root), a socket in that
# folder (no port to collide with), stopped and removed when the tests end, however they end.
pg_dir=$(mktemp -d -t enrollment-test-pg.XXXXXX)
trap 'scripts/pg-temp.sh stop "$pg_dir/server" > /dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
ENROLLMENT_TEST_POSTGRES=$(scripts/pg-temp.sh start "$pg_dir/server")
export ENROLLMENT_TEST_POSTGRES
echo "PostgreSQL for the tests: $ENROLLMENT_TEST_POSTGRES"
# Two workers: the machine has two cores and the browser tests mostly wait.
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
