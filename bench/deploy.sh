#!/usr/bin/env bash
# How long a model change takes to serve, on the local target (issue #21, goals 1-3):
#
#   bench/deploy.sh            # needs `make setup` done (venv, node image, collection)
#
# 1. brings up (or converges) its own platform with site.yml: prefix benchd-, tracking on
#    127.0.0.1:38543, serving on 127.0.0.1:38180, secrets in .cache/bench/deploy/secrets;
#    site.yml serves the champion;
# 2. same runtime: trains a new version (englab.mlops.train, the bundled example: the same
#    requirements as the champion) and runs `englab.mlops.deploy -e serving_node_model_version=N`
#    (goal <= 20 s);
# 3. new runtime: registers a scikit-learn model whose requirements.txt no earlier build has
#    seen (one requirement carries an always-true environment marker naming this run), and
#    deploys it (goal <= 75 s);
# 4. rollback: runs `englab.mlops.rollback` (goal <= 10 s);
# 5. destroys the platform with its data (BENCH_KEEP=1 keeps it; a kept platform is reused by
#    the next run, which then starts from a warm site.yml).
# Each step is timed as the goals are set: from ansible-playbook starting to the proxy first
# naming the target version (/englab/version, polled every 0.2 s beside the run); the
# playbook's whole wall time, drain and clean-up included, is printed beside it.
# Prints the figures, each goal met or not, and the slowest tasks of each run.
# Logs: .cache/bench/deploy/logs/<UTC time>/*.log
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh" deploy

prefix=benchd-
tracking_port=38543
serving_port=38180
secrets="$work/secrets"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="$work/logs/$stamp"
mkdir -p "$logs"
mkdir -p "$work"
[ -d "$secrets" ] || mkdir -m 0700 "$secrets"

vars="$(platform_vars "$prefix" "$secrets" "$tracking_port" "$serving_port")"
refuse_held_ports "$prefix" "$tracking_port" "$serving_port"

# Wall time of one playbook run in seconds; fails the script when the run fails.
timed() { # log playbook [more ansible-playbook args]
    local log="$1"
    shift
    timed_playbook "$log" "$@" -e "$vars"
}

served() { # the version the proxy says it serves
    curl -sS --max-time 10 "http://127.0.0.1:$serving_port/englab/version" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
}

expect_served() { # version what
    local now
    now="$(served)"
    if [ "$now" != "$1" ]; then
        echo "after $2 the proxy serves version $now, not $1" >&2
        exit 1
    fi
}

# The playbook run beside a poller of the proxy: prints "<seconds until the proxy served
# the version> <playbook wall time>"; the first is "-" when the proxy never named it.
served_after() { # log version playbook [more ansible-playbook args]
    local log="$1" want="$2" t0 poller wall first
    shift 2
    t0=$(date +%s.%N)
    (
        while :; do
            now=$(curl -s --max-time 1 "http://127.0.0.1:$serving_port/englab/version" |
                sed -n 's/.*"version": *"\([0-9]*\)".*/\1/p' || true)
            if [ "$now" = "$want" ]; then
                python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$t0" \
                    >"$logs/$log.served"
                exit 0
            fi
            sleep 0.2
        done
    ) &
    poller=$!
    wall=$(timed "$log" "$@") || { kill "$poller" 2>/dev/null; return 1; }
    sleep 1
    kill "$poller" 2>/dev/null || true
    wait "$poller" 2>/dev/null || true
    first=$(cat "$logs/$log.served" 2>/dev/null || echo -)
    echo "$first $wall"
}

# Python with the training node's MLflow client, as the training user.
mlflow_client() { # python code on stdin, args
    docker exec -i "${prefix}training-node" runuser -u mlops -- /usr/local/bin/mlops-env python - "$@"
}

cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "BENCH_KEEP=1: the $prefix platform is kept (secrets in $secrets)"
    else
        echo "== destroying the $prefix platform with its data"
        ansible-playbook englab.mlops.destroy -e "$vars" -e mlops_destroy_data=true >"$logs/destroy.log" 2>&1 ||
            echo "destroy failed; see $logs/destroy.log" >&2
    fi
}
trap cleanup EXIT

echo "== site.yml for the $prefix platform ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
site=$(timed site englab.mlops.site)
echo "   site: ${site} s, serving version $(served)"

echo "== same runtime: train a new version, then deploy it"
timed train englab.mlops.train >/dev/null
version=$(sed -n 's/.*model: englab-diabetes version \([0-9]*\) .*/\1/p' "$logs/train.log" | tail -1)
[ -n "$version" ] || { echo "no version in $logs/train.log" >&2; exit 1; }
read -r same same_wall < <(served_after deploy-same-runtime "$version" englab.mlops.deploy -e serving_node_model_version="$version")
expect_served "$version" "the same-runtime deploy"
echo "   version $version served after ${same} s (playbook ${same_wall} s)"

echo "== new runtime: register a model with requirements no build has seen, then deploy it"
new_version=$(mlflow_client "$stamp" <<'EOF'
import sys

import mlflow
import numpy as np
from sklearn.linear_model import LinearRegression

model = LinearRegression().fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
mlflow.set_experiment("englab-bench-deploy")
with mlflow.start_run():
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        registered_model_name="englab-diabetes",
        # An always-true marker naming this run: a requirements.txt no build has seen.
        extra_pip_requirements=[f'tabulate==0.9.0; platform_release != "englab-bench-{sys.argv[1]}"'],
    )
print(info.registered_model_version)
EOF
)
new_version=$(tail -1 <<<"$new_version")
read -r new new_wall < <(served_after deploy-new-runtime "$new_version" englab.mlops.deploy -e serving_node_model_version="$new_version")
expect_served "$new_version" "the new-runtime deploy"
echo "   version $new_version served after ${new} s (playbook ${new_wall} s)"

echo "== rollback"
read -r back back_wall < <(served_after rollback "$version" englab.mlops.rollback)
expect_served "$version" "the rollback"
echo "   version $version served again after ${back} s (playbook ${back_wall} s)"

goal() { python3 -c 'import sys; print("MET" if sys.argv[1] != "-" and float(sys.argv[1]) <= float(sys.argv[2]) else "NOT MET")' "$1" "$2"; }
echo
echo "                           served after   playbook"
echo "new version, same runtime: ${same} s   ${same_wall} s   (goal <= 20 s: $(goal "$same" 20))"
echo "new version, new runtime:  ${new} s   ${new_wall} s   (goal <= 75 s: $(goal "$new" 75))"
echo "rollback:                  ${back} s   ${back_wall} s   (goal <= 10 s: $(goal "$back" 10))"
for log in deploy-same-runtime deploy-new-runtime rollback; do
    echo "slowest tasks, $log:"
    slowest "$log" 6
done
echo "logs: $logs"
