"""Issue 16: the tracking role says so when the database password does not open the database.

The database user's password is changed behind the platform's back (ALTER ROLE in the database
container, the statement on psql's standard input), then only the tracking server is converged
(provision.yml for the inventory, then the tracking_server role: the database play of site.yml,
which would set the password back from the secrets directory, is left out). The run must stop with a message that names the cause and the
fix, show no traceback and no password, and leave the running MLflow servers alone. The test puts
the password back in any case and checks the next run is green and changes nothing.
"""

from __future__ import annotations

import secrets
import time

from conftest import Platform, provision_then, recap

INSTANCES = ("englab-mlflow@5000.service", "englab-mlflow@5001.service")


def tracking_only() -> str:
    """A playbook that converges the tracking server alone (facts gathered, as site.yml's first play does)."""
    return provision_then(
        "tracking-only.yml",
        {
            "name": "Tracking server only",
            "hosts": "tracking",
            "gather_facts": True,
            "roles": [{"role": "englab.mlops.tracking_server"}],
        },
    )


def set_db_password(platform: Platform, password: str) -> None:
    """ALTER ROLE as the postgres superuser; the password travels on stdin, never on a command line."""
    platform.exec_input(
        "englab-db",
        f"ALTER ROLE mlflow PASSWORD '{password}';\n",
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-d",
        "postgres",
    )


def main_pids(platform: Platform) -> dict[str, str]:
    return {
        unit: platform.exec(
            "tracking-node", "systemctl", "show", "--property=MainPID", "--value", unit
        ).stdout.strip()
        for unit in INSTANCES
    }


def healthy(platform: Platform, port: int) -> bool:
    probe = ("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/health")
    return platform.exec("tracking-node", *probe, check=False).stdout == "200"


def test_a_password_the_database_refuses_stops_the_tracking_role_before_any_restart(platform: Platform):
    configured = (platform.secrets_dir / "db_password").read_text().strip()
    rotated = secrets.token_hex(16)
    pids = main_pids(platform)
    assert all(pid not in ("", "0") for pid in pids.values()), pids
    env_before = platform.exec("tracking-node", "sha1sum", "/etc/englab-mlflow/mlflow.env").stdout
    try:
        set_db_password(platform, rotated)
        failed = platform.playbook(tracking_only(), "db-password-refused", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert "tracking_server: the database password does not open database 'mlflow_db'" in output
        assert "password authentication failed for user" in output
        # named through the store in use (the controller file here), never by its value
        assert (
            f"The platform secret db_password, the controller file {platform.secrets_dir}/db_password,"
            in output
        )
        assert "Run englab.mlops.site without --tags" in output
        assert (
            "TASK [englab.mlops.tracking_server : Fail when the password does not open the database]"
            in output
        )
        assert "The MLflow servers were not restarted" in output
        assert "Traceback" not in output
        assert configured not in output and rotated not in output
        # the failed run stopped before the servers: same processes, still healthy, same environment file
        assert main_pids(platform) == pids
        assert all(healthy(platform, int(unit.split("@")[1].split(".")[0])) for unit in INSTANCES)
        after = platform.exec("tracking-node", "sha1sum", "/etc/englab-mlflow/mlflow.env").stdout
        assert after == env_before
    finally:
        set_db_password(platform, configured)
    # Meanwhile the API may or may not have answered: PostgreSQL keeps the sessions opened before the
    # password changed, so it depends on MLflow's connection pool (503 on one machine, 200 on the CI
    # run), not on this run, and is not asserted. What the run controls is asserted: left running,
    # the servers answer with the password back, without a restart.
    deadline = time.monotonic() + 30
    admin = platform.admin_password()
    while platform.api_status("admin", admin) != 200:
        assert time.monotonic() < deadline, (
            "the tracking API did not answer within 30 s of the password's return"
        )
        time.sleep(1)
    assert main_pids(platform) == pids
    green = platform.playbook(tracking_only(), "db-password-restored")
    assert recap(green)[platform.node("tracking-node")]["changed"] == 0
    assert main_pids(platform) == pids


def test_an_unreachable_database_gets_its_own_message(platform: Platform):
    """Stopped PostgreSQL: not the password, and the message says so."""
    listed = platform.exec(
        "englab-db", "systemctl", "list-units", "--no-legend", "--plain", "postgresql@*.service"
    )
    unit = listed.stdout.split()[0]
    platform.exec("englab-db", "systemctl", "stop", unit)
    try:
        failed = platform.playbook(tracking_only(), "db-unreachable", check=False)
    finally:
        platform.exec("englab-db", "systemctl", "start", unit)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "tracking_server: cannot connect to database 'mlflow_db'" in output
    assert "This is not the password" in output
    assert "Traceback" not in output
    assert (platform.secrets_dir / "db_password").read_text().strip() not in output
