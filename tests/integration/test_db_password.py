"""The provision role's Cloud SQL password on the controller: one per version, kept, never shown.

Terraform's side (a re-run after a partial apply writes the same password to Cloud SQL and Secret
Manager) is tests/terraform/test_password.py; this is the role's half of that promise: every run
of one provision_gcp_db_password_version hands Terraform the same password, a higher version a
new one.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from conftest import FIXTURES, recap

PLAYBOOK = FIXTURES / "playbooks" / "db_password.yml"


def _run(playbook, tmp_path: Path, version: int | None):
    extra = {
        "mlops_secrets_dir": str(tmp_path / "secrets"),
        "provision_terraform_work_dir": str(tmp_path / "work"),
    }
    if version is not None:
        extra["provision_gcp_db_password_version"] = version
    result = playbook(PLAYBOOK, extra, "-v")
    assert result.rc == 0, result.output
    tfvars = tmp_path / "work" / "englab_db_password.auto.tfvars.json"
    assert stat.S_IMODE(tfvars.stat().st_mode) == 0o600
    given = json.loads(tfvars.read_text())
    assert given["db_password"] not in result.output
    return given, recap(result)["localhost"]


def test_one_password_per_version_kept_across_runs(playbook, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir(mode=0o700)
    (tmp_path / "work").mkdir(mode=0o700)
    first, _unused = _run(playbook, tmp_path, None)
    assert first["db_password_version"] == 1
    assert len(first["db_password"]) == 32
    kept = tmp_path / "secrets" / "db_password_v1"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # A re-run (after a failed apply, say) hands Terraform the same password and changes nothing.
    again, counters = _run(playbook, tmp_path, 1)
    assert again == first
    assert counters["changed"] == 0, counters
    # Rotation: a new version, a new password; the old version's file is left as it was.
    rotated, _unused = _run(playbook, tmp_path, 2)
    assert rotated["db_password_version"] == 2
    assert rotated["db_password"] != first["db_password"]
    assert json.loads(kept.read_text()) == first
