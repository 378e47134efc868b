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
