#!/usr/bin/env bash
# Serving scale-out on the local target (issue #20): for 1, 2 and 3 serving nodes behind the serving
# load balancer, prediction throughput at 16 clients through it and the wall time of a deploy.
#
#   bench/serving_scale.sh            # needs `make setup` done (venv, node image, collection)
#
# 1. site.yml brings up its own platform (prefix benchs-, tracking 127.0.0.1:38743, serving
#    127.0.0.1:38380, secrets in .cache/bench/scale/secrets) with one serving node;
# 2. for N = 1, 2, 3 (SCALE_NODES="1 2 3"): site.yml with mlops_serving_node_count=N (a new node is
#    configured and pulls the served image), then bench/serving_load.py against the load balancer
#    (POST /invocations of the served version's input example, 16 clients, no stock server), then
#    englab.mlops.train and englab.mlops.deploy of the new version (same runtime: the first node
#    builds its layer and pushes it, the others pull it, one node at a time);
# 3. destroys the platform with its data (BENCH_KEEP=1 keeps it).
# Prints one line per N: site wall time, req/s, p50 and p99 at 16 clients, deploy wall time.
# Logs: .cache/bench/scale/logs/<UTC time>/
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh" scale

prefix=benchs-
tracking_port=38743
serving_port=38380
secrets="$work/secrets"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="$work/logs/$stamp"
mkdir -p "$logs"
[ -d "$secrets" ] || mkdir -m 0700 "$secrets"
bench/setup.sh >/dev/null

vars() { # serving node count
    platform_vars "$prefix" "$secrets" "$tracking_port" "$serving_port" "{\"mlops_serving_node_count\": $1}"
}
refuse_held_ports "$prefix" "$tracking_port" "$serving_port"

timed() { # log nodes playbook [more args]
    local log="$1" nodes="$2"
    shift 2
    timed_playbook "$log" "$@" -e "$(vars "$nodes")"
}

containers() { # nodes: the serving nodes and the load balancer, whose CPU serving_load.py meters
    local names="${prefix}serving-lb,${prefix}serving-node" i
    for ((i = 2; i <= $1; i++)); do names="$names,${prefix}serving-node-$i"; done
    echo "$names"
}

cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "BENCH_KEEP=1: the $prefix platform is kept (secrets in $secrets)"
    else
        echo "== destroying the $prefix platform with its data"
        ansible-playbook englab.mlops.destroy -e "$(vars 1)" -e mlops_destroy_data=true >"$logs/destroy.log" 2>&1 ||
            echo "destroy failed; see $logs/destroy.log" >&2
    fi
}
trap cleanup EXIT

echo "== serving scale-out, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %10s %8s %8s %12s\n' nodes "site s" "req/s@16" "p50 ms" "p99 ms" "deploy s"
for nodes in ${SCALE_NODES:-1 2 3}; do
    site=$(timed "site-$nodes" "$nodes" englab.mlops.site)
    .cache/bench-venv/bin/python bench/serving_load.py --url "http://127.0.0.1:$serving_port" \
        --ca "$secrets/tracking_ca.crt" --password-file "$secrets/tracking_user_training" \
        --tracking-url "https://127.0.0.1:$tracking_port" --clients 16 --seconds 15 --no-stock \
        --containers "$(containers "$nodes")" \
        --json "$logs/serving-$nodes.json" >"$logs/serving-$nodes.log" 2>&1 ||
        { tail -20 "$logs/serving-$nodes.log" >&2; exit 1; }
    read -r rps p50 p99 < <(python3 -c 'import json, sys
level = [lvl for lvl in json.load(open(sys.argv[1]))["levels"] if lvl["target"] == "ours" and lvl["clients"] == 16][0]
print("%.1f %.0f %.0f" % (level["rps"], level["p50_ms"], level["p99_ms"]))' "$logs/serving-$nodes.json")
    timed "train-$nodes" "$nodes" englab.mlops.train >/dev/null
    version=$(sed -n 's/.*model: englab-diabetes version \([0-9]*\) .*/\1/p' "$logs/train-$nodes.log" | tail -1)
    deploy=$(timed "deploy-$nodes" "$nodes" englab.mlops.deploy -e serving_node_model_version="$version")
    printf '%-6s %10s %10s %8s %8s %12s\n' "$nodes" "$site" "$rps" "$p50" "$p99" "$deploy"
done
echo "logs: $logs"
