"""The APIs and the deployer's roles the root needs, derived from the resource types it plans.

Each table below maps a resource type (by prefix) to the Google API it calls and the role that
creates it; a type the tables do not know fails the test, so a new resource cannot slip in
without its API and its role.
"""

from __future__ import annotations

import re

import pytest
from conftest import REPO, Planned, resources

pytestmark = pytest.mark.terraform

RUNBOOK = REPO / "docs" / "gcp-runbook.md"
WAIT = "time_sleep.apis"

# Resource type prefix -> (API it calls, role that lets the deployer create it). Longest prefix wins.
BY_PREFIX: dict[str, tuple[str | None, frozenset[str]]] = {
    "google_artifact_registry_": (
        "artifactregistry.googleapis.com",
        frozenset({"roles/artifactregistry.admin"}),
    ),
    "google_compute_": ("compute.googleapis.com", frozenset({"roles/compute.admin"})),
    # Attaching a service account to a VM is iam.serviceAccounts.actAs.
    "google_compute_instance": (
        "compute.googleapis.com",
        frozenset({"roles/compute.admin", "roles/iam.serviceAccountUser"}),
    ),
    "google_project_iam_": (
        "cloudresourcemanager.googleapis.com",
        frozenset({"roles/resourcemanager.projectIamAdmin"}),
    ),
    "google_project_service": (
        "serviceusage.googleapis.com",
        frozenset({"roles/serviceusage.serviceUsageAdmin"}),
    ),
    "google_secret_manager_": ("secretmanager.googleapis.com", frozenset({"roles/secretmanager.admin"})),
    "google_service_account": ("iam.googleapis.com", frozenset({"roles/iam.serviceAccountAdmin"})),
    "google_service_networking_": (
        "servicenetworking.googleapis.com",
        frozenset({"roles/servicenetworking.networksAdmin"}),
    ),
    "google_sql_": ("sqladmin.googleapis.com", frozenset({"roles/cloudsql.admin"})),
    "google_storage_": ("storage.googleapis.com", frozenset({"roles/storage.admin"})),
    "random_": (None, frozenset()),
    "time_": (None, frozenset()),
}
# Not called by a resource, but by what the platform does with it: SSH and the tracking UI through
# IAP TCP forwarding, and OS Login (enable-oslogin on every node).
RUNTIME_APIS = {"iap.googleapis.com", "oslogin.googleapis.com"}


def _entry(kind: str) -> tuple[str | None, frozenset[str]]:
    matches = [prefix for prefix in BY_PREFIX if kind.startswith(prefix)]
    assert matches, f"{kind}: not in this test's tables; add its API and the role that creates it"
    return BY_PREFIX[max(matches, key=len)]


def _enabled(planned: Planned) -> set[str]:
    return {r["values"]["service"] for r in resources(planned.plan) if r["type"] == "google_project_service"}


def test_every_api_the_resources_call_is_enabled(planned: Planned) -> None:
    implied = {_entry(r["type"])[0] for r in resources(planned.plan)} - {None}
    enabled = _enabled(planned)
    assert implied | RUNTIME_APIS <= enabled, f"not enabled: {sorted(implied | RUNTIME_APIS - enabled)}"
    assert all(r["values"]["disable_on_destroy"] is False
               for r in resources(planned.plan) if r["type"] == "google_project_service")  # fmt: skip


def _references(node: object) -> set[str]:
    """Every ``type.name`` a configuration expression tree refers to (locals stay opaque)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "references":
                found |= {".".join(ref.split(".")[:2]) for ref in value if not ref.startswith(
                    ("var.", "local.", "each.", "count.", "path.", "terraform.", "self."))}  # fmt: skip
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _dependencies(planned: Planned) -> dict[str, set[str]]:
    """address -> every resource it depends on, transitively, from the plan's configuration."""
    direct = {
        r["address"]: _references(r.get("expressions", {})) | _references(r.get("count_expression", {}))
        | _references(r.get("for_each_expression", {})) | set(r.get("depends_on", []))
        for r in planned.plan["configuration"]["root_module"]["resources"]
    }  # fmt: skip
    closure: dict[str, set[str]] = {}

    def walk(address: str, seen: set[str]) -> set[str]:
        if address in closure:
            return closure[address]
        out: set[str] = set()
        for dep in direct.get(address, set()) - seen:
            out |= {dep} | walk(dep, seen | {address})
        closure[address] = out
        return out

    for address in direct:
        walk(address, set())
    return closure


def test_everything_that_calls_an_api_waits_for_its_propagation(planned: Planned) -> None:
    deps = _dependencies(planned)
    assert WAIT in deps, "no API propagation wait in the root"
    assert "google_project_service.apis" in deps[WAIT]
    callers = {
        r["address"]
        for r in planned.plan["configuration"]["root_module"]["resources"]
        if r["mode"] == "managed" and r["type"] != "google_project_service" and _entry(r["type"])[0]
    }
    assert callers, "no resource calls an API: nothing was checked"
    missing = sorted(address for address in callers if WAIT not in deps[address])
    assert not missing, f"created before the APIs have propagated: {missing}"


def _runbook_list(name: str) -> set[str]:
    """A shell variable of the runbook holding one item per line, e.g. TERRAFORM_ROLES="..."."""
    match = re.search(rf'^{name}="([^"]*)"', RUNBOOK.read_text(), re.MULTILINE)
    assert match, f'docs/gcp-runbook.md has no {name}="..." list'
    return set(match.group(1).split())


def test_runbook_deployer_roles_are_exactly_what_the_plan_needs(planned: Planned) -> None:
    needed = set().union(*(_entry(r["type"])[1] for r in resources(planned.plan)))
    assert "roles/serviceusage.serviceUsageAdmin" in needed  # enable_apis is on by default
    assert _runbook_list("TERRAFORM_ROLES") == needed


def test_runbook_api_list_is_the_roots(planned: Planned) -> None:
    assert _runbook_list("APIS") == _enabled(planned)
