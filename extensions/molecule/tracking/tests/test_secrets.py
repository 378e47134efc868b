"""No generated secret leaks: not in the Ansible output of this scenario, not in any
world-readable file on any node."""

import subprocess

import pytest
from conftest import NODES, TRACKING, docker_exec

LEAK_PATTERNS = "/run/englab-leakcheck"


def test_ansible_output_holds_no_secret(ansible_log, secrets):
    # The log is the real output: it holds the converge and the idempotence runs.
    assert "englab.mlops.tracking_server : Create the missing users" in ansible_log
    leaked = [name for name, value in secrets.items() if value in ansible_log]
    assert leaked == []


def _write_patterns(container: str, secrets: dict[str, str]) -> None:
    """Put the secrets in a root-only file on tmpfs (outside the searched filesystem)."""
    subprocess.run(
        ["docker", "exec", "-i", container, "sh", "-c", f"umask 077; cat > {LEAK_PATTERNS}"],
        input="\n".join(secrets.values()) + "\n",
        text=True,
        check=True,
        timeout=30,
    )


@pytest.mark.parametrize("container", NODES)
def test_no_world_readable_file_holds_a_secret(container, secrets):
    _write_patterns(container, secrets)
    try:
        search = docker_exec(
            container,
            "sh",
            "-c",
            "find / -xdev \\( -path /proc -o -path /sys \\) -prune -o -type f -perm -o+r -print0"
            f" | xargs -0 -r grep -F -l -f {LEAK_PATTERNS} -- || true",
        )
        assert search.stdout.split() == []
        if container == TRACKING:
            # The same search finds the secrets where they must be (0600 files): it can fail.
            control = docker_exec(
                container, "grep", "-F", "-l", "-f", LEAK_PATTERNS, "/etc/englab-mlflow/mlflow.env"
            )
            assert control.stdout.strip() == "/etc/englab-mlflow/mlflow.env"
    finally:
        docker_exec(container, "rm", "-f", LEAK_PATTERNS)
