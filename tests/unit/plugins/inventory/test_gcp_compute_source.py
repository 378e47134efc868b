"""playbooks/inventory/gcp.gcp_compute.yml: options the plugin documents, and its groups and
compose expressions evaluated by Ansible's Constructable over instances shaped like the
plugin's host variables (no Google API call; google-auth is not needed)."""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import ansible_collections.google.cloud as google_cloud
import pytest
import yaml
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.doc_fragments.constructed import ModuleDocFragment as ConstructedFragment
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.template import Templar, trust_as_template

REPO = Path(__file__).resolve().parents[4]
SOURCE = REPO / "playbooks" / "inventory" / "gcp.gcp_compute.yml"
PLUGIN = Path(google_cloud.__path__[0]) / "plugins" / "inventory" / "gcp_compute.py"


def documented_options() -> dict:
    """The plugin's own options plus those of the `constructed` fragment it extends."""
    tree = ast.parse(PLUGIN.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            doc = yaml.safe_load(node.value.value)
            assert "constructed" in doc["extends_documentation_fragment"]
            return {**yaml.safe_load(ConstructedFragment.DOCUMENTATION)["options"], **doc["options"]}
    raise AssertionError("gcp_compute has no DOCUMENTATION")


class Probe(BaseInventoryPlugin, Constructable):
    NAME = "probe"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(SOURCE.read_text())


def instance(name: str, role: str | None, ip: str) -> dict:
    labels = {"role": role} if role else {}
    return {
        "name": name,
        "zone": "europe-west1-b",
        "project": "proj",
        "labels": labels,
        "networkInterfaces": [{"networkIP": ip}],
        "status": "RUNNING",
    }


@pytest.fixture(scope="module")
def inventory(config) -> InventoryData:
    # Inventory plugins trust the expressions of their own config file; so does this probe.
    compose = {key: trust_as_template(value) for key, value in config["compose"].items()}
    groups = {key: trust_as_template(value) for key, value in config["groups"].items()}
    probe = Probe()
    probe.inventory = InventoryData()
    probe.templar = Templar(loader=DataLoader())
    for host in [
        instance("training-node", "training", "10.10.0.2"),
        instance("tracking-node", "tracking", "10.10.0.3"),
        instance("serving-node", "serving", "10.10.0.4"),
        instance("bastion", None, "10.10.0.9"),
    ]:
        probe.inventory.add_host(host["name"])
        probe._set_composite_vars(compose, host, host["name"], strict=True)
        probe._add_host_to_composed_groups(groups, host, host["name"], strict=True)
    return probe.inventory


def test_only_documented_options(config):
    options = documented_options()
    assert config["plugin"] == "google.cloud.gcp_compute"
    assert set(config) - {"plugin"} <= set(options)
    assert config["auth_kind"] in options["auth_kind"]["choices"]


def test_groups_by_role_label(inventory):
    members = {
        name: sorted(h.name for h in inventory.groups[name].get_hosts())
        for name in ("training", "tracking", "serving")
    }
    assert members == {
        "training": ["training-node"],
        "tracking": ["tracking-node"],
        "serving": ["serving-node"],
    }
    assert sorted(h.name for h in inventory.groups["mlops"].get_hosts()) == [
        "serving-node",
        "tracking-node",
        "training-node",
    ]


def test_compose_reaches_nodes_through_iap(inventory):
    host = inventory.get_host("tracking-node").vars
    assert host["ansible_host"] == "10.10.0.3"
    assert host["mlops_internal_address"] == "10.10.0.3"
    assert host["mlops_node_role"] == "tracking"
    assert shlex.split(host["ansible_ssh_common_args"]) == [
        "-o",
        "ProxyCommand=gcloud compute start-iap-tunnel tracking-node 22 --listen-on-stdin --project=proj "
        "--zone=europe-west1-b --verbosity=warning",
        "-o",
        "HostKeyAlias=tracking-node",
    ]
