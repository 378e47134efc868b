"""Every node trusts the CA of the tracking server's own certificate, read from the tracking host's
inventory vars, whatever mlops_tracking_host holds: on gcp it is the tracking node's address, not
its inventory name (the contract's shape, as provision writes it), and on local the container's name.

The play runs englab.mlops.shared's trust_ca under --check on the controller (connection local):
it reports the paths it would install and writes nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES

PLAYBOOK = FIXTURES / "playbooks" / "trusted_cas.yml"
CA_DIR = "/usr/local/share/ca-certificates"


def inventory(tmp_path: Path, own_certificate: bool, tracking_host: str) -> Path:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    for name in ("platform-ca.crt", "corp-ca.crt", "server.crt"):
        (tmp_path / name).write_text(pem.replace("MIIB", f"MIIB{name}"))
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    tracking_vars = (
        {
            "tracking_server_tls_certificate": str(tmp_path / "server.crt"),
            "tracking_server_tls_private_key": str(tmp_path / "server.key"),
            "tracking_server_tls_ca_certificate": str(tmp_path / "corp-ca.crt"),
        }
        if own_certificate
        else {}
    )
    hosts = {
        "all": {
            "vars": {"platform_ca": str(tmp_path / "platform-ca.crt"), "mlops_tracking_host": tracking_host},
            "children": {
                "nodes": {"hosts": {"englab-training-node": local, "englab-serving-node": local}},
                # only the tracking group has the certificate's variables
                "tracking": {"hosts": {"englab-tracking-node": {**local, **tracking_vars}}},
            },
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def would_install(output: str) -> dict[str, set[str]]:
    return {
        host: {Path(p).name for p in paths.split(",") if p}
        for host, paths in re.findall(r"(englab-\w+-node) changed_paths=([^;]*);", output)
    }


@pytest.mark.parametrize("tracking_host", ["10.20.0.7", "englab-tracking-node"], ids=["gcp", "local"])
def test_every_node_trusts_the_tracking_servers_own_ca(playbook, tmp_path, tracking_host):
    run = playbook(PLAYBOOK, {}, "-i", str(inventory(tmp_path, True, tracking_host)), "--check")
    assert run.rc == 0, run.output
    for host in ("englab-training-node", "englab-serving-node"):
        assert "englab-tracking-ca.crt" in would_install(run.stdout)[host], run.stdout


def test_without_an_own_certificate_only_the_platform_ca_is_trusted(playbook, tmp_path):
    run = playbook(PLAYBOOK, {}, "-i", str(inventory(tmp_path, False, "10.20.0.7")), "--check")
    assert run.rc == 0, run.output
    for installed in would_install(run.stdout).values():
        assert "englab-tracking-ca.crt" not in installed, run.stdout
