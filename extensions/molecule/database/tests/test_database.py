"""The database role on its own: PostgreSQL 15 with scram-sha-256, reachable by its one
allowed client with the platform's password, refused to everyone else, dumped nightly,
and converged again without a package install or a file write."""

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import warm_converge

DB = "molecule-database-db"
CLIENT = "molecule-database-client"
testinfra_hosts = [DB]


def secret(name: str) -> str:
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / name).read_text().strip()


def psql_from_client(sql: str, password: str) -> subprocess.CompletedProcess:
    """psql on the client node over TCP; the password travels in the environment only."""
    return subprocess.run(
        [
            "docker",
            "exec",
            "-e",
            "PGPASSWORD",
            CLIENT,
            "psql",
            "--no-psqlrc",
            "-tA",
            f"host={DB} port=5432 dbname=mlflow_db user=mlflow sslmode=prefer",
            "-c",
            sql,
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_postgresql_running_and_enabled(host):
    service = host.service("postgresql@15-main")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_node_address(host):
    address = host.check_output("hostname -I").split()[0]
    assert host.socket(f"tcp://{address}:5432").is_listening
    assert host.socket("tcp://127.0.0.1:5432").is_listening


def test_the_allowed_client_logs_in_with_scram_and_owns_the_database():
    done = psql_from_client(
        "CREATE TABLE IF NOT EXISTS englab_probe (n int); INSERT INTO englab_probe VALUES (1);"
        " SELECT current_user, count(*) FROM englab_probe;",
        secret("db_password"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("mlflow|")


def test_a_wrong_password_is_refused():
    done = psql_from_client("SELECT 1", "not-the-password")
    assert done.returncode != 0
    assert "password authentication failed" in done.stderr


def test_scram_only_and_pg_hba_allows_only_the_client(host):
    assert host.check_output("runuser -u postgres -- psql -tAc 'SHOW password_encryption'") == "scram-sha-256"
    verifier = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT rolpassword FROM pg_authid WHERE rolname='mlflow'\""
    )
    assert verifier.startswith("SCRAM-SHA-256$")
    client_ip = host.check_output(f"getent ahostsv4 {CLIENT}").split()[0]
    hba = host.file("/etc/postgresql/15/main/pg_hba.conf")
    rules = [line.split() for line in hba.content_string.splitlines() if line.startswith("host")]
    remote = [rule for rule in rules if rule[3] not in ("127.0.0.1/32", "::1/128")]
    assert remote == [["host", "mlflow_db", "mlflow", f"{client_ip}/32", "scram-sha-256"]]
    assert hba.mode == 0o640


def test_any_other_machine_is_turned_away(host):
    """The machine running the tests reaches port 5432, and pg_hba.conf refuses it."""
    address = host.check_output("hostname -I").split()[0]
    with socket.create_connection((address, 5432), 5) as sock:
        body = struct.pack("!I", 196608) + b"user\0mlflow\0database\0mlflow_db\0\0"
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        answer = sock.recv(4096)
    assert b"no pg_hba.conf entry" in answer, answer


def test_nightly_dump_timer_and_a_real_dump(host):
    timer = host.service("englab-pg-backup.timer")
    assert timer.is_enabled and timer.is_running
    assert (
        "OnCalendar=*-*-* 02:30:00" in host.file("/etc/systemd/system/englab-pg-backup.timer").content_string
    )
    subprocess.run(
        ["docker", "exec", DB, "runuser", "-u", "postgres", "--", "psql", "-d", "mlflow_db", "-c",
         "CREATE TABLE IF NOT EXISTS englab_dump_probe (n int)"],
        check=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        ["docker", "exec", DB, "systemctl", "start", "englab-pg-backup.service"], check=True, timeout=120
    )
    backups = host.file("/var/lib/postgresql/backups")
    assert backups.user == "postgres" and backups.mode == 0o700
    dumps = sorted(
        name for name in host.check_output("ls /var/lib/postgresql/backups").split() if name.endswith(".dump")
    )
    assert dumps and dumps[-1].startswith("mlflow_db-")
    listing = host.check_output(
        f"runuser -u postgres -- pg_restore --list /var/lib/postgresql/backups/{dumps[-1]}"
    )
    assert "TABLE public englab_dump_probe" in listing


def test_warm_converge_installs_and_writes_nothing():
    """Molecule's idempotence run, judged from each module's result (extensions/molecule/warm_converge.py)."""
    results = warm_converge.idempotence_results()
    assert warm_converge.problems(results) == []
    assert warm_converge.fast_path_taken(results, DB) == []
