"""Serving scale-out on gcp (issue #20): N serving nodes over the region's zones, their instance
groups, an internal load balancer with health checks by default, and the external HTTPS load
balancer only behind its opt-in and an allow-list. Read from real plans of the root."""

from __future__ import annotations

import json

import pytest
from conftest import PROJECT, Planned, Workdir, by_type

pytestmark = pytest.mark.terraform

GOOGLE_HEALTH_CHECK_RANGES = {"35.191.0.0/16", "130.211.0.0/22"}
ZONES = ["europe-west1-c", "europe-west1-d", "europe-west1-b"]


@pytest.fixture(scope="module")
def scaled(scratch: Workdir) -> dict:
    """Three serving nodes over three given zones, and the external load balancer opted in."""
    plan_file = scratch.path / "scaled.tfplan"
    scratch.run(
        "plan", "-no-color", "-input=false", "-lock=false", f"-out={plan_file}",
        f"-var=project_id={PROJECT}", "-var=prefix=ci-", "-var=serving_node_count=3",
        f"-var=serving_zones={json.dumps(ZONES)}", "-var=serving_port=9000",
        "-var=serving_external_enabled=true", "-var=serving_external_domain=models.example.com",
        '-var=serving_external_allowed_cidrs=["198.51.100.0/24","203.0.113.0/24"]',
    )  # fmt: skip
    return json.loads(scratch.run("show", "-json", str(plan_file)).stdout)


def named(plan: dict, kind: str) -> dict[str, dict]:
    return {r["values"]["name"]: r["values"] for r in by_type(plan, kind)}


def test_one_serving_node_and_the_internal_load_balancer_by_default(planned: Planned) -> None:
    nodes = named(planned.plan, "google_compute_instance")
    assert [n for n in nodes if n.startswith("serving")] == ["serving-node"]
    assert "englab-serving" in nodes["serving-node"]["tags"]
    groups = by_type(planned.plan, "google_compute_instance_group")
    assert [(g["values"]["zone"], g["values"]["named_port"]) for g in groups] == [
        ("europe-west1-b", [{"name": "http", "port": 8080}])
    ]
    backend = one_of(planned.plan, "google_compute_region_backend_service")
    assert (backend["load_balancing_scheme"], backend["protocol"]) == ("INTERNAL", "TCP")
    rule = one_of(planned.plan, "google_compute_forwarding_rule")
    assert (rule["load_balancing_scheme"], rule["ports"]) == ("INTERNAL", ["8080"])
    # Nothing external unless asked for.
    for kind in (
        "google_compute_global_forwarding_rule", "google_compute_backend_service",
        "google_compute_target_https_proxy", "google_compute_security_policy", "google_compute_global_address",
    ):  # fmt: skip
        external = [r for r in by_type(planned.plan, kind) if "serving" in r["values"]["name"]]
        assert external == [], kind
    outputs = planned.plan["planned_values"]["outputs"]
    assert outputs["serving_external_url"]["value"] is None


def one_of(plan: dict, kind: str) -> dict:
    found = by_type(plan, kind)
    assert len(found) == 1, [r["address"] for r in found]
    return found[0]["values"]


def test_serving_nodes_are_spread_over_the_zones_each_with_its_own_identity(scaled: dict) -> None:
    nodes = named(scaled, "google_compute_instance")
    serving = {name: node for name, node in nodes.items() if "serving" in name}
    assert {name: node["zone"] for name, node in serving.items()} == {
        "ci-serving-node": ZONES[0], "ci-serving-node-2": ZONES[1], "ci-serving-node-3": ZONES[2],
    }  # fmt: skip
    assert all("ci-englab-serving" in node["tags"] for node in serving.values())
    # The seed's nodes stay in the nodes' zone.
    assert nodes["ci-tracking-node"]["zone"] == nodes["ci-training-node"]["zone"] == "europe-west1-b"
    # One role, one identity: every serving node runs as serving-node's service account.
    accounts = {r["index"]: r["values"]["account_id"] for r in by_type(scaled, "google_service_account")}
    assert accounts == {
        "training-node": "ci-training-sa",
        "tracking-node": "ci-tracking-sa",
        "serving-node": "ci-serving-sa",
    }
    config = {r["address"]: r for r in scaled["configuration"]["root_module"]["resources"]}
    email = config["google_compute_instance.node"]["expressions"]["service_account"][0]["email"]["references"]
    assert "each.value.identity" in email
    writers = by_type(scaled, "google_artifact_registry_repository_iam_member")
    assert [r["values"]["role"] for r in writers] == ["roles/artifactregistry.writer"]


def test_instance_groups_hold_the_nodes_of_their_zone(scaled: dict) -> None:
    groups = {r["values"]["zone"]: r for r in by_type(scaled, "google_compute_instance_group")}
    assert set(groups) == set(ZONES)
    config = {r["address"]: r for r in scaled["configuration"]["root_module"]["resources"]}
    members = config["google_compute_instance_group.serving"]["expressions"]["instances"]["references"]
    assert "google_compute_instance.node" in members
    for group in groups.values():
        assert group["values"]["named_port"] == [{"name": "http", "port": 9000}]


def test_health_checks_probe_the_model_and_only_google_reaches_the_port(scaled: dict) -> None:
    check = one_of(scaled, "google_compute_health_check")
    assert check["http_health_check"][0]["request_path"] == "/englab/health"
    assert check["http_health_check"][0]["port"] == 9000
    rule = named(scaled, "google_compute_firewall")["ci-englab-allow-serving-health-checks"]
    assert set(rule["source_ranges"]) == GOOGLE_HEALTH_CHECK_RANGES
    assert rule["target_tags"] == ["ci-englab-serving"]
    assert [(a["protocol"], a["ports"]) for a in rule["allow"]] == [("tcp", ["9000"])]


def test_the_internal_load_balancer_spans_every_group(scaled: dict) -> None:
    backend = one_of(scaled, "google_compute_region_backend_service")
    assert backend["load_balancing_scheme"] == "INTERNAL"
    assert len(backend["backend"]) == 3
    assert backend["connection_draining_timeout_sec"] > 0
    rule = one_of(scaled, "google_compute_forwarding_rule")
    assert (rule["load_balancing_scheme"], rule["ip_protocol"], rule["ports"]) == (
        "INTERNAL",
        "TCP",
        ["9000"],
    )


def test_the_external_load_balancer_is_https_only_and_allow_listed(scaled: dict) -> None:
    policy = one_of(scaled, "google_compute_security_policy")
    rules = {r["priority"]: r for r in policy["rule"]}
    assert rules[1000]["action"] == "allow"
    assert set(rules[1000]["match"][0]["config"][0]["src_ip_ranges"]) == {"198.51.100.0/24", "203.0.113.0/24"}
    assert rules[2147483647]["action"] == "deny(403)"
    assert rules[2147483647]["match"][0]["config"][0]["src_ip_ranges"] == ["*"]
    backend = one_of(scaled, "google_compute_backend_service")
    assert (backend["load_balancing_scheme"], backend["protocol"], backend["port_name"]) == (
        "EXTERNAL_MANAGED", "HTTP", "http",
    )  # fmt: skip
    assert len(backend["backend"]) == 3
    config = {r["address"]: r for r in scaled["configuration"]["root_module"]["resources"]}
    refs = config["google_compute_backend_service.serving_external"]["expressions"]["security_policy"][
        "references"
    ]
    assert "google_compute_security_policy.serving_external" in refs
    cert = one_of(scaled, "google_compute_managed_ssl_certificate")
    assert cert["managed"][0]["domains"] == ["models.example.com"]
    ssl_policy = one_of(scaled, "google_compute_ssl_policy")
    assert (ssl_policy["min_tls_version"], ssl_policy["profile"]) == ("TLS_1_2", "MODERN")
    forwarding = by_type(scaled, "google_compute_global_forwarding_rule")
    assert [(r["values"]["port_range"], r["values"]["load_balancing_scheme"]) for r in forwarding] == [
        ("443", "EXTERNAL_MANAGED")
    ]
    outputs = scaled["planned_values"]["outputs"]
    assert outputs["serving_external_url"]["value"] == "https://models.example.com"


def test_two_nodes_without_zones_read_the_regions_zones(scratch: Workdir) -> None:
    """serving_zones empty: the second node goes to another zone of the region that is up (read from
    the Compute API after its propagation wait); the first stays in the nodes' zone."""
    plan_file = scratch.path / "two.tfplan"
    scratch.run(
        "plan", "-no-color", "-input=false", "-lock=false", f"-out={plan_file}",
        f"-var=project_id={PROJECT}", "-var=serving_node_count=2",
    )  # fmt: skip
    plan = json.loads(scratch.run("show", "-json", str(plan_file)).stdout)
    nodes = named(plan, "google_compute_instance")
    assert nodes["serving-node"]["zone"] == "europe-west1-b"
    # A new project's first plan: the zones are read once the Compute API answers, at apply.
    second = next(
        r
        for r in plan["resource_changes"]
        if r["address"] == 'google_compute_instance.node["serving-node-2"]'
    )
    assert second["change"]["after_unknown"]["zone"] is True
    reads = [r for r in plan["resource_changes"] if r["address"] == "data.google_compute_zones.serving[0]"]
    assert reads, "the region's zones are read"
    assert len(by_type(plan, "google_compute_instance_group")) == 2
