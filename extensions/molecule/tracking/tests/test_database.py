"""The database node: PostgreSQL 15 with scram-sha-256, reachable from the tracking node only."""

import subprocess

from conftest import DB, TRACKING, docker_exec, secret

testinfra_hosts = [DB]


def test_postgresql_running_and_enabled(host):
    service = host.service("postgresql@15-main")
    assert service.is_running
    assert service.is_enabled


def test_listens_on_node_address(host):
    address = host.check_output("hostname -I").split()[0]
    assert host.socket(f"tcp://{address}:5432").is_listening
    assert host.socket("tcp://127.0.0.1:5432").is_listening


def test_scram_and_pg_hba_allows_only_the_tracking_node(host):
    assert host.check_output("runuser -u postgres -- psql -tAc 'SHOW password_encryption'") == "scram-sha-256"
    tracking_ip = host.check_output(f"getent ahostsv4 {TRACKING}").split()[0]
    rules = [
        line.split()
        for line in host.file("/etc/postgresql/15/main/pg_hba.conf").content_string.splitlines()
        if line.startswith("host")
    ]
    remote = [rule for rule in rules if rule[3] not in ("127.0.0.1/32", "::1/128")]
    assert remote == [["host", "mlflow_db", "mlflow", f"{tracking_ip}/32", "scram-sha-256"]]
    assert host.file("/etc/postgresql/15/main/pg_hba.conf").mode == 0o640


def test_database_owned_by_mlflow(host):
    owner = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname='mlflow_db'\""
    )
    assert owner == "mlflow"
    # The stored verifier is SCRAM, never md5 or plain text.
    verifier = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT rolpassword FROM pg_authid WHERE rolname='mlflow'\""
    )
    assert verifier.startswith("SCRAM-SHA-256$")


def test_other_nodes_are_refused():
    """The client node reaches port 5432 but pg_hba turns it away."""
    probe = (
        "import socket, struct; s = socket.create_connection(('molecule-tracking-db', 5432), 5);"
        "body = struct.pack('!I', 196608) + b'user\\0mlflow\\0database\\0mlflow_db\\0\\0';"
        "s.sendall(struct.pack('!I', len(body) + 4) + body); print(s.recv(4096))"
    )
    result = docker_exec("molecule-tracking-client", "python3", "-c", probe)
    assert b"no pg_hba.conf entry".decode() in result.stdout, result.stdout


def test_nightly_dump_timer_and_a_real_dump(host):
    timer = host.service("englab-pg-backup.timer")
    assert timer.is_enabled
    assert timer.is_running
    assert (
        "OnCalendar=*-*-* 02:30:00" in host.file("/etc/systemd/system/englab-pg-backup.timer").content_string
    )
    subprocess.run(
        ["docker", "exec", DB, "systemctl", "start", "englab-pg-backup.service"], check=True, timeout=120
    )
    backups = host.file("/var/lib/postgresql/backups")
    assert backups.user == "postgres"
    assert backups.mode == 0o700
    dumps = host.check_output("ls /var/lib/postgresql/backups").split()
    assert any(name.startswith("mlflow_db-") and name.endswith(".dump") for name in dumps)
    latest = sorted(dumps)[-1]
    listing = host.check_output(
        f"runuser -u postgres -- pg_restore --list /var/lib/postgresql/backups/{latest}"
    )
    assert "TABLE public experiments" in listing


def test_password_with_url_special_characters_works(host):
    """The seeded password holds @:/%#? and the server still reached PostgreSQL with it."""
    password = secret("db_password")
    assert all(char in password for char in "@:/%#?")
    # The tracking server logs in from its node with the URL it was given: its sessions show up.
    sessions = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT count(*) FROM pg_stat_activity WHERE usename='mlflow'\""
    )
    assert int(sessions) >= 1
