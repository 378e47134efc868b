"""Every wrong input stops at plan with this root's own error message, before any API call."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PROJECT, Workdir

pytestmark = pytest.mark.terraform

BAD = [
    ("project_id", "My_Project", "project_id: 6-30 characters"),
    ("project_id", "abc", "project_id: 6-30 characters"),
    ("region", "europe_west1", "region: a Google Cloud region"),
    ("zone", "europe-west1", "zone: a Google Cloud zone"),
    ("zone", "us-central1-a", "zone: must be a zone of the chosen region"),
    ("subnet_cidr", "10.10.0.1/24", "subnet_cidr: an IPv4 network in CIDR notation"),
    ("subnet_cidr", "8.8.8.0/24", "subnet_cidr: must be a private (RFC 1918) range"),
    ("admin_cidrs", '["0.0.0.0/0"]', "admin_cidrs: 0.0.0.0/0 (the whole internet) is refused"),
    ("admin_cidrs", '["office"]', "admin_cidrs: every entry must be an IPv4 network"),
    ("serving_allowed_cidrs", '["0.0.0.0/0"]', "serving_allowed_cidrs: 0.0.0.0/0 is refused"),
    (
        "serving_allowed_cidrs",
        '["192.168.1.1/24"]',
        "serving_allowed_cidrs: every entry must be an IPv4 network",
    ),
    ("training_machine_type", "C2 standard 8", "training_machine_type: a Compute Engine machine type"),
    ("tracking_machine_type", "small", "tracking_machine_type: a Compute Engine machine type"),
    ("serving_machine_type", "e2_standard_2", "serving_machine_type: a Compute Engine machine type"),
    ("gpu_count", "3", "gpu_count: 0, 1, 2, 4 or 8"),
    ("gpu_count", "-1", "gpu_count: 0, 1, 2, 4 or 8"),
    ("gpu_type", "tesla-t4", "gpu_type: a Compute Engine accelerator type"),
    ("prefix", "Ci_", "prefix: empty, or up to 19 characters"),
    ("prefix", "a-prefix-much-too-long-for-names", "prefix: empty, or up to 19 characters"),
    ("labels", '{"Team" = "x"}', "labels: keys start with a lowercase letter"),
    ("external_ip_nodes", '["db-node"]', "external_ip_nodes: only training-node"),
    ("db_tier", "db-huge", "db_tier: a Cloud SQL Enterprise tier"),
    ("db_version", "POSTGRES_12", "db_version: POSTGRES_14 to POSTGRES_18"),
    ("db_name", "mlflow-db", "db_name: a PostgreSQL identifier"),
    ("db_user", "postgres", "db_user: a PostgreSQL role name"),
    ("db_max_connections", "10", "db_max_connections: a whole number between 20 and 10000"),
    ("serving_port", "80", "serving_port: an unprivileged port"),
    ("serving_node_count", "0", "serving_node_count: a whole number of serving nodes, 1-20"),
    ("serving_node_count", "2.5", "serving_node_count: a whole number of serving nodes, 1-20"),
    ("serving_zones", '["us-central1-a"]', "serving_zones: zones of the chosen region"),
    ("serving_external_domain", "models example", "serving_external_domain: a DNS name"),
    ("serving_external_allowed_cidrs", '["0.0.0.0/0"]', "serving_external_allowed_cidrs: IPv4 networks"),
    (
        "serving_external_enabled",
        "true",
        "serving_external_allowed_cidrs: required when serving_external_enabled is true",
    ),
    ("artifact_bucket_name", "Bad_Bucket", "artifact_bucket_name: 3-63 characters"),
    ("db_backup_start_time", "25:00", "db_backup_start_time: HH:MM"),
    ("destroy_data", "true", "destroy_data: true is refused while deletion_protection is true"),
]


def _errors(proc_stdout: str) -> list[str]:
    """Error diagnostics from ``plan -json`` (one JSON object a line, never wrapped)."""
    out = []
    for line in proc_stdout.splitlines():
        entry = json.loads(line)
        if entry.get("type") == "diagnostic" and entry["diagnostic"]["severity"] == "error":
            out.append(entry["diagnostic"].get("summary", "") + ": " + entry["diagnostic"].get("detail", ""))
    return out


def _groups() -> list[dict[str, str]]:
    """Spread the cases over a few plans, each variable at most once per plan.

    Terraform reports every invalid variable of a run, so a handful of plans covers all cases;
    each case still needs its own message in its own run. zone's validation reads region, and
    Terraform skips it while region itself is invalid, so they never share a plan.
    """
    apart = {
        "zone": {"region"},
        "region": {"zone", "serving_zones"},
        # gpu_count's validations read these; Terraform skips them while either is invalid.
        "gpu_count": {"training_machine_type", "gpu_type", "destroy_data"},
        "training_machine_type": {"gpu_count"},
        "gpu_type": {"gpu_count"},
        # The external load balancer's validations read serving_external_enabled.
        "serving_external_enabled": {"serving_external_domain", "serving_external_allowed_cidrs"},
        "serving_external_domain": {"serving_external_enabled"},
        "serving_external_allowed_cidrs": {"serving_external_enabled"},
        "serving_zones": {"region"},
    }
    groups: list[dict[str, str]] = []
    for name, value, _unused in BAD:
        group = next((g for g in groups if name not in g and not apart.get(name, set()) & set(g)), None)
        if group is None:
            group = {}
            groups.append(group)
        group[name] = value
    return groups


def _plan(work: Workdir, values: dict[str, str]) -> tuple[int, list[str]]:
    args = ["plan", "-json", "-input=false", "-refresh=false", "-lock=false"]
    args += [f"-var={name}={value}" for name, value in {"project_id": PROJECT, **values}.items()]
    proc = work.run(*args, check=False)
    return proc.returncode, _errors(proc.stdout)


@pytest.fixture(scope="module")
def outcomes(scratch: Workdir) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """Case -> (exit code, error diagnostics) of the plan that carried it."""
    groups = _groups()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda values: _plan(scratch, values), groups))
    return {
        (name, value): result
        for group, result in zip(groups, results, strict=True)
        for name, value in group.items()
    }


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v}" for n, v, _unused in BAD])
def test_bad_value_is_refused_with_our_message(
    outcomes: dict[tuple[str, str], tuple[int, list[str]]], name: str, value: str, message: str
) -> None:
    returncode, errors = outcomes[(name, value)]
    assert returncode != 0
    assert any(message in error for error in errors), errors
    # Only variable validation fails in these plans: a typo in a case would show up here.
    assert all("Invalid value for variable" in error for error in errors), errors


def test_valid_values_are_accepted(scratch: Workdir) -> None:
    """The control: legal non-default values pass the same validations."""
    returncode, errors = _plan(
        scratch,
        {
            "prefix": "ci-",
            "region": "us-central1",
            "zone": "us-central1-a",
            "subnet_cidr": "172.16.8.0/22",
            "admin_cidrs": '["203.0.113.0/24"]',
            "gpu_count": "2",
            "training_machine_type": "n1-standard-8",
            "tracking_machine_type": "a2-highgpu-1g",  # a GPU type name (1g) is a machine type too
            "labels": '{"team" = "mlops"}',
        },
    )
    assert returncode == 0, errors


GPU_MESSAGE = "gpu_count: attachable GPUs (gpu_count > 0) need an N1 training_machine_type"
GPU_BAD = [
    ({"gpu_count": "1"}, GPU_MESSAGE + " (n1-...)"),  # the default c2-standard-8
    ({"gpu_count": "1", "training_machine_type": "e2-standard-8"}, "training_machine_type = e2-standard-8"),
    ({"gpu_count": "2", "training_machine_type": "n2-standard-8"}, GPU_MESSAGE),
    ({"gpu_count": "1", "training_machine_type": "n2d-standard-8"}, GPU_MESSAGE),
    ({"gpu_count": "1", "training_machine_type": "c3-standard-8"}, GPU_MESSAGE),
    ({"gpu_count": "1", "training_machine_type": "g2-standard-8"}, "G2 types have built-in GPUs"),
    ({"gpu_count": "1", "training_machine_type": "a2-highgpu-1g"}, "given gpu_count = 1"),
    (
        {"gpu_count": "1", "training_machine_type": "n1-standard-8", "gpu_type": "nvidia-l4"},
        "gpu_type: with gpu_count > 0, one of nvidia-tesla-t4",
    ),
]


@pytest.fixture(scope="module")
def gpu_outcomes(scratch: Workdir) -> list[tuple[int, list[str]]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda case: _plan(scratch, case[0]), GPU_BAD))


@pytest.mark.parametrize("index", range(len(GPU_BAD)), ids=[str(values) for values, _unused in GPU_BAD])
def test_gpu_on_a_family_that_cannot_take_it_is_refused(
    gpu_outcomes: list[tuple[int, list[str]]], index: int
) -> None:
    returncode, errors = gpu_outcomes[index]
    assert returncode != 0
    assert any(GPU_BAD[index][1] in error for error in errors), errors
    assert all("Invalid value for variable" in error for error in errors), errors


def test_built_in_gpu_types_terminate_on_maintenance(scratch: Workdir) -> None:
    """A2/A3/G2 types carry GPUs with gpu_count = 0; they cannot live-migrate."""
    plan_file = scratch.path / "g2.tfplan"
    scratch.run(
        "plan", "-input=false", "-lock=false", f"-out={plan_file}",
        f"-var=project_id={PROJECT}", "-var=training_machine_type=g2-standard-8",
    )  # fmt: skip
    plan = json.loads(scratch.run("show", "-json", str(plan_file)).stdout)
    nodes = {
        r["values"]["name"]: r["values"]
        for r in plan["planned_values"]["root_module"]["resources"]
        if r["type"] == "google_compute_instance"
    }
    assert nodes["training-node"]["guest_accelerator"] == []
    assert nodes["training-node"]["scheduling"][0]["on_host_maintenance"] == "TERMINATE"
    assert nodes["tracking-node"]["scheduling"][0]["on_host_maintenance"] == "MIGRATE"
