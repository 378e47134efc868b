"""playbooks/inventory/gcp.gcp_compute.yml through the real google.cloud.gcp_compute plugin
(ansible-inventory, GcpSession, google-auth with a generated service-account key), the Compute
API answered offline with an ``instances aggregatedList`` built from the applied root's state:
the VMs' names, ids, zone, internal IPs and labels are the ones Terraform gave them. The result
must be the inventory contract's iap hosts: same groups, same connection variables."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import contract_hosts
from conftest import PROJECT, REPO, Planned
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.terraform

SOURCE = REPO / "playbooks" / "inventory" / "gcp.gcp_compute.yml"
CLIENT_ID = "123456789012345678901"
KEY = "/home/operator/.ssh/google_compute_engine"
COMPUTE = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}"
CONNECTION_VARS = (
    "ansible_connection",
    "ansible_host",
    "ansible_user",
    "ansible_become",
    "ansible_python_interpreter",
    "ansible_pipelining",
    "ansible_host_key_checking",
    "ansible_ssh_private_key_file",
    "mlops_node_role",
    "mlops_internal_address",
    "mlops_node_instance_id",
)


def plain(value: object) -> object:
    """ansible-inventory marks values from the API as never to be templated: unwrap the marker."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return value


def aggregated_list(state: dict) -> dict:
    """The Compute API's answer for the VMs in the state, in its own JSON shape."""
    zones: dict[str, dict] = {}
    for resource in state["values"]["root_module"]["resources"]:
        if resource["type"] != "google_compute_instance":
            continue
        vm = resource["values"]
        zone = f"{COMPUTE}/zones/{vm['zone']}"
        zones.setdefault(f"zones/{vm['zone']}", {"instances": []})["instances"].append(
            {
                "kind": "compute#instance",
                "id": vm["instance_id"],
                "name": vm["name"],
                "zone": zone,
                "selfLink": f"{zone}/instances/{vm['name']}",
                "machineType": f"{zone}/machineTypes/{vm['machine_type']}",
                "status": "RUNNING",
                "labels": vm["labels"],
                "tags": {"items": vm["tags"]},
                "metadata": {"items": [{"key": k, "value": v} for k, v in vm["metadata"].items()]},
                "networkInterfaces": [
                    {
                        "name": "nic0",
                        "network": f"{COMPUTE}/global/networks/englab-vpc",
                        "subnetwork": f"{COMPUTE}/regions/europe-west1/subnetworks/englab-subnet",
                        "networkIP": vm["network_interface"][0]["network_ip"],
                    }
                ],
            }
        )
    zones["zones/us-central1-a"] = {"warning": {"code": "NO_RESULTS_ON_PAGE"}}
    return {
        "kind": "compute#instanceAggregatedList",
        "id": f"projects/{PROJECT}/aggregated/instances",
        "items": zones,
    }


def service_account_key(path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": f"englab-deployer@{PROJECT}.iam.gserviceaccount.com",
        "client_id": CLIENT_ID,
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(key))
    path.chmod(0o600)


@pytest.fixture(scope="module")
def listed(planned: Planned, applied: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`ansible-inventory --list` of the repository's source, with the project appended as the
    file's header says (AWX's gce source adds it the same way)."""
    work = tmp_path_factory.mktemp("gcp_inventory")
    state = json.loads(planned.work.run("show", "-json").stdout)
    (work / "answer.json").write_text(json.dumps(aggregated_list(state)))
    service_account_key(work / "key.json")
    source = work / "englab.gcp_compute.yml"
    source.write_text(SOURCE.read_text() + f"projects: [{PROJECT}]\n")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_CONFIG", "GCP_", "GCE_", "MLOPS_"))
    }
    env.update(
        HOME=str(work),
        GCP_SERVICE_ACCOUNT_FILE=str(work / "key.json"),
        MLOPS_SSH_PRIVATE_KEY_FILE=KEY,
        ANSIBLE_INVENTORY_ENABLED="google.cloud.gcp_compute",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ENGLAB_COMPUTE_ANSWER=str(work / "answer.json"),
        ENGLAB_COMPUTE_RECORD=str(work / "requests.jsonl"),
        PYTHONPATH=str(Path(__file__).parent),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "standin.compute_api", "-i", str(source), "--list"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requests = [json.loads(line) for line in (work / "requests.jsonl").read_text().splitlines()]
    return {"inventory": json.loads(proc.stdout), "requests": requests, "home": str(work), "outputs": applied}


def test_source_asks_google_for_the_platforms_running_vms(listed: dict) -> None:
    token, instances = listed["requests"]
    assert token["method"] == "POST" and token["url"] == "https://oauth2.googleapis.com/token"
    assert instances["url"] == f"{COMPUTE}/aggregated/instances"
    assert instances["authorization"] == "Bearer standin-access-token"
    # The label filter matches the labels the root puts on its VMs (compute.tf, locals.tf).
    assert instances["query"]["filter"] == ["(status = RUNNING) (labels.platform = englab-mlops)"]
    config = yaml.safe_load(SOURCE.read_text())
    assert "projects" not in config  # AWX's gce source adds projects only when there are none


def test_source_gives_the_contracts_hosts_and_connection(listed: dict) -> None:
    inventory = listed["inventory"]
    expected = contract_hosts(
        listed["outputs"],
        "gcp",
        secrets_dir=f"{listed['home']}/.config/englab-mlops/gcp/{PROJECT}/englab",
        connection="iap",
        ssh_user=f"sa_{CLIENT_ID}",  # what the provision role derives from the same key
        ssh_private_key_file=KEY,
    )
    hostvars = inventory["_meta"]["hostvars"]
    assert set(hostvars) == {host["name"] for host in expected}
    for host in expected:
        name = host["name"]
        groups = {group for group, body in inventory.items() if name in body.get("hosts", [])}
        assert groups == set(host["groups"]), name
        got = {key: plain(value) for key, value in hostvars[name].items()}
        for key in CONNECTION_VARS:
            assert got[key] == host["vars"][key], (name, key)
        assert shlex.split(got["ansible_ssh_common_args"]) == shlex.split(
            host["vars"]["ansible_ssh_common_args"]
        )
        alias = f"HostKeyAlias={name}-{listed['outputs']['nodes']['value'][name]['instance_id']}"
        assert alias in shlex.split(got["ansible_ssh_common_args"])
