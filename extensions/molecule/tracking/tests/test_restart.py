"""The services come back on their own after the containers restart."""

import subprocess
import time

from conftest import DB, SEARCH_URL, TRACKING, curl_as, docker_exec, secret, wait_for_api


def _active(container: str, unit: str) -> str:
    return docker_exec(container, "systemctl", "is-active", unit, check=False).stdout.strip()


def _wait_healthy(port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/health"
    while (
        docker_exec(TRACKING, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url, check=False).stdout
        != "200"
    ):
        assert time.monotonic() < deadline, (
            f"the instance on {port} does not answer /health within {timeout} s"
        )
        time.sleep(1)


def test_services_survive_a_container_restart():
    subprocess.run(["docker", "restart", DB, TRACKING], check=True, timeout=180)
    wait_for_api()
    assert _active(DB, "postgresql@15-main") == "active"
    assert _active(DB, "englab-pg-backup.timer") == "active"
    assert _active(TRACKING, "englab-mlflow@5000") == "active"
    assert _active(TRACKING, "englab-mlflow@5001") == "active"
    assert _active(TRACKING, "nginx") == "active"
    # The server reaches PostgreSQL again: an authenticated query answers 200.
    assert curl_as("training", secret("tracking_user_training"), SEARCH_URL).stdout == "200"


def test_a_killed_instance_is_failed_over_at_once_and_restarted_by_systemd():
    # kill -9 of one server instance's main process: the other instance answers through
    # nginx straight away (no 502 while systemd restarts the killed one), and the killed
    # instance comes back by itself.
    unit = "englab-mlflow@5000"
    # Both instances answer first (the restart test before may have left one still starting):
    # the failover is measured from a healthy pair.
    for port in (5000, 5001):
        _wait_healthy(port)
    pid = docker_exec(TRACKING, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
    assert pid not in ("", "0")
    docker_exec(TRACKING, "kill", "-9", pid)
    password = secret("tracking_user_training")
    statuses = [curl_as("training", password, SEARCH_URL).stdout for _unused in range(10)]
    assert statuses == ["200"] * 10
    # The killed instance comes back by itself.
    _wait_healthy(5000)
    new_pid = docker_exec(TRACKING, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
    assert new_pid not in ("", "0", pid)
