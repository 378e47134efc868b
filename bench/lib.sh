# Sourced by the bench/*.sh scripts: the environment every benchmark runs ansible-playbook in.
# Sets root (the checkout, also the working directory) and work (.cache/bench/<$1>, the bench's own
# fact cache under it: a cold run must not reuse facts gathered for other platforms).
# shellcheck shell=bash
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
export ANSIBLE_CONFIG="$root/ansible.cfg"
export TF_CLI_CONFIG_FILE="$root/.cache/terraformrc"
export ENGLAB_NODE_IMAGE="${ENGLAB_NODE_IMAGE:-englab/node:bookworm}"
export MLFLOW_DISABLE_TELEMETRY=true PIP_DISABLE_PIP_VERSION_CHECK=1
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 PY_COLORS=0
work="$root/.cache/bench/$1"
export ANSIBLE_CACHE_PLUGIN_CONNECTION="$work/facts"

# The -e JSON of a bench platform on the local target: its prefix, secrets directory and published
# ports, merged with the JSON object given last (optional).
platform_vars() { # prefix secrets tracking_port serving_port [JSON object]
    python3 -c 'import json, sys; print(json.dumps({
        "mlops_target": "local", "mlops_name_prefix": sys.argv[1], "mlops_secrets_dir": sys.argv[2],
        "mlops_local_tracking_port": int(sys.argv[3]), "mlops_local_serving_port": int(sys.argv[4]),
        **json.loads(sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else "{}")}))' "$@"
}

# Refuses to start (exit 1) while a container not of this bench's platform publishes one of the ports.
refuse_held_ports() { # prefix port...
    local prefix="$1" port published
    shift
    published="$(docker ps --format '{{.Names}} {{.Ports}}' | grep -v "^$prefix" || true)"
    for port in "$@"; do
        if grep -q "127.0.0.1:$port->" <<<"$published"; then
            echo "port $port is published by another container; refusing" >&2
            exit 1
        fi
    done
}

# Wall time in seconds of `ansible-playbook ARGS...`, logged to $logs/<log>.log (the calling script
# sets logs); when the run fails, its last lines on stderr and its status.
timed_playbook() { # log ansible-playbook args...
    local log="$1" t0 t1 rc=0
    shift
    t0=$(date +%s.%N)
    # shellcheck disable=SC2154 # logs: set by the sourcing script
    ansible-playbook "$@" >"$logs/$log.log" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    if [ "$rc" -ne 0 ]; then
        echo "$1 ($log) failed with rc=$rc; last lines of $logs/$log.log:" >&2
        tail -40 "$logs/$log.log" >&2
        return "$rc"
    fi
    python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$t0" "$t1"
}

# The slowest tasks from a run's profile_tasks summary (after the line of '='); profile_tasks shortens
# the dashes before the time to one for long task names.
slowest() { # log [how many, default 10]
    awk -v max="${2:-10}" '/^==========+ *$/ {on = 1; next}
        on && / -+ *[0-9.]+s$/ {print "    " $0; if (++n == max) exit}' "$logs/$1.log"
}
