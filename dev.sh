#!/usr/bin/env bash
# One entry point for people and CI: sets up .venv on first use (or when the dependencies change), then
#   ./dev.sh train [FLAGS]   runs `mlplab train` (digits by default)
#   ./dev.sh test  [ARGS]    runs the test suite (pytest, two worker processes of one torch thread each)
#   ./dev.sh mlplab ARGS     runs any mlplab command;  ./dev.sh python ARGS  the venv's Python
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MLPLAB_VENV:-$root/.venv}"
py="${PYTHON:-python3}"

setup() {
    local stamp="$venv/.mlplab-stamp" want
    want="$(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "dev.sh: Python 3.11+ is needed; set PYTHON=/path/to/python3.x" >&2; exit 2; }
    echo "dev.sh: setting up $venv (first run or dependencies changed) ..." >&2
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$root/constraints.txt" -e "$root[dev]" >&2
    echo "$want" >"$stamp"
}

cmd="${1:-}"; shift || true
case "$cmd" in
    train)  setup; exec "$venv/bin/mlplab" train "$@" ;;
    test)   setup; cd "$root"
            # one torch thread per worker: two workers use both cores without spinning against each other
            export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
            exec "$venv/bin/python" -m pytest -n "${MLPLAB_TEST_WORKERS:-2}" --dist loadfile "$@" ;;
    mlplab) setup; exec "$venv/bin/mlplab" "$@" ;;
    python) setup; exec "$venv/bin/python" "$@" ;;
    setup)  setup ;;
    *) echo "usage: ./dev.sh {train|test|mlplab|python|setup} [ARGS...]" >&2; exit 2 ;;
esac
