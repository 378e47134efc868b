#!/usr/bin/env bash
# Cold vs warm `ansible-playbook englab.mlops.site` on the local target.
#
#   bench/site_cold_warm.sh            # needs `make setup` done (venv, node image, collection)
#
# 1. from nothing: destroys any earlier `bench-` platform with its data, forgets its
#    secrets and cached facts;
# 2. cold run of site.yml (prefix bench-, tracking on 127.0.0.1:38443, serving on
#    127.0.0.1:38080, secrets in .cache/bench/site/secrets);
# 3. warm run of the same command (should converge with nothing changed);
# 4. destroys the platform with its data (BENCH_KEEP=1 keeps it).
# Prints both wall times, warm/cold (goal <= 0.15), the warm run's changed counts from
# PLAY RECAP and the ten slowest tasks of each run (ansible.posix.profile_tasks).
# Logs: .cache/bench/site/logs/<UTC time>/{destroy-before,cold,warm,destroy-after}.log
# Extra -e JSON (for example pip cache directories) may be given in BENCH_EXTRA_VARS.
#
# BENCH_WARM_REPS (default 2) warm runs follow the cold one; the median counts.
# BENCH_BASELINE=<git ref> (for example f0887d1, main before the warm-run work) also
# builds that commit's collection into its own collections path and, after this
# checkout's warm runs, runs it as many times on the same platform with its own
# ansible.cfg: "before" and "after" side by side. That is fair only while both commits
# converge the platform to the same state; each run's changed count shows it.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh" site

prefix="${BENCH_PREFIX:-bench-}"
tracking_port=38443
serving_port=38080
secrets="$work/secrets"
logs="$work/logs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$logs"

vars="$(platform_vars "$prefix" "$secrets" "$tracking_port" "$serving_port" "${BENCH_EXTRA_VARS:-}")"
refuse_held_ports "$prefix" "$tracking_port" "$serving_port"

playbook() { # name log [more ansible-playbook args]
    local name="$1" log="$2"
    shift 2
    ansible-playbook "$name" -e "$vars" "$@" >"$logs/$log.log" 2>&1
}

destroy() { # log [more ansible-playbook args]
    local log="$1"
    shift
    playbook englab.mlops.destroy "$log" -e mlops_destroy_data=true "$@"
}

# Wall time of one site run in seconds; fails the script when the run fails.
site() { # log
    timed_playbook "$1" englab.mlops.site -e "$vars"
}

# PLAY RECAP: "host : ok=N changed=N ..." lines; prints them and the changed total.
recap() { # log
    awk '/^PLAY RECAP/ {on = 1; next} on && NF == 0 {on = 0} on {print "    " $0}' "$logs/$1.log"
}
changed_total() { # log
    awk '/^PLAY RECAP/ {on = 1; next} on && NF == 0 {on = 0}
         on {for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) {split($i, a, "="); s += a[2]}}
         END {print s + 0}' "$logs/$1.log"
}

cleanup() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "BENCH_KEEP=1: the $prefix platform is kept (secrets in $secrets)"
    else
        echo "== destroying the $prefix platform with its data"
        destroy destroy-after || echo "destroy failed; see $logs/destroy-after.log" >&2
    fi
}

baseline_collections=""
if [ -n "${BENCH_BASELINE:-}" ]; then
    echo "== building the baseline collection from $BENCH_BASELINE"
    base_src="$work/baseline-src"
    baseline_collections="$work/baseline-collections"
    rm -rf "$base_src" "$baseline_collections"
    mkdir -p "$base_src" "$baseline_collections"
    git archive "$BENCH_BASELINE" | tar -x -C "$base_src"
    ansible-galaxy collection build --force --output-path "$base_src/build" "$base_src" >/dev/null
    ansible-galaxy collection install --force --no-deps -p "$baseline_collections" \
        "$base_src"/build/englab-mlops-*.tar.gz >/dev/null
fi

# A warm run of the baseline collection, with the baseline's ansible.cfg.
site_baseline() { # log
    ANSIBLE_CONFIG="$base_src/ansible.cfg" \
        ANSIBLE_COLLECTIONS_PATH="$baseline_collections:$ANSIBLE_COLLECTIONS_PATH" \
        ANSIBLE_CACHE_PLUGIN_CONNECTION="$work/facts" site "$1"
}

echo "== from nothing: destroying any earlier $prefix platform with its data"
# The earlier platform's secrets may be gone already: destroy it by its names alone.
destroy destroy-before -e provision_existing_platform=false
rm -rf "$secrets" "$work/facts"
mkdir -p "$work"
mkdir -m 0700 "$secrets"
trap cleanup EXIT

echo "== cold site.yml ($(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
cold=$(site cold)
echo "   cold: ${cold} s"
median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.1f}")' "$@"; }

warm_times=()
for rep in $(seq 1 "${BENCH_WARM_REPS:-2}"); do
    echo "== warm site.yml, rep $rep (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    t=$(site "warm-$rep")
    echo "   warm: ${t} s, changed=$(changed_total "warm-$rep")"
    warm_times+=("$t")
done
cp "$logs/warm-1.log" "$logs/warm.log"
warm=$(median "${warm_times[@]}")
echo "   warm runs: ${warm_times[*]} s (median $warm)"

# The baseline runs come last: they are a fair "before" only when both commits converge
# the platform to the same state (each run's changed count shows whether they do).
if [ -n "$baseline_collections" ]; then
    base_times=()
    for rep in $(seq 1 "${BENCH_WARM_REPS:-2}"); do
        echo "== warm site.yml, baseline $BENCH_BASELINE, rep $rep (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        t=$(site_baseline "warm-baseline-$rep")
        echo "   warm (baseline): ${t} s, changed=$(changed_total "warm-baseline-$rep")"
        base_times+=("$t")
    done
    base=$(median "${base_times[@]}")
    echo "   baseline warm runs: ${base_times[*]} s (median $base)"
fi

ratio=$(python3 -c 'import sys; print(f"{float(sys.argv[2]) / float(sys.argv[1]):.3f}")' "$cold" "$warm")
changed=$(for r in $(seq 1 "${BENCH_WARM_REPS:-2}"); do changed_total "warm-$r"; done | paste -sd/)
met=$(python3 -c 'import sys; print("MET" if float(sys.argv[1]) <= 0.15 and set(sys.argv[2].split("/")) == {"0"} else "NOT MET")' "$ratio" "$changed")

echo
echo "cold wall time: ${cold} s"
echo "warm wall time: ${warm} s"
echo "warm/cold:      ${ratio} (goal <= 0.15 with changed=0: $met)"
echo "warm runs changed (per run): $changed; PLAY RECAP of the first:"
recap warm
echo "slowest ten tasks, cold run:"
slowest cold
echo "slowest ten tasks, warm run:"
slowest warm
if [ -n "$baseline_collections" ]; then
    echo "warm/cold of the baseline $BENCH_BASELINE: $(python3 -c 'import sys; print(f"{float(sys.argv[2]) / float(sys.argv[1]):.3f}")' "$cold" "$base")"
    echo "baseline warm runs changed: $(for r in $(seq 1 "${BENCH_WARM_REPS:-2}"); do changed_total "warm-baseline-$r"; done | paste -sd/) in total"
    echo "slowest ten tasks, warm run of the baseline $BENCH_BASELINE:"
    slowest warm-baseline-1
fi
echo "logs: $logs"
