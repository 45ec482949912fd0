#!/usr/bin/env bash
# Install, prepare the default database (shipped campaigns + demo data) and start the app.
# Settings come from the environment (see README), e.g. ENROLLMENT_DB, PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/python -m enrollment init
for campaign in jincheng-2022-residents jincheng-2021-employees; do
    .venv/bin/python -m enrollment demo --campaign "$campaign"
done
exec .venv/bin/streamlit run dashboard.py --server.port "${PORT:-8501}" --server.address "${ADDRESS:-0.0.0.0}"
