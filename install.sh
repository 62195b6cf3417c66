#!/usr/bin/env bash
# The one install recipe of DAFX Explorer's Python packages, shared by the Dockerfile and CI.
#
# Usage: ./install.sh [--venv DIR] [--dev] [--torch-index URL]
#   --venv DIR         install into the virtual environment DIR (created when missing);
#                      without it, into the Python that runs as $PYTHON (default: python3)
#   --dev              also install requirements-dev.txt (tests, lint, browser driver)
#   --torch-index URL  take torch (at the version pinned in requirements.txt) from this package
#                      index first, e.g. https://download.pytorch.org/whl/cpu for CPU-only wheels
#
# It installs requirements.txt (and requirements-dev.txt with --dev) and nothing else.
set -euo pipefail
cd "$(dirname "$0")"

python="${PYTHON:-python3}"
venv=""
dev=0
torch_index=""
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv="${2:?--venv needs a folder}"; shift 2 ;;
        --dev) dev=1; shift ;;
        --torch-index) torch_index="${2:?--torch-index needs a URL}"; shift 2 ;;
        *) echo "install.sh: unknown option '$1' (expected --venv DIR, --dev, --torch-index URL)" >&2; exit 2 ;;
    esac
done

if [ -n "$venv" ]; then
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    python="$venv/bin/python"
fi

if [ -n "$torch_index" ]; then
    torch_pin="$(grep -E '^torch==' requirements.txt)" || {
        echo "install.sh: requirements.txt pins no torch version (expected a line 'torch==X.Y.Z')" >&2
        exit 2
    }
    "$python" -m pip install --index-url "$torch_index" "$torch_pin"
fi
"$python" -m pip install -r requirements.txt
if [ "$dev" = 1 ]; then
    "$python" -m pip install -r requirements-dev.txt
fi
