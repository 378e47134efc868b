"""The real root's outputs, after apply against the stand-in, through the inventory contract the
provision role uses (plugins/module_utils/inventory_contract.py), then through Ansible's own
YAML inventory parser (ansible-inventory), on both gcp SSH paths: iap and external."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import (
    ContractError,
    contract_hosts,
)
from conftest import PROJECT, Workdir, make_workdir

pytestmark = pytest.mark.terraform

SECRETS = "/home/operator/.config/englab-mlops/englab"
KEY = "/home/operator/.ssh/google_compute_engine"
# What the provision stage derives from a service-account key: sa_ + the key's client_id.
USER = "sa_123456789012345678901"
NODES = {"training-node": "training", "tracking-node": "tracking", "serving-node": "serving"}


def hosts_for(outputs: dict, connection: str, ssh_user: str = USER) -> list[dict]:
    return contract_hosts(
        outputs,
        "gcp",
        name_prefix="",
        secrets_dir=SECRETS,
        connection=connection,
        gcloud_credentials_file="",
        ssh_user=ssh_user,
        ssh_private_key_file=KEY,
        known_hosts_file="",
    )


def ssh_options(host_vars: dict) -> dict[str, str]:
    """`-o Key=value` pairs of ansible_ssh_common_args, split as ssh's shell would."""
    words = shlex.split(host_vars["ansible_ssh_common_args"])
    assert words[::2] == ["-o"] * (len(words) // 2), words
    return dict(option.split("=", 1) for option in words[1::2])


@pytest.fixture(scope="module")
def external_applied(tmp_path_factory: pytest.TempPathFactory, mirror: Path, initialized: Workdir) -> dict:
    """The root applied with every node given an external IP (external_ip_nodes), in a work dir of
    its own (the session's scratch copy is planned elsewhere and must stay stateless)."""
    work = make_workdir(tmp_path_factory.mktemp("external") / "terraform", mirror)
    shutil.copytree(initialized.path / ".terraform", work.path / ".terraform")
    shutil.copy(initialized.path / ".terraform.lock.hcl", work.path / ".terraform.lock.hcl")
    work.run(
        "apply",
        "-no-color",
        "-input=false",
        "-auto-approve",
        f"-var=project_id={PROJECT}",
        f"-var=external_ip_nodes={json.dumps(list(NODES))}",
        f"-var=os_login_user={USER}",
    )
    return json.loads(work.run("output", "-json").stdout)


@pytest.fixture(params=["iap", "external"])
def connection_outputs(request: pytest.FixtureRequest) -> tuple[str, dict]:
    """(connection, outputs): iap on the default apply, external on the external-IP apply."""
    name = "applied" if request.param == "iap" else "external_applied"
    return request.param, request.getfixturevalue(name)


def test_default_root_leaves_the_login_user_to_the_controller(applied: dict) -> None:
    assert applied["ssh_user"]["value"] == ""
    with pytest.raises(ContractError, match="mlops_ssh_user"):
        hosts_for(applied, "iap", ssh_user="")


def test_default_root_has_no_external_path(applied: dict) -> None:
    with pytest.raises(ContractError, match="mlops_gcp_connection: iap"):
        hosts_for(applied, "external")


def test_os_login_user_flows_to_ansible_user(external_applied: dict) -> None:
    """os_login_user (what the provision role passes) comes back as output ssh_user and is used
    when the role passes no user of its own."""
    assert external_applied["ssh_user"]["value"] == USER
    assert {host["vars"]["ansible_user"] for host in hosts_for(external_applied, "external", "")} == {USER}


def test_contract_hosts_from_the_real_outputs(connection_outputs: tuple[str, dict]) -> None:
    connection, outputs = connection_outputs
    value = {name: output["value"] for name, output in outputs.items()}
    nodes = value["nodes"]
    hosts = hosts_for(outputs, connection)
    assert [host["name"] for host in hosts] == sorted(NODES)
    tracking_ip = nodes["tracking-node"]["internal_ip"]
    for host in hosts:
        name, host_vars, node = host["name"], host["vars"], nodes[host["name"]]
        assert host["groups"] == ["mlops", NODES[name]]
        assert host_vars["ansible_connection"] == "ssh"
        assert host_vars["ansible_user"] == USER
        assert host_vars["ansible_become"] is True
        assert host_vars["ansible_ssh_private_key_file"] == KEY
        options = ssh_options(host_vars)
        assert node["instance_id"].isdigit()
        assert options["HostKeyAlias"] == f"{name}-{node['instance_id']}"
        assert options["StrictHostKeyChecking"] == "accept-new"
        assert options["UserKnownHostsFile"] == f"{SECRETS}/known_hosts"
        if connection == "iap":
            assert host_vars["ansible_host"] == node["internal_ip"]
            assert options["ProxyCommand"] == (
                f"gcloud compute start-iap-tunnel {name} 22 --listen-on-stdin "
                f"--project={PROJECT} --zone={node['zone']} --verbosity=warning"
            )
        else:
            assert node["external_ip"]
            assert host_vars["ansible_host"] == node["external_ip"]
            assert "ProxyCommand" not in options
        # The contract facts, from the outputs of the same apply.
        assert host_vars["mlops_target"] == "gcp"
        assert host_vars["mlops_node_role"] == NODES[name]
        assert host_vars["mlops_internal_address"] == node["internal_ip"]
        assert host_vars["mlops_tracking_host"] == tracking_ip
        assert host_vars["mlops_tracking_url"] == value["tracking_url"] == f"https://{tracking_ip}"
        assert host_vars["mlops_db_host"] == value["db_host"]
        assert host_vars["mlops_db_port"] == value["db_port"] == 5432
        assert host_vars["mlops_db_name"] == value["db_name"] == "mlflow_db"
        assert host_vars["mlops_db_user"] == value["db_user"]
        assert host_vars["mlops_db_password_secret"] == value["db_password_secret"]
        assert host_vars["mlops_db_sslmode"] == value["db_sslmode"] == "require"
        assert host_vars["mlops_artifact_destination"] == value["artifact_destination"]
        assert host_vars["mlops_repository_url"] == value["repository_url"]
        assert host_vars["mlops_repository_login"] == value["repository_login"] == "gcp_token"
        assert host_vars["mlops_secrets_dir"] == SECRETS


def ansible_inventory() -> str:
    beside = Path(sys.executable).with_name("ansible-inventory")
    return str(beside) if beside.exists() else (shutil.which("ansible-inventory") or "ansible-inventory")


def test_ansible_reads_the_hosts_as_an_inventory(
    connection_outputs: tuple[str, dict], tmp_path: Path
) -> None:
    """The hosts written as a YAML inventory (mlops with the role groups as children) parse with
    Ansible's own parser and keep their types (become stays a boolean)."""
    connection, outputs = connection_outputs
    hosts = hosts_for(outputs, connection)
    children = {
        group: {"hosts": {h["name"]: h["vars"] for h in hosts if h["groups"][1] == group}}
        for group in ("training", "tracking", "serving")
    }
    source = tmp_path / "platform.yml"
    source.write_text(yaml.safe_dump({"all": {"children": {"mlops": {"children": children}}}}))
    env = {key: value for key, value in os.environ.items() if key != "ANSIBLE_CONFIG"}
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    listed = subprocess.run(
        [ansible_inventory(), "-i", str(source), "--list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    inventory = json.loads(listed.stdout)
    assert set(inventory["mlops"]["children"]) == {"training", "tracking", "serving"}
    for name, group in NODES.items():
        assert inventory[group]["hosts"] == [name]
        host_vars = inventory["_meta"]["hostvars"][name]
        assert host_vars["ansible_become"] is True
        assert host_vars["ansible_user"] == USER
        expected = next(h["vars"] for h in hosts if h["name"] == name)
        assert host_vars["ansible_ssh_common_args"] == expected["ansible_ssh_common_args"]
        proxy = ssh_options(host_vars).get("ProxyCommand", "")
        if connection == "iap":
            assert proxy.startswith(f"gcloud compute start-iap-tunnel {name} 22 --listen-on-stdin ")
        else:
            assert proxy == ""
