"""The inventory contract (docs/inventory-contract.md), pinned."""

from __future__ import annotations

import copy
import shlex

import pytest
from ansible_collections.englab.mlops.plugins.module_utils import inventory_contract as ic

CONTRACT_FACTS = {
    "mlops_target",
    "mlops_name_prefix",
    "mlops_node_role",
    "mlops_internal_address",
    "mlops_tracking_host",
    "mlops_tracking_url",
    "mlops_db_host",
    "mlops_db_port",
    "mlops_db_name",
    "mlops_db_user",
    "mlops_db_password_secret",
    "mlops_db_sslmode",
    "mlops_artifact_destination",
    "mlops_repository_url",
    "mlops_repository_login",
    "mlops_secrets_dir",
}


def gcp_outputs(**overrides):
    outputs = {
        "nodes": {
            "training-node": {
                "group": "training",
                "internal_ip": "10.10.0.2",
                "zone": "europe-west1-b",
                "external_ip": None,
            },
            "tracking-node": {
                "group": "tracking",
                "internal_ip": "10.10.0.3",
                "zone": "europe-west1-c",
                "external_ip": None,
            },
            "serving-node": {
                "group": "serving",
                "internal_ip": "10.10.0.4",
                "zone": "europe-west1-b",
                "external_ip": "34.1.2.3",
            },
        },
        "tracking_url": "https://10.10.0.3",
        "db_host": "10.20.0.5",
        "db_port": 5432,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "englab-db-password",
        "db_sslmode": "require",
        "artifact_destination": "gs://proj-mlflow-artifacts",
        "repository_url": "europe-west1-docker.pkg.dev/proj/englab-repository",
        "repository_login": "gcp_token",
        "ssh_user": "sa_1234",
        "project_id": "proj",
        "region": "europe-west1",
        "deletion_protection": True,
    }
    outputs.update(overrides)
    return outputs


def local_outputs():
    nodes = {
        name: {"group": group, "internal_ip": name, "zone": "local", "external_ip": None}
        for name, group in [
            ("training-node", "training"),
            ("tracking-node", "tracking"),
            ("serving-node", "serving"),
            ("englab-db", "database"),
            ("englab-repository", "repository"),
        ]
    }
    return {
        "nodes": nodes,
        "tracking_url": "https://tracking-node",
        "db_host": "englab-db",
        "db_port": 5432,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "",
        "db_sslmode": "prefer",
        "artifact_destination": "/var/lib/mlflow/artifacts",
        "repository_url": "englab-repository:5000",
        "repository_login": "htpasswd",
    }


def by_name(hosts):
    return {host["name"]: host for host in hosts}


def test_gcp_hosts_groups_and_facts():
    hosts = by_name(
        ic.contract_hosts(gcp_outputs(), "gcp", secrets_dir="/home/u/.config/englab-mlops/englab")
    )
    assert set(hosts) == {"training-node", "tracking-node", "serving-node"}
    assert hosts["training-node"]["groups"] == ["mlops", "training"]
    for host in hosts.values():
        facts = {key: value for key, value in host["vars"].items() if key.startswith("mlops_")}
        assert set(facts) == CONTRACT_FACTS
        assert facts["mlops_target"] == "gcp"
        assert facts["mlops_tracking_host"] == "10.10.0.3"
        assert facts["mlops_db_port"] == 5432
        assert facts["mlops_secrets_dir"] == "/home/u/.config/englab-mlops/englab"
    assert hosts["serving-node"]["vars"]["mlops_internal_address"] == "10.10.0.4"
    assert hosts["serving-node"]["vars"]["mlops_node_role"] == "serving"


def test_terraform_output_json_shape_is_unwrapped():
    wrapped = {
        name: {"sensitive": False, "type": "x", "value": value} for name, value in gcp_outputs().items()
    }
    assert ic.contract_hosts(wrapped) == ic.contract_hosts(gcp_outputs())


def test_iap_is_the_default_on_gcp():
    host = by_name(ic.contract_hosts(gcp_outputs()))["tracking-node"]["vars"]
    assert host["ansible_connection"] == "ssh"
    assert host["ansible_user"] == "sa_1234"
    assert host["ansible_host"] == "10.10.0.3"
    args = shlex.split(host["ansible_ssh_common_args"])
    assert args[:2] == ["-o", "ProxyCommand=gcloud compute start-iap-tunnel tracking-node 22 --listen-on-stdin "
                        "--project=proj --zone=europe-west1-c --verbosity=warning"]  # fmt: skip
    assert args[2:] == ["-o", "HostKeyAlias=tracking-node"]


def test_iap_tunnel_uses_a_given_credentials_file():
    host = by_name(ic.contract_hosts(gcp_outputs(), gcloud_credentials_file="/runner/env/my key.json"))
    proxy = shlex.split(host["serving-node"]["vars"]["ansible_ssh_common_args"])[1].removeprefix(
        "ProxyCommand="
    )
    assert shlex.split(proxy)[:3] == [
        "env",
        "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=/runner/env/my key.json",
        "gcloud",
    ]


def test_external_connection_uses_the_external_ip():
    outputs = gcp_outputs()
    for node in outputs["nodes"].values():
        node["external_ip"] = node["external_ip"] or "34.9.9.9"
    host = by_name(ic.contract_hosts(outputs, connection="external"))["serving-node"]["vars"]
    assert (host["ansible_host"], host["ansible_user"]) == ("34.1.2.3", "sa_1234")
    assert "ansible_ssh_common_args" not in host


def test_external_connection_without_external_ip_names_the_node():
    with pytest.raises(ic.ContractError, match=r"node '(tracking|training)-node' has no external_ip"):
        ic.contract_hosts(gcp_outputs(), connection="external")


def test_docker_connection_targets_the_container_named_like_the_node():
    host = by_name(ic.contract_hosts(gcp_outputs(), connection="docker"))["training-node"]["vars"]
    assert host["ansible_connection"] == "community.docker.docker"
    assert host["ansible_host"] == "training-node"


def test_docker_connection_turns_on_pipelining():
    # community.docker.docker ignores [ssh_connection]; without this every task costs
    # four more `docker exec` calls and a no-op site run takes minutes instead of one.
    for host in ic.contract_hosts(gcp_outputs(), connection="docker"):
        assert host["vars"]["ansible_pipelining"] is True


def test_ssh_connections_leave_pipelining_to_ansible_cfg():
    for host in ic.contract_hosts(gcp_outputs()):
        assert "ansible_pipelining" not in host["vars"]


def test_local_contract():
    hosts = by_name(ic.contract_hosts(local_outputs(), "local", name_prefix="englab-itest-"))
    assert {name: host["groups"][1] for name, host in hosts.items()} == {
        "training-node": "training",
        "tracking-node": "tracking",
        "serving-node": "serving",
        "englab-db": "database",
        "englab-repository": "repository",
    }
    db = hosts["englab-db"]["vars"]
    assert db["ansible_connection"] == "community.docker.docker"
    assert db["mlops_internal_address"] == "englab-db"
    assert db["mlops_tracking_host"] == "tracking-node"
    assert db["mlops_name_prefix"] == "englab-itest-"
    assert db["mlops_db_password_secret"] == ""


def test_local_allows_only_the_docker_connection():
    with pytest.raises(ic.ContractError, match="connection 'iap' is not valid for target local"):
        ic.contract_hosts(local_outputs(), "local", connection="iap")


def _drop(outputs, name):
    del outputs[name]
    return outputs


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: _drop(o, "nodes"), "Terraform output 'nodes' is missing"),
        (lambda o: _drop(o, "tracking_url"), "Terraform output 'tracking_url' is missing"),
        (lambda o: _drop(o, "ssh_user"), "Terraform output 'ssh_user' is missing"),
        (lambda o: o.update(nodes={}), "'nodes' must be a non-empty map"),
        (lambda o: o.update(nodes=["training-node"]), "'nodes' must be a non-empty map"),
        (
            lambda o: o["nodes"]["training-node"].update(group="gpu"),
            "entry 'training-node': group must be one of",
        ),
        (
            lambda o: o["nodes"]["training-node"].update(internal_ip="training"),
            "internal_ip must be an IP address",
        ),
        (
            lambda o: o["nodes"]["training-node"].update(external_ip="nope"),
            "external_ip must be an IP address or null",
        ),
        (lambda o: o["nodes"]["training-node"].update(zone=""), "zone must be a non-empty string"),
        (lambda o: o["nodes"]["serving-node"].update(group="tracking"), "has 2 tracking nodes"),
        (lambda o: o["nodes"]["serving-node"].update(group="training"), "has no node in group 'serving'"),
        (lambda o: o.update(db_port="postgres"), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.update(db_port=70000), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.update(db_port=True), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.update(db_host=""), "Terraform output 'db_host' must be a non-empty string"),
        (lambda o: o.update(tracking_url="http://10.10.0.3"), "'tracking_url' must be an https:// URL"),
        (lambda o: o.update(db_sslmode="on"), "'db_sslmode' must be one of"),
        (lambda o: o.update(db_password_secret=None), "'db_password_secret' must be a string"),
    ],
)
def test_malformed_outputs_name_the_output(mutate, message):
    outputs = copy.deepcopy(gcp_outputs())
    mutate(outputs)
    with pytest.raises(ic.ContractError, match=message):
        ic.contract_hosts(outputs)


def test_outputs_must_be_a_mapping():
    with pytest.raises(ic.ContractError, match="must be a mapping"):
        ic.contract_hosts(["nodes"])


def test_unknown_target():
    with pytest.raises(ic.ContractError, match="mlops_target must be one of local, gcp, got 'aws'"):
        ic.contract_hosts(gcp_outputs(), "aws")


def test_string_port_is_accepted_as_a_number():
    hosts = ic.contract_hosts(gcp_outputs(db_port="5432"))
    assert {host["vars"]["mlops_db_port"] for host in hosts} == {5432}
