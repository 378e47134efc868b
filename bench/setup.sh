#!/usr/bin/env bash
# Creates the benchmark venv (.cache/bench-venv) with pinned versions:
#   mlflow (stock `mlflow server` and `mlflow models serve`), aiohttp (async HTTP client).
# Optional: bench/setup.sh MODEL_REQUIREMENTS_TXT also installs a model's own pins
# (scikit-learn, pandas, numpy, ...) for in-process predict and stock serving.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${BENCH_VENV:-$root/.cache/bench-venv}"

MLFLOW_VERSION=3.17.2
AIOHTTP_VERSION=3.14.5
PIP_VERSION=25.2

export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
stamp="$venv/.bench-stamp"
want="pip=$PIP_VERSION mlflow[auth]=$MLFLOW_VERSION aiohttp=$AIOHTTP_VERSION"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/pip" install -q --upgrade "pip==$PIP_VERSION" 2>&1 | { grep -v "^WARNING: Location" || true; }
    "$venv/bin/pip" install -q "mlflow[auth]==$MLFLOW_VERSION" "aiohttp==$AIOHTTP_VERSION" 2>&1 | { grep -v "^WARNING: Location" || true; }
    echo "$want" >"$stamp"
fi
if [ $# -ge 1 ] && [ -n "$1" ]; then
    # The model's own pins; mlflow stays at its pin whatever the file says.
    grep -viE '^\s*(mlflow|mlflow-skinny)\b' "$1" >"$venv/model-requirements.txt" || true
    "$venv/bin/pip" install -q -r "$venv/model-requirements.txt" "mlflow==$MLFLOW_VERSION" 2>&1 | { grep -v "^WARNING: Location" || true; }
fi
"$venv/bin/python" -c 'import aiohttp, mlflow; print(f"[bench-venv] mlflow {mlflow.__version__}, aiohttp {aiohttp.__version__}")'
