"""The database node as the tracking server uses it. PostgreSQL itself (scram, pg_hba,
the nightly dump) is the database scenario's (extensions/molecule/database)."""

from conftest import DB, docker_exec, secret

testinfra_hosts = [DB]


def test_other_nodes_are_refused():
    """The client node reaches port 5432 but pg_hba turns it away."""
    probe = (
        "import socket, struct; s = socket.create_connection(('molecule-tracking-db', 5432), 5);"
        "body = struct.pack('!I', 196608) + b'user\\0mlflow\\0database\\0mlflow_db\\0\\0';"
        "s.sendall(struct.pack('!I', len(body) + 4) + body); print(s.recv(4096))"
    )
    result = docker_exec("molecule-tracking-client", "python3", "-c", probe)
    assert b"no pg_hba.conf entry".decode() in result.stdout, result.stdout


def test_password_with_url_special_characters_works(host):
    """The seeded password holds @:/%#? and the server still reached PostgreSQL with it."""
    password = secret("db_password")
    assert all(char in password for char in "@:/%#?")
    # The tracking server logs in from its node with the URL it was given: its sessions show up.
    sessions = host.check_output(
        "runuser -u postgres -- psql -tAc \"SELECT count(*) FROM pg_stat_activity WHERE usename='mlflow'\""
    )
    assert int(sessions) >= 1
