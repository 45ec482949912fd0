#!/usr/bin/env bash
# Install everything the tests need (system packages included), then run the whole suite.
# Extra arguments go to pytest. pytest exits 5 when it collects no test: that fails here too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
# Two workers: the machine has two cores and the browser tests mostly wait.
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
