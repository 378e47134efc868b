#!/usr/bin/env bash
# Every plugin of the installed collection renders with ansible-doc, and
# `ansible-doc -l englab.mlops` lists each module.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
listed=$(ansible-doc -l englab.mlops 2>/dev/null)
for kind in modules filter lookup inventory callback; do
  [ -d "plugins/$kind" ] || continue
  type=${kind%s}
  for f in plugins/"$kind"/*.py; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .py)
    [ "$name" = __init__ ] && continue
    grep -q '^DOCUMENTATION' "$f" || { echo "plugin-docs: $f has no DOCUMENTATION"; fail=1; continue; }
    if ! ansible-doc -t "$type" "englab.mlops.$name" >/dev/null 2>/tmp/ansible-doc.err; then
      echo "plugin-docs: ansible-doc -t $type englab.mlops.$name failed:"; cat /tmp/ansible-doc.err; fail=1
    fi
    if [ "$type" = module ] && ! grep -q "^englab.mlops.$name " <<<"$listed"; then
      echo "plugin-docs: ansible-doc -l englab.mlops does not list $name"; fail=1
    fi
  done
done
[ "$fail" -eq 0 ] && echo "plugin-docs: every plugin renders"
exit "$fail"
