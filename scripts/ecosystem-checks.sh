#!/usr/bin/env bash
# What a collection reviewer runs, on the tarball `make collection` built, offline:
#   1. ansible-test sanity (every test of ansible-core's sanity suite, on this Python);
#   2. galaxy-importer (Galaxy's and Automation Hub's import, without ansible-test);
#   3. antsibull-docs lint-collection-docs --plugin-docs.
# The tools live in their own venv (.cache/ecosystem-venv, requirements/ecosystem.txt).
#
# Offline: ansible-test bootstraps pip into each sanity venv with a script it downloads from
# ci-files.testing.ansible.com, which these machines cannot reach. Its cache
# (~/.ansible/test/cache/get_pip_<version>.py) gets a stand-in instead: pip run from its own
# wheel (PyPI, which is reachable) installs pip, as get-pip does. HOME points into .cache, so
# neither that cache nor the sanity venvs touch the user's home.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/ecosystem"
venv="$root/.cache/ecosystem-venv"
requirements="$root/requirements/ecosystem.txt"
python=${ECOSYSTEM_PYTHON:-$root/.venv/bin/python3}
version=$(sed -n 's/^version: *//p' "$root/galaxy.yml")
tarball="$root/build/englab-mlops-$version.tar.gz"
[ -f "$tarball" ] || { echo "[ecosystem] no $tarball: run make collection" >&2; exit 1; }

# --- the tools' venv, remade when its requirements change -----------------------------------
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  # The Python .venv was made from: the same interpreter runs the sanity tests.
  "$(readlink -f "$python")" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$requirements" 2>&1 | grep -v '^WARNING: Location' || true
  "$venv/bin/python" -c 'import ansible_test, galaxy_importer, antsibull_docs'
  echo "$want" >"$stamp"
fi
export PATH="$venv/bin:$PATH"
pyversion=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# --- the collection as installed from its tarball, beside the collections it depends on ------
# Outside any git work tree: inside one (this checkout's .cache), ansible-test lists the files
# git tracks there, finds none, and skips every test.
mkdir -p "$cache"
rm -rf "${TMPDIR:-/tmp}"/englab-ecosystem.*
collections=$(mktemp -d "${TMPDIR:-/tmp}/englab-ecosystem.XXXXXX")
mkdir -p "$collections/ansible_collections/englab/mlops"
tar -xzf "$tarball" -C "$collections/ansible_collections/englab/mlops"
# The collections the `ansible` package of .venv bundles (requirements/dev.txt).
bundled=$("$root/.venv/bin/python" -c 'import ansible_collections; print(list(ansible_collections.__path__)[0])')
# galaxy.yml's dependencies and theirs (MANIFEST.json), linked from there; cloud.terraform, an
# optional dependency the package does not bundle, is left out.
"$root/.venv/bin/python" - "$root/galaxy.yml" "$bundled" "$collections/ansible_collections" <<'DEPS'
import json, os, sys, yaml
galaxy, bundled, target = sys.argv[1:]
wanted, linked = list(yaml.safe_load(open(galaxy))["dependencies"]), set()
while wanted:
    name = wanted.pop()
    source = os.path.join(bundled, *name.split("."))
    if name in linked or not os.path.isdir(source):
        continue
    os.makedirs(os.path.join(target, name.split(".")[0]), exist_ok=True)
    os.symlink(source, os.path.join(target, *name.split(".")))
    linked.add(name)
    wanted += json.load(open(os.path.join(source, "MANIFEST.json")))["collection_info"]["dependencies"] or []
DEPS
collection="$collections/ansible_collections/englab/mlops"

# --- 1. ansible-test sanity --------------------------------------------------------------------
home="$cache/home"
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" \
  "$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)
[ -n "$pip_version" ] || { echo "[ecosystem] cannot tell which pip ansible-test bootstraps" >&2; exit 1; }
wheels="$cache/pip-$pip_version"
if ! ls "$wheels"/pip-"$pip_version"-*.whl >/dev/null 2>&1; then
  "$venv/bin/pip" download -q --no-deps -d "$wheels" "pip==$pip_version" 2>&1 | grep -v '^WARNING: Location' || true
fi
mkdir -p "$home/.ansible/test/cache"
cat >"$home/.ansible/test/cache/get_pip_${pip_version//./_}.py" <<EOF
"""Offline stand-in for ansible-test's get-pip $pip_version bootstrap (scripts/ecosystem-checks.sh)."""
import os
import sys

WHEELS = "$wheels"
sys.path.insert(0, [os.path.join(WHEELS, n) for n in os.listdir(WHEELS) if n.startswith("pip-")][0])
from pip._internal.cli.main import main  # noqa: E402  pip, run from its wheel

sys.exit(main(["install", "--find-links", WHEELS] + [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]))
EOF
echo "[ecosystem] ansible-test sanity --python $pyversion ($(ansible-test --version))"
(cd "$collection" && HOME="$home" ANSIBLE_COLLECTIONS_PATH="$collections" \
  ansible-test sanity --local --python "$pyversion" --color no 2>&1 |
  grep -v -e '^WARNING: Using locale' -e '^WARNING: Reviewing previous' -e '^WARNING: Location' \
    -e '^Installing requirements' -e '^Using cached pip' -e '^Looking in links' -e '^Collecting ' \
    -e '^  Downloading ' -e '^     ' -e '^Installing collected' -e '^Successfully installed' -e '^Requirement already')

# --- 2. galaxy-importer ----------------------------------------------------------------------------
echo "[ecosystem] galaxy-importer $(pip show galaxy-importer 2>/dev/null | sed -n 's/^Version: //p') on $(basename "$tarball")"
cat >"$cache/galaxy-importer.cfg" <<EOF
[galaxy-importer]
RUN_ANSIBLE_TEST = False
RUN_ANSIBLE_LINT = True
OFFLINE_ANSIBLE_LINT = True
# Automation Hub's setting (Galaxy's is False): the version must be 1.0.0 or later.
REQUIRE_V1_OR_GREATER = True
LOG_LEVEL_MAIN = INFO
EOF
# The importer lints with ANSIBLE_COLLECTIONS_PATH set to its own copy only; the dependencies
# are found where ansible-core also looks, on sys.path (a .pth to the bundled collections).
mkdir -p "$cache/syspath"
ln -sfn "$collections/ansible_collections" "$cache/syspath/ansible_collections"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$cache/syspath" >"$site/englab-ecosystem-collections.pth"
# (run in .cache/ecosystem: it writes importer_result.json where it runs)
(cd "$cache" && GALAXY_IMPORTER_CONFIG="$cache/galaxy-importer.cfg" HOME="$home" \
  python -m galaxy_importer.main "$tarball" >"$cache/galaxy-importer.log" 2>&1) || {
  cat "$cache/galaxy-importer.log"
  echo "[ecosystem] galaxy-importer failed" >&2
  exit 1
}
# Its lint findings are logged as warnings, its own failures as errors: both count, but for the
# notice it gives every collection with a sanity ignore file (tests/sanity/ignore-2.19.txt, each
# line with its reason).
if grep -E -e '^(WARNING|ERROR)' "$cache/galaxy-importer.log" |
  grep -v -e '^WARNING: Ignore files skip ansible-test sanity tests, found ignore-2\.[0-9]*\.txt with [0-9]* statement'; then
  echo "[ecosystem] galaxy-importer: the findings above ($cache/galaxy-importer.log)" >&2
  exit 1
fi
tail -1 "$cache/galaxy-importer.log"

# --- 3. antsibull-docs --------------------------------------------------------------------------------
echo "[ecosystem] antsibull-docs lint-collection-docs --plugin-docs"
(cd "$collection" && ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$collections" \
  antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs all .)
rm -rf "$collections"
echo "[ecosystem] sanity, galaxy-importer and antsibull-docs passed"
