"""The warm converge of a Molecule scenario, judged from each module's own result.

Every scenario enables the englab.mlops.task_results callback (extensions/molecule/config.yml),
which writes each task result of a run to task_results.jsonl in the ephemeral directory.
The last run before verify is Molecule's idempotence step: the converge of a converged
node. It must cost probes only, and `problems()` lists every result that breaks that:

- apt tasks must be skipped (the shared role's probes found nothing missing), and the venv
  installs (commands, reporting a change whenever they run) must not run;
- template, copy and file tasks must not run on a node (roles declare their files
  through englab.mlops.managed_files); the controller's own tasks are not counted;
- every englab.mlops.managed_files result must report no changed path;
- no task may report a change.

`fast_path_taken()` says whether the probes themselves ran on a node, so the check
cannot pass on a run that skipped the roles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Modules that install or write: on a warm node they must not run at all.
NOT_RUN = {
    "ansible.builtin.apt",
    "ansible.builtin.pip",
    "ansible.builtin.package",
    "ansible.builtin.template",
    "ansible.builtin.copy",
    "ansible.builtin.file",
}
MANAGED_FILES = "englab.mlops.managed_files"
PACKAGES_PROBE = "Read which of the role's packages are installed"


def _read() -> list[dict]:
    path = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "task_results.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Read when pytest collects the tests, before any of them runs: a test that runs
# ansible-playbook itself (bad input, restarts) would replace the file.
_AT_VERIFY_START = _read()


def idempotence_results() -> list[dict]:
    """The task results of the scenario's last Ansible run before verify (the idempotence converge)."""
    assert _AT_VERIFY_START, (
        "task_results.jsonl was empty when verify began: is englab.mlops.task_results enabled?"
    )
    return _AT_VERIFY_START


def problems(results: list[dict]) -> list[str]:
    found = []
    for result in results:
        if result["on_controller"]:
            continue
        where = f"{result['host']}: {result['task']!r} ({result['action']})"
        if result["changed"]:
            found.append(f"{where} reported a change")
        if result["action"] in NOT_RUN and result["outcome"] != "skipped":
            found.append(f"{where} ran on a converged node")
        if result.get("changed_paths"):
            found.append(f"{where} wrote {result['changed_paths']}")
    return found


def fast_path_taken(results: list[dict], host: str) -> list[str]:
    """What proves the probes ran on `host`: a managed_files call, and the shared packages probe."""
    ran = [result for result in results if result["host"] == host and result["outcome"] == "ok"]
    missing = []
    if not any(result["action"] == MANAGED_FILES for result in ran):
        missing.append(f"{host}: no englab.mlops.managed_files task ran")
    if not any(PACKAGES_PROBE in result["task"] for result in ran):
        missing.append(f"{host}: the shared packages probe did not run")
    return missing
