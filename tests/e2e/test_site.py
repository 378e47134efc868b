"""Issue 8/9: site.yml converges, and what it leaves is safe by default."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from conftest import LOGS, SERVING_NODE_NAMES, Platform, recap


def secrets(platform: Platform) -> dict[str, str]:
    """Every generated secret, by file name, as the platform stores them (0600 files)."""
    found = {}
    for path in platform.secrets_dir.iterdir():
        # Certificates, the login user's public key and the host keys are public by design.
        if path.is_file() and not path.name.endswith((".crt", ".csr", ".pub", "known_hosts")):
            value = path.read_text().strip()
            if len(value) >= 12 and "BEGIN" not in value:
                found[path.name] = value.split()[0]
    return found


def test_secret_files_are_private(platform: Platform):
    assert platform.secrets_dir.stat().st_mode & 0o077 == 0
    private = [
        p
        for p in platform.secrets_dir.iterdir()
        if p.is_file() and p.suffix not in (".crt", ".csr", ".pub") and p.name != "known_hosts"
    ]
    assert any(p.suffix == ".key" for p in private)  # the CA and server keys are among them
    assert (platform.secrets_dir / "ssh_login_ed25519").stat().st_mode & 0o777 == 0o600
    for path in private:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"


def test_no_secret_in_site_output_or_logs(platform: Platform):
    known = secrets(platform)
    # the platform generated its database, admin, node and Flask secrets
    assert {"db_password", "tracking_admin", "tracking_user_training"} <= set(known)
    logs = {p.name: p.read_text() for p in LOGS.glob("*.log")}
    assert "site-1.log" in logs
    for name, secret in known.items():
        for form in sorted({secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}):
            for log, text in logs.items():
                assert form not in text, f"secret {name} appears in {log}"


def test_second_site_run_is_converged(
    platform: Platform, converged_site_run: tuple[subprocess.CompletedProcess, list[dict]]
):
    second, _unused = converged_site_run
    counters = recap(second)
    nodes = ("training-node", "tracking-node", "serving-node", "englab-db", "englab-repository")
    assert set(counters) >= {platform.node(n) for n in nodes}
    changed = {host: c["changed"] for host, c in counters.items() if c["changed"]}
    assert changed == {}, f"a converged platform reported changes: {changed}"


def tracking(platform: Platform, path: str, auth: tuple[str, str] | None = None) -> int:
    context = ssl.create_default_context(cafile=str(platform.secrets_dir / "tracking_ca.crt"))
    request = urllib.request.Request(platform.tracking_url + path)  # noqa: S310 https only
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_tracking_refuses_anonymous_and_validates_against_the_ca(platform: Platform):
    path = "/api/2.0/mlflow/experiments/search?max_results=1"
    assert tracking(platform, path) == 401
    admin = platform.admin_password()
    assert tracking(platform, path, ("admin", admin)) == 200
    assert tracking(platform, path, ("admin", admin + "x")) == 401


def test_only_tls_is_served(platform: Platform):
    port = int(platform.tracking_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    # nginx refuses plain HTTP on its TLS port: 400 "The plain HTTP request was sent to HTTPS port"
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"plain HTTP request was sent to HTTPS port" in answer


def test_nothing_is_published_beyond_loopback(platform: Platform):
    names = subprocess.run(
        ["docker", "ps", "--filter", f"name=^{platform.prefix}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # the nodes, every serving node and the serving load balancer (issue 20)
    expected = (
        "training-node",
        "tracking-node",
        *SERVING_NODE_NAMES,
        "serving-lb",
        "englab-db",
        "englab-repository",
    )
    assert sorted(names) == sorted(platform.node(n) for n in expected)
    for name in names:
        ports = json.loads(
            subprocess.run(
                ["docker", "inspect", "--format", "{{json .NetworkSettings.Ports}}", name],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for bindings in (ports or {}).values():
            for binding in bindings or []:
                assert binding["HostIp"] == "127.0.0.1", f"{name} publishes {binding}"


STARTUP = r"""
import socket, struct, sys
body = struct.pack("!I", 196608) + b"user\0mlflow\0database\0mlflow_db\0\0"
s = socket.create_connection((sys.argv[1], 5432), timeout=10)
s.sendall(struct.pack("!I", len(body) + 4) + body)
print(s.recv(1).decode())
"""


def postgres_answer(platform: Platform, node: str) -> str:
    """First byte of PostgreSQL's answer to a startup packet: R (go on, authenticate) or E (refused)."""
    out = platform.exec(node, "python3", "-c", STARTUP, platform.node("englab-db"))
    return out.stdout.strip()


def test_database_accepts_only_the_tracking_node(platform: Platform):
    assert postgres_answer(platform, "tracking-node") == "R"
    assert postgres_answer(platform, "training-node") == "E"
    assert postgres_answer(platform, "serving-node") == "E"
