"""Issue 14: the local platform is reached the way a Google Cloud VM is.

Every node is reached over SSH as the non-root login user provision created (the OS Login
twin), with become, through `docker exec -i NODE socat - TCP:127.0.0.1:22` (the twin of IAP's
--listen-on-stdin): never as root over the Docker connection, never on a bridge address.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
from conftest import LOGS, ROOT, SERVING_NODE_NAMES, Platform

NODES = ("training-node", "tracking-node", *SERVING_NODE_NAMES, "englab-db", "englab-repository")
LOGIN_USER = "englab-admin"
REPORT = ROOT / "tests" / "fixtures" / "playbooks" / "contract_report.yml"
# What provision itself runs in a node through the Docker API (the cloud's side: boot wait and
# the OS Login twin), and the ProxyCommand. Anything else means a task used the Docker connection.
PROVISION_EXECS = ("systemctl is-system-running --wait", "/bin/sh -c set -eu")
PROXY = "socat - TCP:127.0.0.1:22"


@pytest.fixture(scope="module")
def report(platform: Platform) -> dict[str, dict]:
    out = LOGS / "connection-report"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    platform.playbook(str(REPORT), "connection-report", contract_report_dir=str(out))
    return {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}


def test_every_node_is_reached_over_ssh_as_the_login_user_with_become(platform: Platform, report):
    assert set(report) == {platform.node(n) for n in NODES}
    for name, host in report.items():
        assert host["connection"] == "ssh", name
        assert host["user"] == LOGIN_USER, name
        assert host["become"] is True, name
        # Without become the task runs as the login user, in an SSH session that came in on the
        # node's loopback (the socat end of the tunnel), not from a bridge address.
        assert host["login"] == LOGIN_USER, name
        client, _unused, server, port = host["ssh_connection"].split()
        assert (client, server, port) == ("127.0.0.1", "127.0.0.1", "22"), name
        # With the contract's become the same connection is root.
        assert host["effective"] == "root", name


def test_the_proxy_command_is_a_docker_exec_into_the_nodes_loopback(platform: Platform, report):
    for name, host in report.items():
        args = shlex.split(host["ssh_common_args"])
        options = dict(args[i + 1].split("=", 1) for i in range(0, len(args), 2) if args[i] == "-o")
        assert shlex.split(options["ProxyCommand"]) == ["docker", "exec", "-i", name, *PROXY.split()]
        inspect = subprocess.run(
            ["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True, check=True
        )
        assert options["HostKeyAlias"] == f"{name}-{inspect.stdout.strip()[:12]}"
        assert options["StrictHostKeyChecking"] == "accept-new"
        assert options["UserKnownHostsFile"] == str(platform.secrets_dir / "known_hosts")


def test_known_hosts_holds_each_nodes_own_host_key(platform: Platform, report):
    known = platform.secrets_dir / "known_hosts"
    keys = set()
    for name, host in report.items():
        args = shlex.split(host["ssh_common_args"])
        alias = next(a.split("=", 1)[1] for a in args if a.startswith("HostKeyAlias="))
        # ssh-keygen -F finds the alias whether or not ssh hashed it (Debian's HashKnownHosts yes).
        found = subprocess.run(
            ["ssh-keygen", "-F", alias, "-f", str(known)], capture_output=True, text=True, check=False
        )
        pinned = {line.split()[2] for line in found.stdout.splitlines() if line and not line.startswith("#")}
        node_key = platform.exec(
            name.removeprefix(platform.prefix), "cat", "/etc/ssh/ssh_host_ed25519_key.pub"
        )
        key = node_key.stdout.split()[1]
        assert key in pinned, f"{alias} is not pinned to the node's own ed25519 host key"
        keys.add(key)
    assert len(keys) == len(NODES), "nodes share a host key (baked into the image?)"


def test_sshd_listens_on_loopback_only_and_refuses_root_and_passwords(platform: Platform):
    for node in NODES:
        listening = platform.exec(node, "ss", "-Hltn", "sport", "=", ":22").stdout.split("\n")
        addresses = {line.split()[3] for line in listening if line.strip()}
        assert addresses == {"127.0.0.1:22"}, (node, addresses)
        config = platform.exec(node, "sshd", "-T").stdout
        assert "permitrootlogin no" in config
        assert "passwordauthentication no" in config


def test_login_user_is_not_root_and_has_passwordless_sudo_only(platform: Platform):
    for node in NODES:
        uid = platform.exec(node, "id", "-u", LOGIN_USER).stdout.strip()
        assert uid not in ("", "0"), node
        sudo = platform.exec(node, "sudo", "-l", "-U", LOGIN_USER).stdout
        assert "(ALL : ALL) NOPASSWD: ALL" in sudo, node
        # The account has no password a login could use.
        shadow = platform.exec(node, "getent", "shadow", LOGIN_USER).stdout.split(":")[1]
        assert shadow in ("!", "*", "!*"), node


def test_a_converged_site_run_reaches_nodes_only_over_ssh(
    platform: Platform, converged_site_run: tuple[subprocess.CompletedProcess, list[dict]]
):
    """Every `docker exec` during a whole site run is the SSH ProxyCommand or provision's own
    boot/login-user work; a task over the Docker connection would show as another exec."""
    names = {platform.node(n) for n in NODES}
    run, seen = converged_site_run
    assert run.returncode == 0
    execs = [
        (e["Actor"]["Attributes"]["name"], e["Action"].removeprefix("exec_start: "))
        for e in seen
        if e["Actor"]["Attributes"].get("name") in names
    ]
    proxied = {name for name, command in execs if command == PROXY}
    assert proxied == names, "every node is reached through the ProxyCommand"
    other = [(n, c) for n, c in execs if c != PROXY and not c.startswith(PROVISION_EXECS)]
    assert other == [], f"commands ran over the Docker connection: {other[:5]}"
