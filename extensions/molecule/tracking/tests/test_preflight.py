"""Wrong input stops before anything runs: argument specs for types, preflight asserts for rules.

Each case applies a role to the scenario's client node with one bad value, on top of the
scenario's own inventory contract (its group_vars): the run must fail in validation or
preflight, naming the variable, before any task changes anything. Nothing is applied to
the machine running the tests.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import CLIENT


def _run(tmp_path: Path, role: str, overrides: dict) -> subprocess.CompletedProcess:
    play = [
        {
            "name": "Apply one role with bad input",
            "hosts": CLIENT,
            "gather_facts": False,
            "vars": {"mlops_secrets_dir": str(tmp_path / "secrets"), **overrides},
            "tasks": [{"ansible.builtin.include_role": {"name": f"englab.mlops.{role}"}}],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "inventory"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        # Neither the scenario's log nor its record of the idempotence run (warm_converge.py).
        env={**os.environ, "ANSIBLE_LOG_PATH": "", "ENGLAB_TASK_RESULTS": ""},
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("role", "overrides", "message"),
    [
        ("tracking_server", {"tracking_server_port": "not-a-port"}, "tracking_server_port"),
        ("tracking_server", {"tracking_server_users": "training"}, "tracking_server_users"),
        ("tracking_server", {"mlops_target": "aws"}, "mlops_target"),
        (
            "tracking_server",
            {"tracking_server_auth_default_permission": "ALL"},
            "tracking_server_auth_default_permission",
        ),
        (
            "tracking_server",
            {"mlops_target": "gcp", "mlops_artifact_destination": "/srv/artifacts"},
            "tracking_server_artifact_destination (mlops_artifact_destination) must be gs://<bucket> on gcp",
        ),
        (
            "tracking_server",
            {
                "mlops_target": "gcp",
                "mlops_artifact_destination": "gs://bucket",
                "mlops_db_password_secret": "",
            },
            "tracking_server_db_password_secret (mlops_db_password_secret)",
        ),
        (
            "tracking_server",
            {"tracking_server_tls_certificate": "/etc/hostname"},
            "Set all of tracking_server_tls_certificate, tracking_server_tls_private_key",
        ),
        ("tracking_server", {"mlops_db_sslmode": "sometimes"}, "mlops_db_sslmode"),
        ("database", {"database_backup_retention_days": "weekly"}, "database_backup_retention_days"),
        ("database", {"mlops_target": "gcp"}, "englab.mlops.database runs on mlops_target 'local' only"),
    ],
)
def test_bad_input_stops_before_anything_runs(tmp_path, role, overrides, message):
    result = _run(tmp_path, role, overrides)
    # Callbacks wrap long messages: compare with whitespace collapsed.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-2000:]
    assert message in output, output[-2000:]
    # Nothing ran past the checks: no task reported a change.
    assert "changed=0" in output, output[-2000:]
