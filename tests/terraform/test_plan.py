"""Security properties read from ``terraform show -json`` of the default plan (one plan per session)."""

from __future__ import annotations

import json

import pytest
from conftest import DB_PASSWORD, PROJECT, Planned, Workdir, by_type, plan_file_text, resources

pytestmark = pytest.mark.terraform

IAP_RANGE = "35.235.240.0/20"
SUBNET = "10.10.0.0/24"
ALLOWED_PROJECT_ROLES = {"roles/logging.logWriter", "roles/monitoring.metricWriter"}


def one(planned: Planned, kind: str) -> dict:
    found = by_type(planned.plan, kind)
    assert len(found) == 1, [r["address"] for r in found]
    return found[0]["values"]


def firewall(planned: Planned, suffix: str) -> dict:
    return next(r["values"] for r in by_type(planned.plan, "google_compute_firewall") if r["name"] == suffix)


def test_nothing_is_open_to_the_internet(planned: Planned) -> None:
    for rule in by_type(planned.plan, "google_compute_firewall"):
        assert "0.0.0.0/0" not in (rule["values"]["source_ranges"] or []), rule["address"]
        assert rule["values"]["direction"] == "INGRESS"
    assert "0.0.0.0/0" not in json.dumps(planned.plan["planned_values"])


def test_ssh_only_from_iap(planned: Planned) -> None:
    rule = firewall(planned, "ssh")
    assert rule["source_ranges"] == [IAP_RANGE]
    assert [a["ports"] for a in rule["allow"]] == [["22"]]


def test_tracking_https_only_from_the_nodes(planned: Planned) -> None:
    rule = firewall(planned, "tracking_https")
    assert rule["source_ranges"] == [SUBNET]
    assert rule["target_tags"] == ["tracking-node"]
    assert [a["ports"] for a in rule["allow"]] == [["443"]]


def test_tracking_ui_through_iap_reaches_the_tracking_node_only(planned: Planned) -> None:
    """`gcloud compute start-iap-tunnel tracking-node 443` (docs) needs IAP's range on 443."""
    rule = firewall(planned, "tracking_https_iap")
    assert rule["name"] == "englab-allow-tracking-https-iap"
    assert rule["direction"] == "INGRESS"
    assert rule["source_ranges"] == [IAP_RANGE]
    assert rule["target_tags"] == ["tracking-node"]
    assert [(a["protocol"], a["ports"]) for a in rule["allow"]] == [("tcp", ["443"])]
    assert rule["log_config"] == [{"metadata": "INCLUDE_ALL_METADATA"}]
    # IAP reaches 443 nowhere else: no other rule opens 443 (or all TCP) to the IAP range.
    for other in by_type(planned.plan, "google_compute_firewall"):
        values = other["values"]
        if other["name"] == "tracking_https_iap" or IAP_RANGE not in values["source_ranges"]:
            continue
        assert all(a["ports"] and "443" not in a["ports"] for a in values["allow"]), other["address"]


def test_internal_traffic_stays_in_the_subnet(planned: Planned) -> None:
    assert firewall(planned, "internal")["source_ranges"] == [SUBNET]


def test_no_serving_rule_by_default(planned: Planned) -> None:
    assert not [r for r in by_type(planned.plan, "google_compute_firewall") if r["name"] == "serving"]


def test_network_private_google_access_and_nat(planned: Planned) -> None:
    assert one(planned, "google_compute_network")["name"] == "englab-vpc"
    assert one(planned, "google_compute_network")["auto_create_subnetworks"] is False
    subnet = one(planned, "google_compute_subnetwork")
    assert subnet["private_ip_google_access"] is True
    assert subnet["ip_cidr_range"] == SUBNET
    nat = one(planned, "google_compute_router_nat")
    assert nat["source_subnetwork_ip_ranges_to_nat"] == "LIST_OF_SUBNETWORKS"


def test_sql_private_ip_tls_backups(planned: Planned) -> None:
    db = one(planned, "google_sql_database_instance")
    settings = db["settings"][0]
    ip = settings["ip_configuration"][0]
    assert ip["ipv4_enabled"] is False
    assert ip["authorized_networks"] == []
    assert ip["ssl_mode"] in {"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"}
    backup = settings["backup_configuration"][0]
    assert backup["enabled"] is True
    assert backup["point_in_time_recovery_enabled"] is True
    assert db["deletion_protection"] is True
    assert settings["deletion_protection_enabled"] is True
    assert db["database_version"].startswith("POSTGRES_")
    # private_network is only known after apply (the VPC id): it must be planned, not null.
    after_unknown = next(
        c["change"]["after_unknown"]
        for c in planned.plan["resource_changes"]
        if c["type"] == "google_sql_database_instance"
    )
    assert after_unknown["settings"][0]["ip_configuration"][0]["private_network"] is True
    assert one(planned, "google_sql_database")["name"] == "mlflow_db"
    # as the local target's database role: MLflow's pools outgrow Cloud SQL's default of 100
    flags = {flag["name"]: flag["value"] for flag in settings["database_flags"]}
    assert flags["max_connections"] == "400"


def test_backups_pin_what_a_restore_needs(planned: Planned) -> None:
    """docs/backup.md restores Cloud SQL from its daily backups or to a point in time within the
    transaction-log window, and artifacts from noncurrent object versions: each must be planned."""
    backup = one(planned, "google_sql_database_instance")["settings"][0]["backup_configuration"][0]
    assert backup["enabled"] is True
    assert backup["point_in_time_recovery_enabled"] is True
    assert backup["transaction_log_retention_days"] == 7
    assert backup["start_time"] == "02:00"
    retention = backup["backup_retention_settings"][0]
    assert retention == {"retained_backups": 14, "retention_unit": "COUNT"}
    bucket = one(planned, "google_storage_bucket")
    assert bucket["versioning"] == [{"enabled": True}]
    rule = bucket["lifecycle_rule"][0]
    # only noncurrent (ARCHIVED) versions expire; the live objects never do
    assert rule["condition"][0]["with_state"] == "ARCHIVED"
    assert rule["condition"][0]["days_since_noncurrent_time"] == 30
    assert rule["action"][0]["type"] == "Delete"


def test_sql_instance_name_keeps_seed_pattern(planned: Planned) -> None:
    change = next(c for c in planned.plan["resource_changes"] if c["type"] == "google_sql_database_instance")
    assert change["change"]["after_unknown"]["name"] is True  # englab-<random suffix>
    config = planned.plan["configuration"]["root_module"]["resources"]
    db = next(r for r in config if r["type"] == "google_sql_database_instance")
    assert "random_id.db_suffix.hex" in db["expressions"]["name"]["references"]


def test_bucket_is_private_and_versioned(planned: Planned) -> None:
    bucket = one(planned, "google_storage_bucket")
    assert bucket["name"] == f"{PROJECT}-englab-mlflow"
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["versioning"][0]["enabled"] is True
    assert bucket["lifecycle_rule"][0]["condition"][0]["days_since_noncurrent_time"] == 30
    assert bucket["force_destroy"] is False


def test_no_public_iam_members(planned: Planned) -> None:
    text = json.dumps(planned.plan["planned_values"])
    assert "allUsers" not in text
    assert "allAuthenticatedUsers" not in text


def _grants(plan: dict) -> dict[str, set[tuple[str, str]]]:
    """Every IAM grant of the plan, by member: {member: {(role, resource)}}.

    Members and resources are only known after apply (service-account e-mails, ids), so they are
    read from the configuration's references; planned values give the roles.
    """
    config = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    grants: dict[str, set[tuple[str, str]]] = {}
    for change in plan["resource_changes"]:
        if not change["type"].endswith("_iam_member"):
            continue
        after = change["change"]["after"]
        base = change["address"].split("[")[0]
        refs = config[base]["expressions"]
        if change["type"] == "google_project_iam_member":
            resource = f"project:{after['project']}"
            node = after_member_node(change)
        else:
            field = {
                "google_storage_bucket_iam_member": "bucket",
                "google_secret_manager_secret_iam_member": "secret_id",
                "google_artifact_registry_repository_iam_member": "repository",
            }[change["type"]]
            resource = next(r for r in refs[field]["references"] if r.count(".") == 1)
            member_refs = refs["member"]["references"]
            node = next(r.split('"')[1] for r in member_refs if r.startswith("local.node_member["))
        grants.setdefault(node, set()).add((after["role"], resource))
    return grants


def after_member_node(change: dict) -> str:
    """The node of a for_each project grant, from its key ("<node>/<role>")."""
    return change["index"].split("/")[0]


def test_one_service_account_per_node(planned: Planned) -> None:
    accounts = {
        r["index"]: r["values"]["account_id"] for r in by_type(planned.plan, "google_service_account")
    }
    assert accounts == {
        "training-node": "training-sa",
        "tracking-node": "tracking-sa",
        "serving-node": "serving-sa",
    }
    config = {r["address"]: r for r in planned.plan["configuration"]["root_module"]["resources"]}
    email = config["google_compute_instance.node"]["expressions"]["service_account"][0]["email"]
    # Each instance (for_each over local.nodes) uses the account of its identity: its own for the seed's
    # nodes, serving-node's for serving-node-2 ... (tests/terraform/test_serving_lb.py).
    assert email["references"] == ["google_service_account.node", "each.value.identity", "each.value"]
    assert config["google_service_account.node"]["for_each_expression"]["references"] == ["local.seed_nodes"]
    assert config["google_compute_instance.node"]["for_each_expression"]["references"] == ["local.nodes"]


def test_least_privilege_grants(planned: Planned) -> None:
    agents = {
        ("roles/logging.logWriter", f"project:{PROJECT}"),
        ("roles/monitoring.metricWriter", f"project:{PROJECT}"),
    }
    assert _grants(planned.plan) == {
        "tracking-node": agents
        | {
            ("roles/secretmanager.secretAccessor", "google_secret_manager_secret.db_password"),
            ("roles/storage.objectAdmin", "google_storage_bucket.artifacts"),
        },
        "serving-node": agents
        | {("roles/artifactregistry.writer", "google_artifact_registry_repository.docker")},
        "training-node": agents,
    }
    project_roles = {r["values"]["role"] for r in by_type(planned.plan, "google_project_iam_member")}
    assert project_roles == ALLOWED_PROJECT_ROLES
    assert all(r["values"]["condition"] == [] for r in by_type(planned.plan, "google_project_iam_member"))
    assert "cloudsql.client" not in json.dumps(planned.plan)
    assert not by_type(planned.plan, "google_project_iam_binding")
    assert not by_type(planned.plan, "google_project_iam_policy")


def test_nodes_are_hardened(planned: Planned) -> None:
    nodes = {r["values"]["name"]: r["values"] for r in by_type(planned.plan, "google_compute_instance")}
    assert set(nodes) == {"training-node", "tracking-node", "serving-node"}
    for name, node in nodes.items():
        nic = node["network_interface"][0]
        assert nic["access_config"] == [], f"{name} has an external IP"
        shielded = node["shielded_instance_config"][0]
        assert shielded == {
            "enable_secure_boot": True,
            "enable_vtpm": True,
            "enable_integrity_monitoring": True,
        }
        assert node["metadata"]["enable-oslogin"] == "TRUE"
        assert node["metadata"]["block-project-ssh-keys"] == "TRUE"
        assert node["boot_disk"][0]["initialize_params"][0]["image"] == "debian-cloud/debian-12"
        assert node["labels"]["role"] == name.removesuffix("-node")
        assert node["guest_accelerator"] == []
        assert node["scheduling"][0]["on_host_maintenance"] == "MIGRATE"
        assert node["can_ip_forward"] is False
    assert nodes["training-node"]["machine_type"] == "c2-standard-8"


def test_no_password_in_plan(planned: Planned) -> None:
    user = one(planned, "google_sql_user")
    assert user["password_wo"] is None
    assert user["password"] is None
    assert user["password_wo_version"] == 1
    version = one(planned, "google_secret_manager_secret_version")
    assert version["secret_data_wo"] is None
    assert version["secret_data"] is None
    # The password is the ephemeral input variable: neither its value nor the variable is saved.
    plan_json = json.dumps(planned.plan)
    saved = plan_file_text(planned.plan_file)
    assert DB_PASSWORD not in plan_json
    assert DB_PASSWORD not in saved
    assert "db_password" not in planned.plan["variables"]


def test_outputs_are_the_inventory_contract(planned: Planned) -> None:
    outputs = planned.plan["planned_values"]["outputs"]
    expected = {
        "artifact_destination", "db_host", "db_name", "db_password_secret", "db_port", "db_sslmode",
        "db_user", "deletion_protection", "name_prefix", "nodes", "project_id", "region",
        "repository_login", "repository_url", "service_accounts", "ssh_user", "tracking_url",
        "tracking_port", "serving_port", "serving_lb_url", "serving_external_url", "serving_external_ip",
    }  # fmt: skip
    assert set(outputs) == expected
    assert not any(o.get("sensitive") for o in outputs.values())
    assert outputs["db_sslmode"]["value"] == "require"
    assert outputs["db_port"]["value"] == 5432
    assert outputs["tracking_port"]["value"] == 443
    assert outputs["serving_port"]["value"] == 8080
    assert outputs["db_name"]["value"] == "mlflow_db"
    assert outputs["repository_login"]["value"] == "gcp_token"
    assert outputs["artifact_destination"]["value"] == f"gs://{PROJECT}-englab-mlflow"
    assert outputs["repository_url"]["value"] == f"europe-west1-docker.pkg.dev/{PROJECT}/englab-repository"
    assert outputs["db_password_secret"]["value"] == f"projects/{PROJECT}/secrets/englab-db-password"


def test_every_labelled_resource_carries_the_platform_labels(planned: Planned) -> None:
    labelled = [
        r for r in resources(planned.plan) if "labels" in r["values"] or "user_labels" in str(r["values"])
    ]
    assert len(labelled) >= 7
    for r in labelled:
        labels = r["values"].get("labels") or r["values"]["settings"][0]["user_labels"]
        assert labels["managed-by"] == "terraform", r["address"]


@pytest.fixture(scope="module")
def custom_plan(scratch: Workdir) -> dict:
    """A second plan with every opt-in used: GPU, an external IP, serving and admin networks."""
    plan_file = scratch.path / "custom.tfplan"
    scratch.run(
        "plan",
        "-no-color",
        "-input=false",
        "-lock=false",
        f"-out={plan_file}",
        f"-var=project_id={PROJECT}",
        "-var=prefix=ci-",
        "-var=gpu_count=1",
        "-var=training_machine_type=n1-standard-8",
        '-var=external_ip_nodes=["serving-node"]',
        '-var=serving_allowed_cidrs=["198.51.100.0/24"]',
        '-var=admin_cidrs=["203.0.113.0/24"]',
        '-var=labels={"team" = "mlops"}',
        "-var=tracking_port=8443",
        "-var=serving_port=9000",
    )
    return json.loads(scratch.run("show", "-json", str(plan_file)).stdout)


def test_the_ports_flow_from_one_variable_to_the_firewall_and_the_contract(custom_plan: dict) -> None:
    """tracking_port and serving_port open the firewall and are the outputs provision maps to
    mlops_tracking_port and mlops_serving_port, which the roles' nginx listens on."""
    rules = {r["values"]["name"]: r["values"] for r in by_type(custom_plan, "google_compute_firewall")}
    for name in ("ci-englab-allow-tracking-https", "ci-englab-allow-tracking-https-iap"):
        assert [a["ports"] for a in rules[name]["allow"]] == [["8443"]], name
    assert [a["ports"] for a in rules["ci-englab-allow-serving"]["allow"]] == [["9000"]]
    outputs = custom_plan["planned_values"]["outputs"]
    assert outputs["tracking_port"]["value"] == 8443
    assert outputs["serving_port"]["value"] == 9000


def test_gpu_node_terminates_on_maintenance(custom_plan: dict) -> None:
    nodes = {r["values"]["name"]: r["values"] for r in by_type(custom_plan, "google_compute_instance")}
    training = nodes["ci-training-node"]
    assert training["guest_accelerator"] == [{"count": 1, "type": "nvidia-tesla-t4"}]
    assert training["scheduling"][0]["on_host_maintenance"] == "TERMINATE"
    assert nodes["ci-tracking-node"]["guest_accelerator"] == []


def _shielded(scratch: Workdir, *variables: str) -> dict[str, dict]:
    plan_file = scratch.path / "shielded.tfplan"
    scratch.run("plan", "-no-color", "-input=false", "-lock=false", f"-out={plan_file}",
                f"-var=project_id={PROJECT}", *variables)  # fmt: skip
    plan = json.loads(scratch.run("show", "-json", str(plan_file)).stdout)
    return {
        r["values"]["name"]: r["values"]["shielded_instance_config"][0]
        for r in by_type(plan, "google_compute_instance")
    }


def test_secure_boot_off_only_on_a_gpu_training_node(custom_plan: dict, scratch: Workdir) -> None:
    # Debian's DKMS nvidia-driver (roles/training_node) is unsigned: Secure Boot would refuse it.
    shielded = {
        r["values"]["name"]: r["values"]["shielded_instance_config"][0]
        for r in by_type(custom_plan, "google_compute_instance")
    }
    assert shielded["ci-training-node"] == {
        "enable_secure_boot": False, "enable_vtpm": True, "enable_integrity_monitoring": True,
    }  # fmt: skip
    for name in ("ci-tracking-node", "ci-serving-node"):
        assert shielded[name]["enable_secure_boot"] is True, name
    # Built-in GPUs (G2) too, by default; gpu_secure_boot keeps it on for a signed driver.
    builtin = _shielded(scratch, "-var=training_machine_type=g2-standard-4")
    assert builtin["training-node"]["enable_secure_boot"] is False
    signed = _shielded(scratch, "-var=gpu_count=1", "-var=training_machine_type=n1-standard-8",
                       "-var=gpu_secure_boot=true")  # fmt: skip
    assert {name: config["enable_secure_boot"] for name, config in signed.items()} == {
        "training-node": True, "tracking-node": True, "serving-node": True,
    }  # fmt: skip


def test_external_ip_only_where_asked(custom_plan: dict) -> None:
    nodes = {r["values"]["name"]: r["values"] for r in by_type(custom_plan, "google_compute_instance")}
    with_ip = {name for name, node in nodes.items() if node["network_interface"][0]["access_config"]}
    assert with_ip == {"ci-serving-node"}


def test_opt_in_networks_and_prefix(custom_plan: dict) -> None:
    rules = {r["values"]["name"]: r["values"] for r in by_type(custom_plan, "google_compute_firewall")}
    assert rules["ci-englab-allow-serving"]["source_ranges"] == ["198.51.100.0/24"]
    # Every serving node carries the serving tag, however many there are.
    assert rules["ci-englab-allow-serving"]["target_tags"] == ["ci-englab-serving"]
    assert set(rules["ci-englab-allow-ssh"]["source_ranges"]) == {IAP_RANGE, "203.0.113.0/24"}
    assert set(rules["ci-englab-allow-tracking-https"]["source_ranges"]) == {SUBNET, "203.0.113.0/24"}
    # admin_cidrs widen the admin rule only; the IAP rule stays IAP-only, with the prefixed tag.
    assert rules["ci-englab-allow-tracking-https-iap"]["source_ranges"] == [IAP_RANGE]
    assert rules["ci-englab-allow-tracking-https-iap"]["target_tags"] == ["ci-tracking-node"]
    assert by_type(custom_plan, "google_compute_network")[0]["values"]["name"] == "ci-englab-vpc"
    accounts = {r["values"]["account_id"] for r in by_type(custom_plan, "google_service_account")}
    assert accounts == {"ci-training-sa", "ci-tracking-sa", "ci-serving-sa"}


def test_user_labels_reach_every_labelled_resource(custom_plan: dict) -> None:
    labelled = [r for r in resources(custom_plan) if r["values"].get("labels") is not None]
    assert len(labelled) >= 6
    for r in labelled:
        assert r["values"]["labels"]["team"] == "mlops", r["address"]
    db = by_type(custom_plan, "google_sql_database_instance")[0]["values"]
    assert db["settings"][0]["user_labels"]["team"] == "mlops"


def test_service_networking_peering_is_abandoned_on_destroy(planned: Planned) -> None:
    assert one(planned, "google_service_networking_connection")["deletion_policy"] == "ABANDON"


def test_destroy_data_lets_destroy_delete_the_bucket(scratch: Workdir) -> None:
    """The default keeps artifacts (test_bucket_is_private_and_versioned); destroy_data opts in."""
    plan_file = scratch.path / "destroy-data.tfplan"
    scratch.run(
        "plan",
        "-no-color",
        "-input=false",
        "-lock=false",
        f"-out={plan_file}",
        f"-var=project_id={PROJECT}",
        "-var=deletion_protection=false",
        "-var=destroy_data=true",
    )
    plan = json.loads(scratch.run("show", "-json", str(plan_file)).stdout)
    assert by_type(plan, "google_storage_bucket")[0]["values"]["force_destroy"] is True
    db = by_type(plan, "google_sql_database_instance")[0]["values"]
    assert db["deletion_protection"] is False
