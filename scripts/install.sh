#!/usr/bin/env bash
# Install what the app needs on Debian (run as root or with sudo): system packages with apt-get,
# Python packages into .venv. With --dev, also what the tests need. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
python=${PYTHON:-python3}

packages=(chromium fonts-noto-cjk)           # chart export (kaleido drives Chromium)
packages+=(postgresql-client)                # backup/restore of a PostgreSQL database (pg_dump)
[ "$dev" = 1 ] && packages+=(poppler-utils)  # tests look at exported PDFs (pdftoppm)
[ "$dev" = 1 ] && packages+=(postgresql)     # tests run on both engines (a throwaway server)
[ "$dev" = 1 ] && packages+=(libreoffice-writer-nogui)  # tests print the Word 通报稿 to PDF
"$python" -c "import ensurepip" 2>/dev/null || packages+=(python3-venv)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
requirements=requirements.txt
[ "$dev" = 1 ] && requirements=requirements-dev.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
