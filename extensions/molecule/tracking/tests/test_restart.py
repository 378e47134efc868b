"""The services come back on their own after the containers restart."""

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

from conftest import DB, SEARCH_URL, TRACKING, TRACKING_URL, curl_as, docker_exec, secret, wait_for_api

CREATE_URL = f"{TRACKING_URL}/api/2.0/mlflow/experiments/create"
# How long nginx keeps an upstream server marked failed (its fail_timeout), as the role writes it.
NGINX_FAIL_TIMEOUT = int(
    re.search(
        r"fail_timeout=(\d+)s",
        (
            Path(__file__).resolve().parents[4] / "roles/tracking_server/templates/nginx-mlflow.conf.j2"
        ).read_text(),
    ).group(1)
)


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
    # nginx straight away (no 502 while systemd restarts the killed one), for MLflow's writes
    # (POSTs: nginx resends a write the dead instance never answered) as well as its reads, every write lands
    # exactly once, and the killed instance comes back by itself.
    unit = "englab-mlflow@5000"
    # Both instances answer first (the restart test before may have left one still starting):
    # the failover is measured from a healthy pair. And as nginx sees it: while the instances were
    # starting, an nginx worker marked each one failed on a refused connection (max_fails=1), for
    # fail_timeout (5 s) from that refusal. Killing 5000 inside that window leaves the worker no
    # live upstream, and it answers 502 ("no live upstreams" in its error log) although 5001 is up.
    for port in (5000, 5001):
        _wait_healthy(port)
    time.sleep(NGINX_FAIL_TIMEOUT + 1)
    pid = docker_exec(TRACKING, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
    assert pid not in ("", "0")
    docker_exec(TRACKING, "kill", "-9", pid)
    password = secret("tracking_user_training")
    batch = uuid.uuid4().hex[:12]
    statuses = []
    for i in range(10):
        body = json.dumps({"name": f"failover-{batch}-{i}"})
        statuses.append(
            curl_as(
                "training", password, "-H", "Content-Type: application/json", "-d", body, CREATE_URL
            ).stdout
        )
        statuses.append(curl_as("training", password, SEARCH_URL).stdout)
    assert statuses == ["200"] * 20
    # Each write is in the database once (a POST nginx replayed would have answered 400,
    # RESOURCE_ALREADY_EXISTS, above).
    query = f"SELECT count(*) FROM experiments WHERE name LIKE 'failover-{batch}-%'"  # noqa: S608 batch is hex
    count = docker_exec(DB, "runuser", "-u", "postgres", "--", "psql", "-d", "mlflow_db", "-tAc", query)
    assert count.stdout.strip() == "10"
    # The killed instance comes back by itself.
    _wait_healthy(5000)
    new_pid = docker_exec(TRACKING, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()
    assert new_pid not in ("", "0", pid)
