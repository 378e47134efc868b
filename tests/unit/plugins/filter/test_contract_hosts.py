"""The contract_hosts filter: the module_utils mapping with Ansible's error type."""

from __future__ import annotations

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


def test_passes_its_arguments_through():
    outputs = {
        "nodes": NODES,
        "tracking_url": "https://10.0.0.3",
        "db_host": "10.0.0.9",
        "db_port": 5432,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "s",
        "db_sslmode": "require",
        "artifact_destination": "gs://b",
        "repository_url": "r",
        "repository_login": "gcp_token",
        "ssh_user": "u",
        "project_id": "p",
    }
    hosts = contract_hosts(outputs, target="gcp", name_prefix="x-", secrets_dir="/s", connection="docker")
    assert [host["name"] for host in hosts] == ["k", "s", "t"]
    assert {host["vars"]["mlops_name_prefix"] for host in hosts} == {"x-"}
    assert {host["vars"]["ansible_connection"] for host in hosts} == {"community.docker.docker"}
