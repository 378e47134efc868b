"""The contract_hosts filter: the module_utils mapping with Ansible's error type."""

from __future__ import annotations

import shlex

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.englab.mlops.plugins.filter.contract_hosts import FilterModule

contract_hosts = FilterModule().filters()["contract_hosts"]


NODES = {
    "t": {"group": "training", "internal_ip": "10.0.0.2", "zone": "z", "external_ip": None},
    "k": {"group": "tracking", "internal_ip": "10.0.0.3", "zone": "z", "external_ip": None},
    "s": {"group": "serving", "internal_ip": "10.0.0.4", "zone": "z", "external_ip": None},
}


def test_malformed_outputs_raise_ansible_filter_error_naming_the_output():
    with pytest.raises(
        AnsibleFilterError, match=r"englab\.mlops\.contract_hosts: Terraform output 'tracking_url' is missing"
    ):
        contract_hosts({"nodes": NODES})


def gcp_outputs(ssh_user="u"):
    return {
        "nodes": NODES,
        "tracking_url": "https://10.0.0.3",
        "db_host": "10.0.0.9",
        "db_port": 5432,
        "tracking_port": 443,
        "serving_port": 8080,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "s",
        "db_sslmode": "require",
        "artifact_destination": "gs://b",
        "repository_url": "r",
        "repository_login": "gcp_token",
        "serving_lb_url": "http://10.0.0.50:8080",
        "ssh_user": ssh_user,
        "project_id": "p",
    }


def test_passes_its_arguments_through():
    hosts = contract_hosts(
        gcp_outputs(), target="gcp", name_prefix="x-", secrets_dir="/s", connection="docker"
    )
    assert [host["name"] for host in hosts] == ["k", "s", "t"]
    assert {host["vars"]["mlops_name_prefix"] for host in hosts} == {"x-"}
    assert {host["vars"]["ansible_connection"] for host in hosts} == {"community.docker.docker"}
    assert {host["vars"]["ansible_become"] for host in hosts} == {True}


def test_passes_the_ssh_options_through():
    hosts = contract_hosts(
        gcp_outputs(ssh_user=""),
        target="gcp",
        secrets_dir="/s",
        gcloud_credentials_file="/c.json",
        ssh_user="sa_42",
        ssh_private_key_file="/k/id",
        known_hosts_file="/kh",
    )
    host = {host["name"]: host for host in hosts}["k"]["vars"]
    assert (host["ansible_connection"], host["ansible_user"], host["ansible_become"]) == (
        "ssh",
        "sa_42",
        True,
    )
    assert host["ansible_ssh_private_key_file"] == "/k/id"
    args = shlex.split(host["ansible_ssh_common_args"])
    assert shlex.split(args[1].removeprefix("ProxyCommand=")) == [
        "env", "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=/c.json",
        "gcloud", "compute", "start-iap-tunnel", "k", "22", "--listen-on-stdin",
        "--project=p", "--zone=z", "--verbosity=warning",
    ]  # fmt: skip
    assert args[2:] == [
        "-o", "HostKeyAlias=k",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "UserKnownHostsFile=/kh",
        "-o", "IdentitiesOnly=yes",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ssh_private_key_file": "/k/id"}, "the SSH login user is empty: set mlops_ssh_user"),
        ({"ssh_user": "sa_42"}, "mlops_ssh_private_key_file is empty"),
        (
            {"ssh_user": "sa_42", "ssh_private_key_file": "/k/id", "secrets_dir": ""},
            r"needs a known_hosts file \(mlops_ssh_known_hosts_file\)",
        ),
    ],
)
def test_missing_ssh_settings_raise_ansible_filter_error_naming_the_variable(options, message):
    options = {"secrets_dir": "/s", **options}
    with pytest.raises(AnsibleFilterError, match=r"^englab\.mlops\.contract_hosts: .*" + message):
        contract_hosts(gcp_outputs(ssh_user=""), target="gcp", **options)
