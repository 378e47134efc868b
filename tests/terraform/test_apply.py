"""Apply the saved default plan against the stand-in: outputs fill the contract, and the
password reached Cloud SQL and Secret Manager but not the state or the outputs.

The stand-in replaces values only Google would know (IPs, ids) with deterministic fakes; what is
asserted here is Terraform's handling of those values, not Google's behaviour.
"""

from __future__ import annotations

import ipaddress
import json

import pytest
from conftest import DB_PASSWORD, Planned

pytestmark = pytest.mark.terraform


def test_outputs_after_apply(applied: dict) -> None:
    nodes = applied["nodes"]["value"]
    assert {name: node["group"] for name, node in nodes.items()} == {
        "training-node": "training",
        "tracking-node": "tracking",
        "serving-node": "serving",
    }
    for node in nodes.values():
        assert ipaddress.ip_address(node["internal_ip"]).is_private
        assert node["external_ip"] is None
        assert node["zone"] == "europe-west1-b"
        # The contract's SSH HostKeyAlias is <name>-<instance_id>: a non-empty digit string.
        assert isinstance(node["instance_id"], str)
        assert node["instance_id"].isdigit(), node["instance_id"]
    assert len({node["instance_id"] for node in nodes.values()}) == 3
    assert applied["tracking_url"]["value"] == f"https://{nodes['tracking-node']['internal_ip']}"
    assert ipaddress.ip_address(applied["db_host"]["value"]).is_private


def test_password_written_once_to_both_places_and_never_stored(planned: Planned, applied: dict) -> None:
    written = {entry["type"]: entry["value"] for entry in planned.work.records("write_only")}
    assert set(written) == {"google_sql_user", "google_secret_manager_secret_version"}
    # The database and the secret got the same password: the ephemeral db_password given.
    assert written["google_sql_user"] == written["google_secret_manager_secret_version"] == DB_PASSWORD
    state = (planned.work.path / "terraform.tfstate").read_text()
    assert json.loads(state)["resources"], "empty state proves nothing"
    assert DB_PASSWORD not in state
    assert DB_PASSWORD not in json.dumps(applied)


def test_each_instance_runs_as_its_own_service_account(planned: Planned, applied: dict) -> None:
    state = json.loads((planned.work.path / "terraform.tfstate").read_text())
    by_address = {
        (r["type"], inst.get("index_key")): inst["attributes"]
        for r in state["resources"]
        if r["mode"] == "managed"
        for inst in r["instances"]
    }
    emails = {}
    for node in ("training-node", "tracking-node", "serving-node"):
        account = by_address[("google_service_account", node)]["email"]
        instance = by_address[("google_compute_instance", node)]
        assert instance["service_account"][0]["email"] == account, node
        emails[instance["name"]] = account
    assert len(set(emails.values())) == 3, emails
    assert applied["service_accounts"]["value"] == emails
