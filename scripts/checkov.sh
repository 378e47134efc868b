#!/usr/bin/env bash
# checkov on the GCP Terraform root, offline. checkov lives in its own venv (.venv-checkov):
# its HCL parser fork clashes with python-hcl2 in the main venv. The venv is created only when
# missing, from the pinned requirements/checkov.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CHECKOV_VENV:-.venv-checkov}
if [ ! -x "$VENV/bin/checkov" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements/checkov.txt
fi
export TF_CLI_CONFIG_FILE=/dev/null
exec "$VENV/bin/checkov" --quiet --compact --skip-download --framework terraform --directory terraform "$@"
