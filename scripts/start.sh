#!/usr/bin/env bash
# Install, prepare the default database (shipped campaigns + demo data) and start the app.
# Settings come from the environment (see README), e.g. ENROLLMENT_DB, PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# Login cookies are signed with a secret from configuration, never from the repository: unless
# ENROLLMENT_SECRET or ENROLLMENT_SECRET_FILE is set, create a random key once (git-ignored).
if [ -z "${ENROLLMENT_SECRET:-}" ] && [ -z "${ENROLLMENT_SECRET_FILE:-}" ]; then
    export ENROLLMENT_SECRET_FILE="$PWD/data/secret.key"
    if [ ! -s "$ENROLLMENT_SECRET_FILE" ]; then
        (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(48))" \
            > "$ENROLLMENT_SECRET_FILE")
        echo "Created a random login-cookie secret in data/secret.key"
    fi
fi
.venv/bin/python -m enrollment init
for campaign in jincheng-2022-residents jincheng-2021-employees; do
    .venv/bin/python -m enrollment demo --campaign "$campaign"
done
exec .venv/bin/streamlit run dashboard.py --server.port "${PORT:-8501}" --server.address "${ADDRESS:-0.0.0.0}"
