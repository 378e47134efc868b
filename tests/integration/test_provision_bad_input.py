"""Bad input stops before anything is created, with a message naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, docker_names, recap, remove_docker_resources

pytestmark = pytest.mark.docker

PROVISION = REPO / "playbooks" / "provision.yml"
PREFIX = "englab-badtest-"


@pytest.fixture
def base(tmp_path, docker_available):
    yield {
        "mlops_name_prefix": PREFIX,
        "mlops_secrets_dir": str(tmp_path / "secrets"),
        "mlops_local_tracking_port": 29443,
        "mlops_local_serving_port": 29080,
    }
    # Nothing should exist; if a regression created something, do not leave it behind.
    remove_docker_resources(PREFIX)


def assert_clean_failure(result, *needles: str) -> None:
    assert result.rc != 0
    for needle in needles:
        assert needle in result.output, result.output
    assert "Traceback" not in result.output
    assert "Unexpected Exception" not in result.output
    assert docker_names("container", PREFIX) == set()
    assert docker_names("network", PREFIX) == set()
    assert docker_names("volume", PREFIX) == set()


def test_unknown_target(base, playbook, tmp_path):
    result = playbook(PROVISION, {**base, "mlops_target": "aws"})
    assert_clean_failure(result, "mlops_target", "aws")
    assert not (tmp_path / "secrets").exists()


def test_wrong_type(base, playbook, tmp_path):
    result = playbook(PROVISION, {**base, "mlops_local_tracking_port": "https"})
    assert_clean_failure(result, "mlops_local_tracking_port")
    assert not (tmp_path / "secrets").exists()


def test_gcp_without_project(base, playbook, tool_env, tmp_path):
    env = {
        key: value for key, value in tool_env.items() if key not in {"GCP_PROJECT", "GOOGLE_CLOUD_PROJECT"}
    }
    result = playbook(PROVISION, {**base, "mlops_target": "gcp"}, env=env)
    assert_clean_failure(result, "mlops_gcp_project is required")
    assert not (tmp_path / "secrets").exists()


@pytest.mark.terraform
@pytest.mark.parametrize(
    ("violation", "needles"),
    [
        ("internal_ip", ("Terraform output 'nodes'", "internal_ip must be an IP address", "not-an-ip")),
        ("db_port", ("Terraform output 'db_port'", "'postgres'")),
        # A null output is not listed by Terraform at all.
        ("nodes", ("Terraform output 'nodes' is missing",)),
    ],
)
def test_malformed_outputs(base, playbook, violation, needles):
    extra = {
        **base,
        "mlops_target": "gcp",
        "mlops_gcp_project": "englab-itest-project",
        "mlops_gcp_connection": "docker",
        "mlops_terraform_dir": str(FIXTURES / "terraform" / "contract"),
        "provision_terraform_variables": {
            "break_output": violation,
            "node_ips": {"training": "10.9.0.2", "tracking": "10.9.0.3", "serving": "10.9.0.4"},
        },
    }
    result = playbook(PROVISION, extra)
    assert_clean_failure(result, "englab.mlops.contract_hosts", *needles)
    # No host was added: only the controller appears in the recap.
    assert set(recap(result)) == {"localhost"}
    assert "answers Ansible's ping" not in result.stdout


def test_gcp_root_without_configuration(base, playbook, tmp_path):
    empty = tmp_path / "empty-root"
    empty.mkdir()
    key = tmp_path / "oslogin_key"
    key.write_text("not read: only its presence is checked before Terraform\n")
    extra = {
        **base,
        "mlops_target": "gcp",
        "mlops_gcp_project": "englab-itest-project",
        "mlops_terraform_dir": str(empty),
        "mlops_ssh_user": "sa_1234",
        "mlops_ssh_private_key_file": str(key),
    }
    result = playbook(PROVISION, extra)
    assert_clean_failure(result, f"mlops_terraform_dir {empty} holds no Terraform configuration")


@pytest.mark.parametrize(
    "login_and_message",
    [
        ({"mlops_ssh_user": ""}, "mlops_ssh_user is empty and the OS Login user could not be derived"),
        (
            {"mlops_ssh_user": "alice_example_com", "mlops_ssh_private_key_file": "/nonexistent/oslogin"},
            "mlops_ssh_private_key_file /nonexistent/oslogin does not exist on the controller",
        ),
    ],
    ids=["no-login-user", "no-key"],
)
def test_gcp_connection_that_cannot_log_in_is_refused_before_terraform(
    base, playbook, tool_env, tmp_path, login_and_message
):
    """The whole provision playbook (not only its preflight tag), with a root Terraform would
    apply in seconds: the run stops naming the variable and no Terraform working copy exists."""
    login, needle = login_and_message
    # No service-account key in the environment, so nothing to derive the OS Login user from.
    env = {
        k: v
        for k, v in tool_env.items()
        if k
        not in {"GOOGLE_APPLICATION_CREDENTIALS", "GCE_CREDENTIALS_FILE_PATH", "GCP_SERVICE_ACCOUNT_FILE"}
    }
    extra = {
        **base,
        "mlops_target": "gcp",
        "mlops_gcp_project": "englab-itest-project",
        "mlops_terraform_dir": str(FIXTURES / "terraform" / "contract"),
        "provision_terraform_variables": {
            "node_ips": {"training": "10.9.0.2", "tracking": "10.9.0.3", "serving": "10.9.0.4"}
        },
        **login,
    }
    result = playbook(PROVISION, extra, env=env)
    assert_clean_failure(result, needle, "Nothing was provisioned")
    assert not (tmp_path / "secrets" / "terraform").exists(), "Terraform ran before the refusal"
    assert set(recap(result)) == {"localhost"}


def secrets_dir_default(playbook, tmp_path: Path, target: str, env: dict[str, str]) -> str:
    """The provision role's default mlops_secrets_dir for a target (its preflight only, nothing written)."""
    play = tmp_path / "secrets_dir_default.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role: {name: englab.mlops.provision, tasks_from: preflight, public: true}\n"
        "    - ansible.builtin.debug: {msg: 'secrets_dir=[{{ mlops_secrets_dir }}]'}\n"
    )
    result = playbook(play, {"mlops_target": target, "mlops_gcp_project": "englab-itest-project"}, env=env)
    assert result.rc == 0, result.output
    return result.output.split("secrets_dir=[", 1)[1].split("]", 1)[0]


def test_gcp_platform_has_its_own_default_secrets_dir(playbook, tool_env, tmp_path, docker_available):
    """The local default stays ~/.config/englab-mlops/<prefix>englab; gcp's holds the project, so a gcp
    run never writes into the local platform's directory, and a refused one writes nothing at all."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**tool_env, "HOME": str(home)}
    assert secrets_dir_default(playbook, tmp_path, "local", env) == f"{home}/.config/englab-mlops/englab"
    assert (
        secrets_dir_default(playbook, tmp_path, "gcp", env)
        == f"{home}/.config/englab-mlops/gcp/englab-itest-project/englab"
    )
    assert not (home / ".config").exists(), "preflight wrote into a secrets directory"

    extra = {
        "mlops_target": "gcp",
        "mlops_gcp_project": "englab-itest-project",
        "mlops_gcp_region": "us_central1",
    }
    refused = playbook(PROVISION, extra, env=env)
    assert_clean_failure(
        refused, "mlops_gcp_region must be a Google Cloud region such as europe-west1", '"us_central1"'
    )
    assert not (home / ".config").exists(), sorted(str(p) for p in home.rglob("*"))
