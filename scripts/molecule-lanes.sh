#!/usr/bin/env bash
# Run Molecule scenarios in lanes side by side: `molecule test -s NAME` for each NAME
# given, MOLECULE_LANES (default 2) at a time. Scenarios spend most of their time
# waiting on apt, pip and systemd inside their containers, so two lanes on two cores
# take about the longest lane's time. Each scenario has its own containers, network and
# ephemeral directory (molecule-<scenario>-*), so lanes share nothing.
#
# `tracking` runs first and alone: its failover test (kill -9 of one MLflow instance, no
# 502 through nginx) failed twice in six runs while other scenarios or the integration
# tests loaded the same Docker engine, and never on a quiet one (session 9 note).
#
#   scripts/molecule-lanes.sh default common tracking
#
# A lane runs its scenarios one after another and stops at its first failure. Each
# scenario's output goes to .cache/molecule/logs/<scenario>.log and is printed whole
# when the scenario ends; the exit status is non-zero when any scenario failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lanes="${MOLECULE_LANES:-2}"
logs="$root/.cache/molecule/logs"
mkdir -p "$logs"

alone=tracking
declare -a lane
first=""
i=0
for s in "$@"; do
  if [ "$s" = "$alone" ]; then
    first="$s"
  else
    n=$(( i % lanes ))
    lane[n]="${lane[n]:-} $s"
    i=$((i + 1))
  fi
done

run_lane() {
  for s in $1; do
    start=$(date +%s)
    if molecule test -s "$s" >"$logs/$s.log" 2>&1; then status=passed; else status=FAILED; fi
    { echo "== molecule scenario $s: $status in $(( $(date +%s) - start )) s"; cat "$logs/$s.log"; echo "== end of $s"; } | cat
    echo "$s $status" >>"$logs/summary"
    [ "$status" = passed ] || return 1
  done
}

: >"$logs/summary"
failed=0
if [ -n "$first" ]; then
  echo "[molecule] alone first: $first"
  run_lane "$first" || failed=1
fi
pids=()
for n in "${!lane[@]}"; do
  echo "[molecule] lane $n:${lane[$n]}"
  run_lane "${lane[$n]}" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
echo "[molecule] $(grep -c ' passed$' "$logs/summary") passed, $(grep -c ' FAILED$' "$logs/summary") failed:"
sed 's/^/  /' "$logs/summary"
exit $failed
