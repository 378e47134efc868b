#!/usr/bin/env bash
# Runs both benchmarks against one platform, each side by side with its stock
# MLflow counterpart, and keeps the output under .cache/bench/results/.
#
#   bench/run.sh [-s SECRETS_DIR] [-t TRACKING_URL] [-m SERVING_URL] [-p NAME_PREFIX] [-d SECONDS] [-r REPEAT] [-c LEVELS] [tracking|serving|all]
#
# Defaults: the dev platform (secrets /tmp/devsec, https://127.0.0.1:28443,
# http://127.0.0.1:28080, containers dev-*), levels 1,4,16, each run 2 x 10 s per
# target (interleaved ours/stock/stock/ours, pooled), both benchmarks. NAME_PREFIX names the platform's containers, whose CPU is metered. Every load
# stays on loopback; the stock servers run on free loopback ports and are stopped at
# the end. About 4 minutes for the tracking half and 3 for the serving half.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

secrets=/tmp/devsec
tracking_url=https://127.0.0.1:28443
serving_url=http://127.0.0.1:28080
seconds=10
repeat=2
levels=1,4,16
prefix=dev-
while getopts "s:t:m:p:d:r:c:h" opt; do
    case "$opt" in
        s) secrets="$OPTARG" ;;
        t) tracking_url="$OPTARG" ;;
        m) serving_url="$OPTARG" ;;
        p) prefix="$OPTARG" ;;
        d) seconds="$OPTARG" ;;
        r) repeat="$OPTARG" ;;
        c) levels="$OPTARG" ;;
        *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
what="${1:-all}"

export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true PIP_DISABLE_PIP_VERSION_CHECK=1
export BENCH_SECRETS_DIR="$secrets"
py="${BENCH_VENV:-$root/.cache/bench-venv}/bin/python"
out="$root/.cache/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

"$here/setup.sh"
echo "== $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); results in $out"

if [ "$what" = all ] || [ "$what" = tracking ]; then
    echo "== tracking: $tracking_url vs stock mlflow server"
    "$py" "$here/tracking_load.py" --url "$tracking_url" --clients "$levels" --seconds "$seconds" \
        --repeat "$repeat" --containers "${prefix}tracking-node,${prefix}englab-db" --json "$out/tracking.json" | tee "$out/tracking.txt"
fi

if [ "$what" = all ] || [ "$what" = serving ]; then
    echo "== serving: $serving_url vs stock mlflow models serve vs in-process predict"
    reqs="$("$py" "$here/serving_load.py" --url "$serving_url" --tracking-url "$tracking_url" --fetch-only | tail -1)"
    "$here/setup.sh" "$reqs"
    "$py" "$here/serving_load.py" --url "$serving_url" --tracking-url "$tracking_url" --clients "$levels" \
        --seconds "$seconds" --repeat "$repeat" --containers "${prefix}serving-node" --json "$out/serving.json" | tee "$out/serving.txt"
fi
