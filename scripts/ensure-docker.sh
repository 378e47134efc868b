#!/usr/bin/env bash
# Make sure a Docker engine answers; start dockerd in the background when none
# does (CI machines and fresh hosts have no init system running it for us).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "[docker] engine answers: $(docker version --format '{{.Server.Version}}')"
  exit 0
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  log=${ENGLAB_DOCKERD_LOG:-/var/log/englab-dockerd.log}
  echo "[docker] starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "[docker] engine answers: $(docker version --format '{{.Server.Version}}')"
    exit 0
  fi
  sleep 1
done
echo "[docker] dockerd did not answer within 60 s; see ${log:-the docker service log}" >&2
exit 1
