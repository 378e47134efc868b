"""Issue 15: unknown variables are refused before anything changes, and a wrong value is short.

The bad-input table (test_bad_input_table.py) holds one typo row per playbook; here, what a table
row cannot show: destroy with a typo leaves an existing platform's objects alone (and the same run
without the typo removes them, so the test can tell), and a refused value no longer prints the
role's whole argument spec after the message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import VENV_BIN, Run, docker, docker_names, remove_docker_resources, run

pytestmark = pytest.mark.docker

PREFIX = "englab-unkvar-"
# Stand-ins for a local platform's objects, named as destroy removes them (roles/provision/vars).
CONTAINER = f"{PREFIX}training-node"
NETWORK = f"{PREFIX}englab-vpc"
VOLUME = f"{PREFIX}englab-db-data"


def playbook(name: str, extra: dict, env: dict[str, str], *args: str) -> Run:
    return run(
        [str(VENV_BIN / "ansible-playbook"), f"englab.mlops.{name}", "-e", json.dumps(extra), *args], env
    )


def objects() -> set[str]:
    return {
        f"{kind} {name}" for kind in ("container", "network", "volume") for name in docker_names(kind, PREFIX)
    }


@pytest.fixture
def stand_in_platform(docker_available: None, tmp_path: Path) -> Iterator[Path]:
    """A created (never started) node container, the network and a data volume, plus known_hosts."""
    image = os.environ.get("ENGLAB_NODE_IMAGE", "englab/node:bookworm")
    remove_docker_resources(PREFIX)
    for argv in (
        ("network", "create", NETWORK),
        ("volume", "create", VOLUME),
        ("create", "--name", CONTAINER, "--network", NETWORK, image),
    ):
        assert docker(*argv).returncode == 0, argv
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "known_hosts").write_text("")
    yield secrets
    remove_docker_resources(PREFIX)


def test_destroy_with_a_typo_removes_nothing(stand_in_platform: Path, tool_env: dict[str, str]) -> None:
    secrets = stand_in_platform
    before = objects()
    assert before == {f"container {CONTAINER}", f"network {NETWORK}", f"volume {VOLUME}"}
    extra = {"mlops_name_prefix": PREFIX, "mlops_secrets_dir": str(secrets)}

    refused = playbook("destroy", {**extra, "mlops_destroy_dta": True}, tool_env)
    assert refused.rc != 0, refused.output[-3000:]
    assert "unknown variable mlops_destroy_dta: did you mean mlops_destroy_data?" in refused.output
    assert "Traceback" not in refused.output
    assert objects() == before
    assert (secrets / "known_hosts").is_file()

    # The same run spelled right removes them: the stand-ins are what destroy would remove.
    done = playbook("destroy", {**extra, "mlops_destroy_data": True}, tool_env)
    assert done.rc == 0, done.output[-3000:]
    assert objects() == set()
    assert not (secrets / "known_hosts").exists()


# Before issue 15 each of these printed the role's whole argument spec after the message:
# provision 6.5 kB (161 lines in the yaml callback), deploy's serving_node spec more.
@pytest.mark.parametrize(
    ("entry", "variables", "message"),
    [
        ("provision", {"mlops_target": "aws"}, "value of mlops_target must be one of: local, gcp, got: aws"),
        (
            "provision",
            {"mlops_secrets_store": "vault"},
            "value of mlops_secrets_store must be one of: controller, gcp_secret_manager, got: vault",
        ),
        (
            "deploy",
            {"serving_node_proxy_port": "http"},
            "argument 'serving_node_proxy_port' is of type str and we were unable to convert to int",
        ),
        (
            "destroy",
            {"mlops_destroy_data": "perhaps"},
            "argument 'mlops_destroy_data' is of type str and we were unable to convert to bool",
        ),
    ],
)
def test_a_wrong_value_is_refused_in_a_few_lines(
    entry: str, variables: dict, message: str, tool_env: dict[str, str], tmp_path: Path
) -> None:
    extra = {"mlops_name_prefix": PREFIX, "mlops_secrets_dir": str(tmp_path / "secrets"), **variables}
    args = [] if entry == "destroy" else ["--tags", "provision_preflight"]
    result = playbook(entry, extra, tool_env, *args)
    assert result.rc != 0
    assert message in result.output
    assert "argument_spec_data" not in result.output
    assert "description" not in result.output  # no option documentation follows the message
    print(f"{entry}: {len(result.output)} characters, {len(result.output.splitlines())} lines")
    assert len(result.output) < 2000, result.output
    assert not (tmp_path / "secrets").exists()


# A role applied on its own (a user's playbook, a Molecule scenario) runs no playbook's check: its
# dependency englab.mlops.preflight refuses the value before Ansible's role argument validation,
# which printed the whole spec after the message (docker_engine 90 lines, serving_node far more).
@pytest.mark.parametrize(
    ("role", "variables", "message"),
    [
        (
            "docker_engine",
            {"docker_engine_package_source": "bogus"},
            "value of docker_engine_package_source must be one of: distribution, docker, got: bogus",
        ),
        (
            "serving_node",
            {"serving_node_proxy_port": "http"},
            "argument 'serving_node_proxy_port' is of type str and we were unable to convert to int",
        ),
        (
            "tracking_server",
            {"mlops_targt": "gcp"},
            "unknown variable mlops_targt: did you mean mlops_target?",
        ),
    ],
)
def test_a_role_applied_directly_refuses_in_a_few_lines(
    role: str, variables: dict, message: str, tool_env: dict[str, str]
) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "playbooks" / "role_direct.yml"
    extra = {"direct_role": f"englab.mlops.{role}", **variables}
    result = run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            f"{PREFIX}no-such-node,",
            "-e",
            "ansible_connection=community.docker.docker",
            "-e",
            json.dumps(extra),
            str(fixture),
        ],
        tool_env,
    )
    assert result.rc != 0
    assert message in result.output, result.output[-3000:]
    assert "argument_spec_data" not in result.output
    # refused before the role's own validation (the dependency englab.mlops.preflight has its own)
    assert f"englab.mlops.{role} : Validating arguments against arg spec" not in result.output
    assert "UNREACHABLE" not in result.output  # no task of the role was reached
    print(f"{role}: {len(result.output)} characters, {len(result.output.splitlines())} lines")
    # the whole run, with its task timing recap (docker_engine's spec alone used to be 90 lines)
    assert len(result.output) < 2500, result.output
