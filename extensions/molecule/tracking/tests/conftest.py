"""Shared helpers: the scenario's controller-side secrets, docker exec, and the Ansible log."""

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

DB = "molecule-tracking-db"
TRACKING = "molecule-tracking-node"
CLIENT = "molecule-tracking-client"
NODES = (DB, TRACKING, CLIENT)
TRACKING_URL = f"https://{TRACKING}"
CA_ON_NODES = "/usr/local/share/ca-certificates/englab-platform-ca.crt"
CLIENT_PYTHON = "/opt/englab-client/venv/bin/python"
SEARCH_URL = f"{TRACKING_URL}/api/2.0/mlflow/experiments/search?max_results=1"


def ephemeral_dir() -> Path:
    return Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def secret(name: str) -> str:
    """A secret the roles generated on the controller (mlops_secrets_dir)."""
    return (ephemeral_dir() / "secrets" / name).read_text().strip()


def docker_exec(
    container: str, *argv: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run argv in a container; env values travel in the environment, never on a command line."""
    names = [arg for name in (env or {}) for arg in ("-e", name)]
    return subprocess.run(
        ["docker", "exec", *names, container, *argv],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
        timeout=600,
    )


def curl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """curl from the client node, verifying the server against the platform CA (never -k)."""
    return docker_exec(
        CLIENT,
        "curl",
        "-sS",
        "--cacert",
        CA_ON_NODES,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        *args,
        env=env,
    )


def curl_as(user: str, password: str, *args: str) -> subprocess.CompletedProcess:
    """curl from the client node as a user; the credentials reach curl on stdin (-K -), not argv."""
    return subprocess.run(
        [
            "docker",
            "exec",
            "-i",
            CLIENT,
            "curl",
            "-sS",
            "--cacert",
            CA_ON_NODES,
            "-K",
            "-",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            *args,
        ],
        input=f'user = "{user}:{password}"\n',
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def wait_for_api(timeout: float = 180) -> None:
    """Wait until the API answers through nginx (any status from MLflow, 401 included)."""
    deadline = time.monotonic() + timeout
    while True:
        result = docker_exec(
            CLIENT,
            "curl",
            "-s",
            "--cacert",
            CA_ON_NODES,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            f"{TRACKING_URL}/health",
            check=False,
        )
        if result.stdout == "200":
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"tracking server not healthy after {timeout}s: {result.stdout} {result.stderr}"
            )
        time.sleep(3)


def wait_for_client_venv(timeout: float = 900) -> None:
    """prepare.yml installs the client's MLflow in the background; wait for its marker."""
    deadline = time.monotonic() + timeout
    while True:
        state = docker_exec(
            CLIENT, "sh", "-c", "cd /opt/englab-client && ls ready failed 2>/dev/null || true"
        ).stdout.split()
        if "ready" in state:
            return
        if "failed" in state:
            log = docker_exec(CLIENT, "tail", "-20", "/opt/englab-client/pip.log", check=False).stdout
            raise AssertionError(f"the client venv install failed:\n{log}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the client venv was not ready after {timeout}s")
        time.sleep(5)


@pytest.fixture(scope="session")
def ansible_log() -> str:
    """Everything ansible-playbook printed in this scenario (ANSIBLE_LOG_PATH in molecule.yml)."""
    log = ephemeral_dir() / "ansible.log"
    assert log.is_file(), "molecule.yml sets ANSIBLE_LOG_PATH; the log must exist"
    return log.read_text(errors="replace")


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    """Every password the roles generated, plus the URL-encoded form of the database password."""
    names = ["db_password", "tracking_admin", "tracking_user_training", "tracking_user_serving"]
    found = {name: secret(name) for name in names}
    found["tracking_flask_secret_key"] = secret("tracking_flask_secret_key")
    found["db_password_urlencoded"] = quote(found["db_password"], safe="")
    # The basic-auth ini escapes % for configparser.
    found["db_password_ini"] = found["db_password_urlencoded"].replace("%", "%%")
    for name, value in found.items():
        assert len(value) >= 16, f"{name} is too short to be searched for reliably"
    return found
