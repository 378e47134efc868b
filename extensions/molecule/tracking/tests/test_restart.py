"""The services come back on their own after the containers restart."""

import subprocess

from conftest import DB, SEARCH_URL, TRACKING, curl_as, docker_exec, secret, wait_for_api


def _active(container: str, unit: str) -> str:
    return docker_exec(container, "systemctl", "is-active", unit, check=False).stdout.strip()


def test_services_survive_a_container_restart():
    subprocess.run(["docker", "restart", DB, TRACKING], check=True, timeout=180)
    wait_for_api()
    assert _active(DB, "postgresql@15-main") == "active"
    assert _active(DB, "englab-pg-backup.timer") == "active"
    assert _active(TRACKING, "englab-mlflow") == "active"
    assert _active(TRACKING, "nginx") == "active"
    # The server reaches PostgreSQL again: an authenticated query answers 200.
    assert curl_as("training", secret("tracking_user_training"), SEARCH_URL).stdout == "200"
