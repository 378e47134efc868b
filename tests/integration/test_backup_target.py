"""englab.mlops.backup and englab.mlops.restore on the gcp target stop before the platform is reached.

Backup sets are a local-target feature (on gcp Cloud SQL and the bucket keep the data). Both
playbooks used to import provision.yml first - on gcp a Terraform run - and refuse only after it.
Here they must refuse in their first play: no provision play, no secrets directory, no Terraform
working copy, and the message says where a gcp platform's data is kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import recap

GCP = {
    "mlops_target": "gcp",
    "mlops_gcp_project": "englab-itest-project",
    "mlops_gcp_region": "europe-west1",
    "mlops_name_prefix": "englab-bktarget-",
}


@pytest.mark.parametrize(
    ("playbook_name", "extra", "message"),
    [
        ("englab.mlops.backup", {}, "englab.mlops.backup writes backup sets of the local target."),
        (
            "englab.mlops.restore",
            {"mlops_restore_from": "latest", "mlops_restore_confirm": True},
            "englab.mlops.restore restores backup sets of the local target.",
        ),
    ],
)
def test_gcp_is_refused_before_the_platform_is_reached(
    playbook, tmp_path: Path, playbook_name: str, extra: dict, message: str
) -> None:
    secrets = tmp_path / "secrets"
    result = playbook(playbook_name, {**GCP, "mlops_secrets_dir": str(secrets), **extra})
    assert result.rc != 0
    assert message in result.output, result.output[-3000:]
    assert "Cloud SQL" in result.output
    assert "Traceback" not in result.output
    # the first play refused: provision never ran (its play would name the contract hosts' play)
    assert "PLAY [Provision the englab MLOps platform]" not in result.stdout
    assert list(recap(result)) == ["localhost"]
    assert not secrets.exists()
