"""Issue 9: every wrong input is refused clearly, before anything changes.

One table of wrong inputs, each sent through the entry point a user would hit: a playbook of the
collection, a role applied by a tiny generated playbook, or a variable of the Terraform root planned
against the offline stand-in provider (reused from tests/terraform, not copied). A row passes when the
run fails, the output holds the row's fragment (the variable's name and what is allowed), there is no
Python traceback, and nothing was left behind: no Docker object with this file's prefix, no Terraform
state, no file in the run's secrets directory.

Roles run against a sandbox host whose connection points at a container that does not exist, so a
role that lets a bad value through fails at its first module instead of changing this machine; the
provision playbook runs with its preflight tag only, so a regression cannot bring up a platform here.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import INSTALLED, REPO, Run, docker_names, remove_docker_resources, run
from support.contract import local_contract

pytestmark = pytest.mark.docker
# A row creates nothing (that is what it checks), so rows spread over the pytest -n workers; rows
# that hold a port or share the Terraform plans carry their own xdist_group (conftest.py).
SPREAD_OVER_WORKERS = True

PREFIX = "englab-badin-"
SANDBOX = f"{PREFIX}node"
# Roles exercised through the installed collection; a stale copy would test old code.
ROLES = (
    "common",
    "database",
    "docker_engine",
    "provision",
    "repository",
    "serving_node",
    "tracking_server",
    "train",
    "training_node",
)
# The inventory contract of a local platform named with PREFIX, as provision would set it
# (tests/support/contract.py); the secrets directory (and the CA in it) is each case's own.
CONTRACT: dict[str, Any] = {
    name: value
    for name, value in local_contract(PREFIX).items()
    if name not in ("mlops_secrets_dir", "mlops_ca_certificate", "mlops_node_instance_id")
}


def _terraform_conftest() -> ModuleType:
    """tests/terraform/conftest.py under its own name: its stand-in provider and fixtures, reused."""
    folder = REPO / "tests" / "terraform"
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # its `standin` package
    spec = importlib.util.spec_from_file_location("englab_terraform_conftest", folder / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


TF = _terraform_conftest()
# The stand-in provider mirror and one initialised scratch copy of terraform/, as tests/terraform has them.
mirror = TF.mirror
initialized = TF.initialized
scratch = TF.scratch


class NotRefused(AssertionError):
    """The run went on, or stopped without naming the variable and what it accepts."""


class LeftBehind(AssertionError):
    """The run was refused, but after it had changed something."""


@dataclass(frozen=True)
class Case:
    """One wrong input: where it goes in, the value, and the fragment the refusal must contain.

    ``entry`` is a playbook (``englab.mlops.provision``), ``role:<name>[:<tasks_from>]`` or
    ``terraform``.
    """

    entry: str
    variables: dict[str, Any]
    fragment: str
    facts: bool = False  # the role reads ansible_facts before it checks the value
    extra: dict[str, Any] = field(default_factory=dict)  # legal settings the row needs besides the bad one
    label: str = ""  # what the row means, when the value alone does not say it
    hold_port: int = 0  # a port another process holds on 127.0.0.1 during the run
    secrets: tuple[str, ...] | None = (
        None  # files the run's secrets directory holds before the run (it exists)
    )

    @property
    def id(self) -> str:
        kind = self.entry.removeprefix("englab.mlops.").removeprefix("role:")
        name, value = next(iter(self.variables.items()))
        shown = value if self.entry == "terraform" else json.dumps(value)
        return f"{kind}:{self.label or f'{name}={shown}'}"


def case(entry: str, name: str, value: Any, fragment: str, **more: Any) -> Any:
    c = Case(entry, {name: value}, fragment, **more)
    # Under pytest -n (make integration): rows holding the same ports run on one worker, and the
    # Terraform rows share one worker's plans (the module fixture would otherwise plan on each).
    group = "held-ports" if c.hold_port else "terraform-plans" if entry == "terraform" else ""
    return pytest.param(c, id=c.id, marks=[pytest.mark.xdist_group(group)] if group else [])


# Playbooks that start with provision.yml (site runs in check mode on the controller instead).
IMPORT_PROVISION = {
    f"englab.mlops.{name}" for name in ("provision", "deploy", "rollback", "undeploy", "train", "backup")
}
ARGSPEC_INT = "is of type str and we were unable to convert to int"
# A PEM certificate with basicConstraints CA:FALSE: a server's certificate given where a CA belongs.
LEAF = str(REPO / "tests" / "fixtures" / "leaf_not_ca.pem")
# Ports a row's own socket holds while the playbook runs (not the defaults: a platform may run here).
HELD_TRACKING_PORT, HELD_SERVING_PORT = 47613, 47614
# The run's secrets directory, in a mlops_secrets_dir value.
SECRETS = "{secrets}"
NOTHING = "Nothing was changed."

TABLE = [
    # --- playbooks -------------------------------------------------------------------------------------
    case(
        "englab.mlops.provision",
        "mlops_target",
        "aws",
        "value of mlops_target must be one of: local, gcp, got: aws",
    ),
    case(
        "englab.mlops.provision",
        "mlops_target",
        "gcp",
        "mlops_gcp_project is required when mlops_target is gcp (or set GCP_PROJECT)",
        label="mlops_target=gcp-without-mlops_gcp_project",
    ),
    case(
        "englab.mlops.provision",
        "mlops_name_prefix",
        "Team_A ",
        "mlops_name_prefix may hold only lower-case letters, digits and dashes, got Team_A",
        extra={"mlops_gcp_project": "englab-badin-123"},
        label="mlops_name_prefix=Team_A-with-a-gcp-project-set",
    ),
    case(
        "englab.mlops.provision",
        "mlops_name_prefix",
        "Team_A ",
        "mlops_name_prefix may hold only lower-case letters, digits and dashes, got Team_A",
        label="mlops_name_prefix=Team_A-on-local",
    ),
    case(
        "englab.mlops.provision",
        "mlops_local_tracking_port",
        "https",
        f"argument 'mlops_local_tracking_port' {ARGSPEC_INT}",
    ),
    case(
        "englab.mlops.provision",
        "mlops_local_tracking_port",
        -1,
        "mlops_local_tracking_port must be a TCP port between 1 and 65535, got -1",
    ),
    case(
        "englab.mlops.provision",
        "mlops_local_serving_port",
        70000,
        "mlops_local_serving_port must be a TCP port between 1 and 65535, got 70000",
    ),
    case(
        "englab.mlops.provision",
        "mlops_serving_node_count",
        21,
        "mlops_serving_node_count must be a whole number of serving nodes between 1 and 20 (0, the default: the "
        "platform's own number), got 21",
    ),
    case(
        "englab.mlops.site",
        "mlops_serving_node_count",
        -2,
        "mlops_serving_node_count must be a whole number of serving nodes between 1 and 20",
    ),
    case(
        "englab.mlops.provision",
        "mlops_gcp_connection",
        "ssh",
        "value of mlops_gcp_connection must be one of: iap, external, docker, got: ssh",
    ),
    # Issue 14: a gcp connection that cannot log in is refused before Terraform starts.
    case(
        "englab.mlops.provision",
        "mlops_ssh_user",
        "",
        "mlops_ssh_user is empty and the OS Login user could not be derived",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
        label="mlops_ssh_user=empty-on-gcp-with-no-service-account-key",
    ),
    case(
        "englab.mlops.provision",
        "mlops_ssh_private_key_file",
        "/nonexistent/englab_oslogin",
        "mlops_ssh_private_key_file /nonexistent/englab_oslogin does not exist on the controller",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123", "mlops_ssh_user": "sa_1234"},
    ),
    # Issue 15: every gcp input is checked before anything is written or any remote call is made,
    # naming the Ansible variable (not Terraform's), the allowed form and the value given.
    case(
        "englab.mlops.provision",
        "mlops_gcp_project",
        "My Project",
        "mlops_gcp_project must be a Google Cloud project id: 6-30 characters of lower-case letters, digits "
        "and '-', starting with a letter and not ending with '-' (the id, not the project's name or number), "
        'got "My Project"',
        extra={"mlops_target": "gcp"},
    ),
    case(
        "englab.mlops.provision",
        "mlops_gcp_region",
        "us_central1",
        'mlops_gcp_region must be a Google Cloud region such as europe-west1 or us-central1, got "us_central1"',
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
    ),
    case(
        "englab.mlops.provision",
        "provision_terraform_variables",
        {"zone": "europe-west1-b"},
        "provision_terraform_variables.zone must be a zone of mlops_gcp_region us-central1, e.g. us-central1-b "
        '(leave it out for zone b of the region), got "europe-west1-b"',
        extra={
            "mlops_target": "gcp",
            "mlops_gcp_project": "englab-badin-123",
            "mlops_gcp_region": "us-central1",
        },
        label="zone-outside-mlops_gcp_region",
    ),
    case(
        "englab.mlops.provision",
        "mlops_name_prefix",
        "englab-badin-too-long-",
        "mlops_name_prefix must be empty or, on gcp, up to 19 characters of lower-case letters, digits and '-', "
        'starting with a letter (it starts every Google resource name), got "englab-badin-too-long-"',
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
        label="mlops_name_prefix=22-characters-on-gcp",
    ),
    case(
        "englab.mlops.provision",
        "mlops_gcp_state_bucket",
        "my-google-state",
        "mlops_gcp_state_bucket must be empty (state kept in the Terraform work dir) or a GCS bucket name: not "
        'starting with goog nor containing google, got "my-google-state"',
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
    ),
    case(
        "englab.mlops.provision",
        "mlops_gcp_state_bucket",
        "Englab State",
        "mlops_gcp_state_bucket must be empty (state kept in the Terraform work dir) or a GCS bucket name: 3-63 "
        "characters",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
    ),
    case(
        "englab.mlops.provision",
        "provision_gcp_credentials_file",
        "/nonexistent/englab-badin-sa.json",
        "provision_gcp_credentials_file /nonexistent/englab-badin-sa.json does not exist on the controller",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
    ),
    case(
        "englab.mlops.provision",
        "provision_gcp_credentials_file",
        "/etc/hostname",
        "provision_gcp_credentials_file /etc/hostname is not a JSON credentials file",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
        label="provision_gcp_credentials_file=not-json",
    ),
    case(
        "englab.mlops.provision",
        "provision_terraform_variables",
        {"colour": "blue"},
        "provision_terraform_variables has colour, which the Terraform root",
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
    ),
    case(
        "englab.mlops.provision",
        "provision_terraform_variables",
        {"gpu_count": 1},
        "provision_terraform_variables.gpu_count > 0 (attached GPUs) needs an N1 "
        "provision_terraform_variables.training_machine_type (n1-...); A2, A3 and G2 types have built-in "
        'GPUs (use them with gpu_count 0) and other families take none; got gpu_count 1 with training_machine_type "c2-standard-8"',
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
        label="gpu-on-the-default-c2",
    ),
    case(
        "englab.mlops.provision",
        "provision_terraform_variables",
        {"gpu_count": 2, "training_machine_type": "e2-standard-8"},
        'got gpu_count 2 with training_machine_type "e2-standard-8"',
        extra={"mlops_target": "gcp", "mlops_gcp_project": "englab-badin-123"},
        label="gpu-on-e2",
    ),
    case(
        "englab.mlops.provision",
        "mlops_ssh_user",
        "root",
        'mlops_ssh_user must be a non-root POSIX user name (lower-case letters, digits, _ . -; at most 32 characters), got "root"',
    ),
    case(
        "englab.mlops.provision",
        "mlops_ssh_user",
        "Alice Smith",
        "mlops_ssh_user must be a non-root POSIX user name",
    ),
    case(
        "englab.mlops.provision",
        "mlops_local_connection",
        "iap",
        "value of mlops_local_connection must be one of: ssh, docker, got: iap",
    ),
    case(
        "englab.mlops.destroy",
        "mlops_destroy_data",
        "perhaps",
        "argument 'mlops_destroy_data' is of type str and we were unable to convert to bool",
    ),
    case(
        "englab.mlops.site",
        "mlops_target",
        "aws",
        "mlops_target must be",
    ),
    # Issue 15: a typo'd variable is refused on every playbook, naming the closest documented one,
    # before anything changes (Ansible itself ignores it: mlops_targt=gcp would run the local target).
    case(
        "englab.mlops.provision",
        "mlops_targt",
        "gcp",
        "unknown variable mlops_targt: did you mean mlops_target?",
    ),
    case(
        "englab.mlops.site",
        "mlops_targt",
        "gcp",
        "unknown variable mlops_targt: did you mean mlops_target?",
    ),
    case(
        "englab.mlops.destroy",
        "mlops_destroy_dta",
        True,
        "unknown variable mlops_destroy_dta: did you mean mlops_destroy_data?",
    ),
    case(
        "englab.mlops.deploy",
        "serving_node_model_versoin",
        3,
        "unknown variable serving_node_model_versoin: did you mean serving_node_model_version?",
    ),
    # refused before the set is written (the prune after it refused it only then)
    case(
        "englab.mlops.backup",
        "mlops_backup_keep",
        0,
        f"mlops_backup_keep must be a whole number of at least 1, got 0. {NOTHING}",
    ),
    case(
        "englab.mlops.rollback",
        "serving_node_model_nme",
        "englab-demo",
        "unknown variable serving_node_model_nme: did you mean serving_node_model_name?",
    ),
    case(
        "englab.mlops.undeploy",
        "serving_node_proxy_prot",
        8080,
        "unknown variable serving_node_proxy_prot: did you mean serving_node_proxy_port?",
    ),
    case(
        "englab.mlops.train",
        "tracking_server_instance",
        2,
        "unknown variable tracking_server_instance: did you mean tracking_server_instances?",
    ),
    # Issue 15: every other rule is judged up front on every entry point that uses the value, naming the
    # variable, the allowed form and the value given (englab.mlops.check_variables, provision preflight).
    # Ports that collide: the controller's published pair, a port another process holds, each node's own.
    *[
        case(
            entry,
            name,
            value,
            "mlops_local_tracking_port and mlops_local_serving_port must be different ports (both published on "
            f"127.0.0.1), both are {value}. {NOTHING}",
        )
        for entry, name, value in (
            ("englab.mlops.provision", "mlops_local_serving_port", 8443),
            ("englab.mlops.site", "mlops_local_serving_port", 8443),
            ("englab.mlops.deploy", "mlops_local_tracking_port", 8080),
            ("englab.mlops.train", "mlops_local_tracking_port", 8080),
        )
    ],
    *[
        case(
            entry,
            name,
            port,
            f"{name} must be a port free on the controller's 127.0.0.1 (or held by this platform's own "
            f"container), got {port}, which another process or platform holds. {NOTHING}",
            hold_port=port,
            label=f"{name}={port}-held-by-another-process",
        )
        for entry, name, port in (
            ("englab.mlops.provision", "mlops_local_tracking_port", HELD_TRACKING_PORT),
            ("englab.mlops.provision", "mlops_local_serving_port", HELD_SERVING_PORT),
            ("englab.mlops.site", "mlops_local_serving_port", HELD_SERVING_PORT),
            ("englab.mlops.deploy", "mlops_local_serving_port", HELD_SERVING_PORT),
            ("englab.mlops.rollback", "mlops_local_tracking_port", HELD_TRACKING_PORT),
        )
    ],
    case(
        "englab.mlops.provision",
        "tracking_server_port",
        443,
        "tracking_server_port to tracking_server_port + tracking_server_instances - 1 (the MLflow instances, "
        f"443-444) must not include tracking_server_https_port, got 443. {NOTHING}",
    ),
    case(
        "englab.mlops.site",
        "tracking_server_instances",
        8,
        "(the MLflow instances, 80-87) must not include tracking_server_http_port, got 80.",
        extra={"tracking_server_port": 80},
        label="tracking_server_port=80-instances=8",
    ),
    case(
        "englab.mlops.site",
        "tracking_server_port",
        21,
        "(the MLflow instances, 21-22) must not include the tracking node's sshd, got 22.",
    ),
    *[
        case(
            entry,
            "serving_node_proxy_port",
            22,
            "serving_node_proxy_port and the serving node's sshd must be different ports (on the serving node), "
            f"both are 22. {NOTHING}",
        )
        for entry in (
            "englab.mlops.site",
            "englab.mlops.deploy",
            "englab.mlops.rollback",
            "englab.mlops.undeploy",
        )
    ],
    case(
        "englab.mlops.deploy",
        "serving_node_proxy_port",
        8081,
        "serving_node_proxy_port and serving_node_slot_ports.blue must be different ports (on the serving node), "
        "both are 8081.",
    ),
    case(
        "englab.mlops.undeploy",
        "serving_node_slot_ports",
        {"blue": 22, "green": 8082},
        "serving_node_slot_ports.blue and the serving node's sshd must be different ports",
        label="serving_node_slot_ports.blue=22",
    ),
    case(
        "englab.mlops.site",
        "database_port",
        22,
        "database_port and the database node's sshd must be different ports (on the database node), both are 22.",
    ),
    case(
        "englab.mlops.site",
        "repository_port",
        22,
        "repository_port and the repository node's sshd must be different ports",
    ),
    # Images: an empty or malformed reference is refused before any container is touched.
    *[
        case(
            entry,
            name,
            value,
            f"{name} must be a Docker image reference, [registry[:port]/]name[:tag][@digest] with a lower-case "
            f"name (e.g. englab/node:bookworm), got '{value}'. {NOTHING}",
            label=label,
        )
        for entry, name, value, label in (
            ("englab.mlops.provision", "mlops_node_image", "", "mlops_node_image=empty"),
            ("englab.mlops.site", "mlops_node_image", "", "mlops_node_image=empty"),
            ("englab.mlops.destroy", "mlops_node_image", "", "mlops_node_image=empty"),
            ("englab.mlops.deploy", "mlops_node_image", "englab/Node:bookworm", ""),
            ("englab.mlops.provision", "mlops_node_image", "englab/node:", ""),
            ("englab.mlops.train", "mlops_node_image", "englab node", ""),
            ("englab.mlops.deploy", "serving_node_base_image", "python:3.11 slim", ""),
            ("englab.mlops.site", "serving_node_base_image", "python@sha256:1234", ""),
        )
    ],
    # Extra CA certificates: a missing file, a file that is not PEM, a PEM that is not a CA.
    *[
        case(
            entry,
            name,
            [path],
            f"{name} must list a PEM file of CA certificates (basicConstraints CA:TRUE) on the controller; '{path}' "
            f"{problem}",
            label=f"{name}={label}",
        )
        for entry, name, path, problem, label in (
            (
                "englab.mlops.site",
                "common_extra_ca_certificates",
                "/nonexistent/englab-ca.crt",
                "does not exist.",
                "missing",
            ),
            (
                "englab.mlops.provision",
                "common_extra_ca_certificates",
                "/nonexistent/englab-ca.crt",
                "does not exist.",
                "missing",
            ),
            (
                "englab.mlops.site",
                "common_extra_ca_certificates",
                "/etc/hostname",
                "is not a PEM certificate.",
                "not-pem",
            ),
            (
                "englab.mlops.site",
                "common_extra_ca_certificates",
                LEAF,
                "holds a certificate that is not a CA",
                "not-a-ca",
            ),
            (
                "englab.mlops.site",
                "serving_node_extra_ca_certificates",
                LEAF,
                "holds a certificate that is not a CA",
                "not-a-ca",
            ),
            (
                "englab.mlops.deploy",
                "serving_node_extra_ca_certificates",
                "/etc/hostname",
                "is not a PEM certificate.",
                "not-pem",
            ),
            (
                "englab.mlops.deploy",
                "serving_node_extra_ca_certificates",
                LEAF,
                "holds a certificate that is not a CA",
                "not-a-ca",
            ),
            (
                "englab.mlops.rollback",
                "serving_node_extra_ca_certificates",
                "/nonexistent/englab-ca.crt",
                "does not exist.",
                "missing",
            ),
        )
    ],
    # Memory and CPU limits of the model containers.
    *[
        case(
            entry,
            "serving_node_memory",
            value,
            "serving_node_memory must be a Docker memory size, a number with an optional unit b, k, m or g (e.g. "
            f"512m, 2g), at least 64m (a model server cannot start in less), got '{value}'. {NOTHING}",
        )
        for entry, value in (
            ("englab.mlops.deploy", "10m"),
            ("englab.mlops.deploy", "2 gigs"),
            ("englab.mlops.rollback", "1.5x"),
            ("englab.mlops.site", "32m"),
            ("englab.mlops.provision", "-1g"),
        )
    ],
    *[
        case(
            entry,
            "serving_node_cpus",
            value,
            f"serving_node_cpus must be a positive number of CPUs such as 0.5 or 2, got {value}. {NOTHING}",
        )
        for entry, value in (
            ("englab.mlops.deploy", 0),
            ("englab.mlops.rollback", -1),
            ("englab.mlops.site", -0.5),
        )
    ],
    # URLs the user gives: http(s) with a host (the tracking URLs of the nodes: https).
    *[
        case(
            entry,
            name,
            value,
            f"{name} must be an {allowed} URL with a host",
        )
        for entry, name, value, allowed in (
            (
                "englab.mlops.site",
                "docker_engine_apt_repository_url",
                "download.docker.com/linux/debian",
                "http:// or https://",
            ),
            (
                "englab.mlops.site",
                "docker_engine_apt_key_url",
                "ftp://download.docker.com/gpg",
                "http:// or https://",
            ),
            ("englab.mlops.site", "smoke_serving_public_url", "localhost:8080", "http:// or https://"),
            ("englab.mlops.site", "smoke_tracking_public_url", "https://:8443", "http:// or https://"),
            (
                "englab.mlops.deploy",
                "serving_node_gcp_token_url",
                "metadata.google.internal/token",
                "http:// or https://",
            ),
            ("englab.mlops.deploy", "serving_node_tracking_url", "https://", "https://"),
            ("englab.mlops.rollback", "serving_node_tracking_url", "http://tracking-node", "https://"),
            ("englab.mlops.train", "training_node_tracking_url", "https:///mlflow", "https://"),
            ("englab.mlops.site", "training_node_tracking_url", "https://tracking-node:port", "https://"),
        )
    ],
    # Secrets directory: entry points that act on an existing platform refuse one without its secrets.
    *[
        case(
            entry,
            "mlops_secrets_dir",
            SECRETS,
            f"mlops_secrets_dir must be the controller directory of an existing platform, holding {holding}; got "
            f"'{SECRETS}', {problem}",
            secrets=files,
            label=f"mlops_secrets_dir={label}",
        )
        for entry, holding, files, problem, label in (
            ("englab.mlops.deploy", "tracking_admin", None, "which does not exist", "missing"),
            ("englab.mlops.rollback", "tracking_admin", None, "which does not exist", "missing"),
            ("englab.mlops.undeploy", "tracking_admin", None, "which does not exist", "missing"),
            ("englab.mlops.train", "tracking_admin", None, "which does not exist", "missing"),
            (
                "englab.mlops.destroy",
                "tracking_admin or known_hosts or ssh_login_ed25519 or terraform",
                None,
                "which does not exist",
                "missing",
            ),
            (
                "englab.mlops.deploy",
                "tracking_admin",
                ("known_hosts",),
                "which holds none of them",
                "without-tracking_admin",
            ),
            ("englab.mlops.train", "tracking_admin", (), "which holds none of them", "empty"),
            (
                "englab.mlops.destroy",
                "tracking_admin or known_hosts or ssh_login_ed25519 or terraform",
                ("db_password",),
                "which holds none of them",
                "without-platform-files",
            ),
        )
    ],
    # --- roles -----------------------------------------------------------------------------------------
    case(
        "role:common",
        "common_journald_system_max_use",
        "lots",
        "common_journald_system_max_use must be a size such as 256M or 1G (got 'lots')",
        facts=True,
    ),
    case(
        "role:common",
        "common_apt_cache_valid_time",
        "hourly",
        f"argument 'common_apt_cache_valid_time' {ARGSPEC_INT}",
    ),
    case(
        "role:docker_engine",
        "docker_engine_package_source",
        "snap",
        "value of docker_engine_package_source must be one of: distribution, docker, got: snap",
    ),
    # A wrong destination would stop dockerd, which applies the rules before it starts.
    case(
        "role:docker_engine",
        "docker_engine_blocked_destinations",
        ["metadata.google.internal"],
        "docker_engine_blocked_destinations must be a list of IPv4 addresses or CIDR ranges without host bits "
        f"(e.g. [169.254.0.0/16, 10.1.2.3]); 'metadata.google.internal' is not one. {NOTHING}",
        facts=True,
    ),
    case(
        "englab.mlops.site",
        "docker_engine_blocked_destinations",
        ["169.254.169.254/16"],
        "docker_engine_blocked_destinations must be a list of IPv4 addresses or CIDR ranges without host bits "
        f"(e.g. [169.254.0.0/16, 10.1.2.3]); '169.254.169.254/16' is not one. {NOTHING}",
    ),
    case(
        "role:tracking_server",
        "tracking_server_port",
        "https",
        f"argument 'tracking_server_port' {ARGSPEC_INT}",
    ),
    case(
        "role:tracking_server",
        "tracking_server_port",
        -1,
        "tracking_server_port must be a TCP port between 1 and 65535, got -1",
    ),
    case(
        "role:tracking_server",
        "tracking_server_instances",
        0,
        "tracking_server_instances between 1 and 8 (got '0')",
    ),
    case(
        "role:tracking_server",
        "tracking_server_port",
        65535,
        "tracking_server_port + tracking_server_instances - 1 must be a TCP port between 1 and 65535, got 65536",
    ),
    case(
        "role:tracking_server",
        "tracking_server_https_port",
        70000,
        "tracking_server_https_port must be a TCP port between 1 and 65535, got 70000",
    ),
    case(
        "role:tracking_server",
        "tracking_server_db_sslmode",
        "sometimes",
        "value of tracking_server_db_sslmode must be one of: disable, allow, prefer, require, verify-ca, "
        "verify-full, got: sometimes",
    ),
    case(
        "role:tracking_server",
        "tracking_server_client_max_body_size",
        "5 gigabytes",
        "tracking_server_client_max_body_size an nginx size such as 512m or 5g (got '5 gigabytes')",
    ),
    case(
        "role:serving_node",
        "serving_node_repository_login",
        "token",
        "value of serving_node_repository_login must be one of: htpasswd, gcp_token, got: token",
    ),
    case(
        "role:serving_node",
        "serving_node_proxy_port",
        70000,
        "serving_node_proxy_port and serving_node_slot_ports must be ports 1-65535",
        extra={"serving_node_ca_certificate": ""},
    ),
    case(
        "role:serving_node:deploy",
        "serving_node_model_version",
        "latest",
        "either serving_node_model_alias or serving_node_model_version (a version number)",
    ),
    # Issue 15: a model name MLflow refuses stops every entry point before the node is reached.
    case(
        "role:serving_node:deploy",
        "serving_node_model_name",
        "team/diabetes",
        "serving_node_model_name must be a registered model name MLflow accepts: not blank, no '/' or ':'",
    ),
    case(
        "role:serving_node:deploy",
        "serving_node_model_name",
        "..diabetes",
        "(a registered model name cannot be '.' or start with '..'); got '..diabetes'",
    ),
    case(
        "role:serving_node:rollback",
        "serving_node_model_name",
        "diabetes:v1",
        "(a registered model name cannot contain '/' or ':'); got 'diabetes:v1'",
    ),
    case(
        "role:serving_node:undeploy",
        "serving_node_model_name",
        "   ",
        "serving_node_model_name must be a registered model name MLflow accepts",
        label="serving_node_model_name=blank",
    ),
    case(
        "role:train",
        "train_model_name",
        "team/diabetes",
        "train_model_name must be a registered model name MLflow accepts: not blank, no '/' or ':'",
    ),
    case(
        "role:train",
        "train_model_name",
        "x" * 257,
        "(a registered model name has at most 256 characters, this one has 257)",
        label="train_model_name=257-characters",
    ),
    case(
        "role:training_node",
        "training_node_tracking_url",
        "http://tracking-node",
        # refused by the role's dependency englab.mlops.preflight (the collection's input rules)
        "training_node_tracking_url must be an https:// URL with a host (e.g. https://example.com/path), "
        "got 'http://tracking-node'",
    ),
    case(
        "role:train",
        "train_metric_goal",
        "lowest",
        "value of train_metric_goal must be one of: minimize, maximize, got: lowest",
    ),
    case("role:train", "train_timeout", "1h", f"argument 'train_timeout' {ARGSPEC_INT}"),
    case(
        "role:database",
        "database_port",
        70000,
        "database_port must be a port 1-65535 (got '70000')",
    ),
    case(
        "role:repository",
        "repository_port",
        "five thousand",
        f"argument 'repository_port' {ARGSPEC_INT}",
    ),
    # --- Terraform root (offline stand-in provider) -----------------------------------------------------
    case("terraform", "project_id", "My Project", "project_id: 6-30 characters, lowercase letters"),
    case("terraform", "region", "Europe-West1", "region: a Google Cloud region such as europe-west1"),
    case("terraform", "zone", "us-central1-a", "zone: must be a zone of the chosen region"),
    case("terraform", "subnet_cidr", "10.10.0.0", "subnet_cidr: an IPv4 network in CIDR notation"),
    case("terraform", "subnet_cidr", "10.10.0.0/33", "subnet_cidr: an IPv4 network in CIDR notation"),
    case(
        "terraform",
        "subnet_cidr",
        "100.64.0.0/24",
        "subnet_cidr: must be a private (RFC 1918) range, /29 or larger",
    ),
    case(
        "terraform", "admin_cidrs", '["0.0.0.0/0"]', "admin_cidrs: 0.0.0.0/0 (the whole internet) is refused"
    ),
    case(
        "terraform", "serving_allowed_cidrs", '["0.0.0.0/0"]', "serving_allowed_cidrs: 0.0.0.0/0 is refused"
    ),
    case(
        "terraform",
        "serving_allowed_cidrs",
        '["10.0.0.0/8", "vpn"]',
        "serving_allowed_cidrs: every entry must be",
    ),
    case(
        "terraform",
        "training_machine_type",
        "N1-standard-8",
        "training_machine_type: a Compute Engine machine type",
    ),
    case("terraform", "gpu_count", "16", "gpu_count: 0, 1, 2, 4 or 8"),
    case(
        "terraform",
        "gpu_count",
        "1",
        "gpu_count: attachable GPUs (gpu_count > 0) need an N1 training_machine_type (n1-...); A2, A3 and G2 "
        "types have built-in GPUs (use them with gpu_count = 0) and other families take none (given "
        "gpu_count = 1, training_machine_type = c2-standard-8).",
    ),
    case("terraform", "prefix", "-englab", "prefix: empty, or up to 19 characters of lowercase letters"),
    case(
        "terraform",
        "artifact_noncurrent_retention_days",
        "-7",
        "artifact_noncurrent_retention_days: a whole number of days, at least 1",
    ),
    case("terraform", "serving_port", "70000", "serving_port: an unprivileged port, 1024-65535"),
]


# --- running one row -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed_is_current() -> None:
    """The roles run from the installed collection: refuse to test a copy older than the checkout."""
    stale = [
        str(path.relative_to(REPO))
        for role in ROLES
        for path in (REPO / "roles" / role).rglob("*")
        if path.is_file()
        and (
            not (INSTALLED / path.relative_to(REPO)).is_file()
            or (INSTALLED / path.relative_to(REPO)).read_bytes() != path.read_bytes()
        )
    ]
    if stale:
        pytest.fail(
            f"the installed englab.mlops is older than the checkout ({', '.join(stale[:5])}): make collection"
        )


def sandbox_playbook(folder: Path, c: Case) -> tuple[Path, Path]:
    """A playbook applying one role entry point to a host that can never be reached, and its inventory."""
    _unused, role, *tasks_from = c.entry.split(":")
    include: dict[str, Any] = {"name": f"englab.mlops.{role}"}
    if tasks_from:
        include["tasks_from"] = tasks_from[0]
    tasks: list[dict[str, Any]] = []
    if c.facts:
        tasks.append(
            {
                "name": "The controller's facts stand in for the node's",
                "ansible.builtin.setup": {"gather_subset": ["!all", "!min", "distribution"]},
                "delegate_to": "localhost",
            }
        )
    tasks.append({"name": f"Apply {include['name']}", "ansible.builtin.include_role": include})
    play = [{"name": "Bad input", "hosts": "sandbox", "gather_facts": False, "tasks": tasks}]
    inventory = {
        "all": {
            "children": {
                "sandbox": {
                    "hosts": {
                        SANDBOX: {
                            # A container that does not exist: any module task fails as unreachable.
                            "ansible_connection": "community.docker.docker",
                            "ansible_host": f"{PREFIX}absent",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        }
    }
    (folder / "play.yml").write_text(json.dumps(play))
    (folder / "inventory.yml").write_text(json.dumps(inventory))
    return folder / "play.yml", folder / "inventory.yml"


def run_ansible(c: Case, tmp_path: Path, tool_env: dict[str, str], secrets: Path) -> Run:
    ansible_playbook = str(REPO / ".venv" / "bin" / "ansible-playbook")
    if c.entry.startswith("role:"):
        play, inventory = sandbox_playbook(tmp_path, c)
        extra = {**CONTRACT, "mlops_secrets_dir": str(secrets), **c.extra, **c.variables}
        argv = [ansible_playbook, "-i", str(inventory), str(play)]
    else:
        extra = {"mlops_name_prefix": PREFIX, "mlops_secrets_dir": str(secrets), **c.extra, **c.variables}
        extra = {k: str(secrets) if v == SECRETS else v for k, v in extra.items()}
        argv = [ansible_playbook, c.entry]
        if c.entry in IMPORT_PROVISION:
            # Only the checks: a value preflight lets through must not bring up a platform here.
            argv += ["--tags", "provision_preflight"]
        elif c.entry == "englab.mlops.site":
            # The stub starts a container: check mode and the controller only keep that from happening.
            argv += ["--check", "--limit", "localhost"]
    env = {
        k: v for k, v in tool_env.items() if k not in {"GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT"}
    }
    return run([*argv, "-e", json.dumps(extra)], env)


def diagnostics(stdout: str) -> list[str]:
    """Error diagnostics of ``terraform plan -json`` as "summary: detail"."""
    errors = []
    for line in stdout.splitlines():
        entry = json.loads(line)
        if entry.get("type") == "diagnostic" and entry["diagnostic"]["severity"] == "error":
            errors.append(
                f"{entry['diagnostic'].get('summary', '')}: {entry['diagnostic'].get('detail', '')}"
            )
    return errors


def terraform_groups(cases: list[Case]) -> list[dict[str, str]]:
    """Share plans between rows, each variable once a plan; zone is judged against region, keep them apart."""
    apart = {
        "zone": {"region"},
        "region": {"zone"},
        # gpu_count's validations read these; Terraform skips them while either is invalid.
        "gpu_count": {"training_machine_type", "gpu_type"},
        "training_machine_type": {"gpu_count"},
        "gpu_type": {"gpu_count"},
    }
    groups: list[dict[str, str]] = []
    for c in cases:
        (name, value), *_unused = c.variables.items()
        group = next((g for g in groups if name not in g and not apart.get(name, set()) & set(g)), None)
        if group is None:
            group = {}
            groups.append(group)
        group[name] = value
    return groups


@dataclass
class PlanOutcome:
    rc: int
    output: str
    errors: list[str]


@pytest.fixture(scope="module")
def terraform_outcomes(scratch: Any) -> Iterator[dict[tuple[str, str], PlanOutcome]]:
    """Row (variable, value) -> the plan that carried it; plans never write state (-refresh/-lock off)."""
    cases = [p.values[0] for p in TABLE if p.values[0].entry == "terraform"]
    groups = terraform_groups(cases)
    # init leaves .terraform/terraform.tfstate (the backend record); only new files count.
    before = set(scratch.path.rglob("*.tfstate*"))

    def plan(values: dict[str, str]) -> PlanOutcome:
        args = ["plan", "-json", "-input=false", "-refresh=false", "-lock=false"]
        args += [f"-var={name}={value}" for name, value in {"project_id": TF.PROJECT, **values}.items()]
        proc = scratch.run(*args, check=False)
        return PlanOutcome(proc.returncode, proc.stdout + proc.stderr, diagnostics(proc.stdout))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(plan, groups))
    yield {
        (name, value): result
        for group, result in zip(groups, results, strict=True)
        for name, value in group.items()
    }
    state = sorted(str(p.relative_to(scratch.path)) for p in set(scratch.path.rglob("*.tfstate*")) - before)
    assert state == [], f"a plan wrote Terraform state: {state}"


def leftovers(secrets: Path, before: tuple[str, ...] = ()) -> list[str]:
    """What the run left behind: Docker objects with PREFIX, files in its secrets directory (beyond before)."""
    left = [
        f"{kind} {name}" for kind in ("container", "network", "volume") for name in docker_names(kind, PREFIX)
    ]
    if secrets.exists():
        left += [
            f"file {p.relative_to(secrets)}"
            for p in sorted(secrets.rglob("*"))
            if not p.is_dir() and str(p.relative_to(secrets)) not in before
        ]
    return left


def held(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port: the user's own process holding a port the platform wants."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


@pytest.fixture
def clean_prefix(docker_available: None) -> Iterator[None]:
    yield
    # Nothing should exist; if a regression created something, do not leave it for the next row.
    remove_docker_resources(PREFIX)


@pytest.mark.usefixtures("installed_is_current", "clean_prefix")
@pytest.mark.parametrize("c", TABLE)
def test_bad_input_is_refused_clearly(
    c: Case, request: pytest.FixtureRequest, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    secrets = tmp_path / "secrets"
    if c.entry == "terraform":
        (name, value), *_unused = c.variables.items()
        outcome: PlanOutcome = request.getfixturevalue("terraform_outcomes")[(name, value)]
        rc, output, messages = outcome.rc, outcome.output, outcome.errors
        # Only variable validation may fail: a refusal for another reason proves nothing about this row.
        assert all(e.startswith("Invalid value for variable") for e in messages), messages
    else:
        if c.secrets is not None:
            secrets.mkdir(mode=0o700)
            for name in c.secrets:
                (secrets / name).write_text("")
        with closing(held(c.hold_port)) if c.hold_port else nullcontext():
            result = run_ansible(c, tmp_path, tool_env, secrets)
        rc, output, messages = result.rc, result.output, [result.output]
        c = Case(**{**c.__dict__, "fragment": c.fragment.replace(SECRETS, str(secrets))})

    assert "Traceback" not in output, output[-4000:]
    assert "Unexpected Exception" not in output, output[-4000:]
    if rc == 0 or not any(c.fragment in m for m in messages):
        raise NotRefused(f"rc={rc}, expected {c.fragment!r} in:\n{output[-4000:]}")
    left = leftovers(secrets, c.secrets or ())
    if left:
        raise LeftBehind(f"refused, but left behind: {left}")
