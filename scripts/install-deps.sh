#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the toolchain needs, only those missing.
# Safe to re-run; needs root (or sudo) the first time.
set -euo pipefail
# openssh-client: the controller reaches every node over SSH, on both targets.
# The shellcheck package: ansible-test sanity runs it on the shell scripts (make ecosystem).
# chromium, chromium-driver, libnss3-tools: the MLflow UI test opens the platform in a real browser
# that trusts the platform CA (tests/e2e/test_browser_ui.py).
pkgs=(docker.io debootstrap python3-venv python3-pip git make curl ca-certificates iproute2 rsync graphviz openssh-client shellcheck
  chromium chromium-driver libnss3-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A Docker engine from another source (docker-ce) is as good as Debian's.
if [ "${#missing[@]}" -gt 0 ] && command -v dockerd >/dev/null; then
  missing=("${missing[@]/docker.io}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -eq 0 ]; then
  echo "[deps] all Debian packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
