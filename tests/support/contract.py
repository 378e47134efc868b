"""The inventory contract of a local platform, as provision would hand it to the roles.

Tests that apply a role without provisioning need the contract facts. Rather than copy
them by hand, this renders the provision role's own description of a local platform
(``__provision_local_outputs`` in roles/provision/vars/main.yml, the shape of the
Terraform root's outputs) and maps it with the same ``contract_hosts`` the role uses.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO = Path(__file__).resolve().parents[2]


def import_checkout_as_collection() -> None:
    """Make this checkout importable as ansible_collections.englab.mlops (once per process)."""
    if "ansible_collections.englab.mlops" in sys.modules:
        return
    root = Path(tempfile.mkdtemp(prefix="englab-checkout-"))
    (root / "ansible_collections" / "englab").mkdir(parents=True)
    (root / "ansible_collections" / "englab" / "mlops").symlink_to(REPO)
    _AnsibleCollectionFinder(paths=[str(root)])._install()


def _contract_hosts():
    """The collection's contract_hosts, imported from this checkout."""
    import_checkout_as_collection()
    # Importable only once the finder above is installed.
    from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import (  # noqa: PLC0415
        contract_hosts,
    )

    return contract_hosts


def local_outputs(prefix: str, tracking_port: int = 8443, serving_port: int = 8080) -> dict[str, Any]:
    """The provision role's local-platform outputs, rendered for `prefix`."""

    def trusted(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {key: trusted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [trusted(item) for item in value]
        return value

    variables = trusted(yaml.safe_load((REPO / "roles" / "provision" / "vars" / "main.yml").read_text()))
    variables.update(
        mlops_name_prefix=prefix,
        mlops_local_tracking_port=tracking_port,
        mlops_local_serving_port=serving_port,
        __provision_serving_node_count=1,
    )
    templar = Templar(variables=variables)
    return templar.template(trust_as_template("{{ __provision_local_outputs }}"))


def local_contract(prefix: str, role: str = "tracking", secrets_dir: str = "") -> dict[str, Any]:
    """The contract facts (mlops_*) of the `role` node of a local platform named with `prefix`."""
    # The connection variables are dropped below: the docker connection needs no login to be set up.
    hosts = _contract_hosts()(
        local_outputs(prefix), "local", name_prefix=prefix, secrets_dir=secrets_dir, connection="docker"
    )
    host = next(h for h in hosts if h["vars"]["mlops_node_role"] == role)
    return {name: value for name, value in host["vars"].items() if name.startswith("mlops_")}
