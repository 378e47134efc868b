"""The inventory contract (docs/inventory-contract.md), pinned."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import pytest
from ansible_collections.englab.mlops.plugins.module_utils import inventory_contract as ic

CONTRACT_FACTS = {
    "mlops_target",
    "mlops_name_prefix",
    "mlops_node_role",
    "mlops_internal_address",
    "mlops_node_instance_id",
    "mlops_tracking_host",
    "mlops_tracking_url",
    "mlops_db_host",
    "mlops_db_port",
    "mlops_tracking_port",
    "mlops_serving_port",
    "mlops_serving_lb_url",
    "mlops_db_name",
    "mlops_db_user",
    "mlops_db_password_secret",
    "mlops_db_sslmode",
    "mlops_artifact_destination",
    "mlops_repository_url",
    "mlops_repository_login",
    "mlops_secrets_dir",
    "mlops_ca_certificate",
}


def gcp_outputs(**overrides):
    outputs = {
        "nodes": {
            "training-node": {
                "group": "training",
                "internal_ip": "10.10.0.2",
                "zone": "europe-west1-b",
                "external_ip": None,
            },
            "tracking-node": {
                "group": "tracking",
                "internal_ip": "10.10.0.3",
                "zone": "europe-west1-c",
                "external_ip": None,
            },
            "serving-node": {
                "group": "serving",
                "internal_ip": "10.10.0.4",
                "zone": "europe-west1-b",
                "external_ip": "34.1.2.3",
            },
        },
        "tracking_url": "https://10.10.0.3",
        "db_host": "10.20.0.5",
        "db_port": 5432,
        "tracking_port": 443,
        "serving_port": 8080,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "englab-db-password",
        "db_sslmode": "require",
        "artifact_destination": "gs://proj-mlflow-artifacts",
        "repository_url": "europe-west1-docker.pkg.dev/proj/englab-repository",
        "repository_login": "gcp_token",
        "serving_lb_url": "http://10.20.0.9:8080",
        "ssh_user": "sa_1234",
        "project_id": "proj",
        "region": "europe-west1",
        "deletion_protection": True,
    }
    outputs.update(overrides)
    return outputs


def local_outputs():
    nodes = {
        name: {"group": group, "internal_ip": name, "zone": "local", "external_ip": None}
        for name, group in [
            ("training-node", "training"),
            ("tracking-node", "tracking"),
            ("serving-node", "serving"),
            ("englab-db", "database"),
            ("englab-repository", "repository"),
        ]
    }
    return {
        "nodes": nodes,
        "tracking_url": "https://tracking-node",
        "db_host": "englab-db",
        "db_port": 5432,
        "tracking_port": 443,
        "serving_port": 8080,
        "db_name": "mlflow_db",
        "db_user": "mlflow",
        "db_password_secret": "",
        "db_sslmode": "prefer",
        "artifact_destination": "/var/lib/mlflow/artifacts",
        "repository_url": "englab-repository:5000",
        "repository_login": "htpasswd",
        "serving_lb_url": "http://dev-serving-lb",
    }


KEY = "/home/u/.ssh/google_compute_engine"
SECRETS = "/home/u/.config/englab-mlops/englab"
KNOWN_HOSTS = SECRETS + "/known_hosts"
IAP_TRACKING = [
    "gcloud", "compute", "start-iap-tunnel", "tracking-node", "22", "--listen-on-stdin",
    "--project=proj", "--zone=europe-west1-c", "--verbosity=warning",
]  # fmt: skip


def by_name(hosts):
    return {host["name"]: host for host in hosts}


def build(outputs, target="gcp", **options):
    """contract_hosts with the SSH key and secrets dir every SSH path needs."""
    options.setdefault("ssh_private_key_file", KEY)
    options.setdefault("secrets_dir", SECRETS)
    return ic.contract_hosts(outputs, target, **options)


def ssh_options(alias, known_hosts=KNOWN_HOSTS, proxy=None):
    """The expected ansible_ssh_common_args argv, the ProxyCommand first when there is one."""
    head = ["-o", "ProxyCommand=" + shlex.join(proxy)] if proxy else []
    return [
        *head,
        "-o", "HostKeyAlias=" + alias,
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "UserKnownHostsFile=" + known_hosts,
        "-o", "IdentitiesOnly=yes",
    ]  # fmt: skip


def proxy_argv(host_vars):
    """The ProxyCommand of a host's ssh args, split the way ssh's shell would split it."""
    option, value = shlex.split(host_vars["ansible_ssh_common_args"])[:2]
    assert option == "-o"
    assert value.startswith("ProxyCommand=")
    return shlex.split(value.removeprefix("ProxyCommand="))


def connection_only(host_vars):
    return {key: value for key, value in host_vars.items() if key.startswith("ansible_")}


def test_gcp_hosts_groups_and_facts():
    hosts = by_name(build(gcp_outputs(), "gcp", secrets_dir="/home/u/.config/englab-mlops/englab"))
    assert set(hosts) == {"training-node", "tracking-node", "serving-node"}
    assert hosts["training-node"]["groups"] == ["mlops", "training"]
    for host in hosts.values():
        facts = {key: value for key, value in host["vars"].items() if key.startswith("mlops_")}
        assert set(facts) == CONTRACT_FACTS
        # englab.mlops.check_variables accepts these names from this constant.
        assert set(facts) == set(ic.CONTRACT_FACTS)
        assert facts["mlops_target"] == "gcp"
        assert facts["mlops_tracking_host"] == "10.10.0.3"
        assert facts["mlops_db_port"] == 5432
        assert facts["mlops_secrets_dir"] == "/home/u/.config/englab-mlops/englab"
    assert hosts["serving-node"]["vars"]["mlops_internal_address"] == "10.10.0.4"
    assert hosts["serving-node"]["vars"]["mlops_node_role"] == "serving"


def test_terraform_output_json_shape_is_unwrapped():
    wrapped = {
        name: {"sensitive": False, "type": "x", "value": value} for name, value in gcp_outputs().items()
    }
    assert build(wrapped) == build(gcp_outputs())


def test_iap_is_the_default_on_gcp():
    host = by_name(build(gcp_outputs()))["tracking-node"]["vars"]
    assert connection_only(host) == {
        "ansible_connection": "ssh",
        "ansible_host": "10.10.0.3",
        "ansible_user": "sa_1234",
        "ansible_become": True,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_pipelining": True,
        "ansible_host_key_checking": True,
        "ansible_ssh_private_key_file": KEY,
        "ansible_ssh_common_args": host["ansible_ssh_common_args"],
    }
    assert shlex.split(host["ansible_ssh_common_args"]) == ssh_options("tracking-node", proxy=IAP_TRACKING)
    assert proxy_argv(host) == IAP_TRACKING


def test_iap_tunnel_uses_a_given_credentials_file():
    host = by_name(build(gcp_outputs(), gcloud_credentials_file="/runner/env/my key.json"))
    assert proxy_argv(host["serving-node"]["vars"])[:4] == [
        "env",
        "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=/runner/env/my key.json",
        "gcloud",
        "compute",
    ]


def test_iap_tunnel_without_credentials_file_runs_gcloud_directly():
    assert proxy_argv(by_name(build(gcp_outputs()))["serving-node"]["vars"])[0] == "gcloud"


def test_external_connection_uses_the_external_ip_without_a_proxy():
    outputs = gcp_outputs()
    for node in outputs["nodes"].values():
        node["external_ip"] = node["external_ip"] or "34.9.9.9"
    host = by_name(build(outputs, connection="external"))["serving-node"]["vars"]
    assert (host["ansible_host"], host["ansible_user"]) == ("34.1.2.3", "sa_1234")
    assert (host["ansible_connection"], host["ansible_become"]) == ("ssh", True)
    assert host["ansible_ssh_private_key_file"] == KEY
    # Exactly the host-key and identity options: no ProxyCommand at all.
    assert shlex.split(host["ansible_ssh_common_args"]) == ssh_options("serving-node")
    assert "ProxyCommand" not in host["ansible_ssh_common_args"]


def test_external_connection_without_external_ip_names_the_node():
    with pytest.raises(ic.ContractError, match=r"node '(tracking|training)-node' has no external_ip"):
        build(gcp_outputs(), connection="external")


def test_docker_connection_targets_the_container_named_like_the_node():
    host = by_name(build(gcp_outputs(), connection="docker"))["training-node"]["vars"]
    assert connection_only(host) == {
        "ansible_connection": "community.docker.docker",
        "ansible_host": "training-node",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_pipelining": True,
        "ansible_become": True,
    }


def test_docker_connection_turns_on_pipelining():
    # community.docker.docker ignores [ssh_connection]; without this every task costs
    # four more `docker exec` calls and a no-op site run takes minutes instead of one.
    for host in build(gcp_outputs(), connection="docker"):
        assert host["vars"]["ansible_pipelining"] is True


def test_docker_connection_needs_no_login_user_key_or_known_hosts():
    hosts = ic.contract_hosts(gcp_outputs(ssh_user=""), connection="docker")
    assert {host["vars"]["ansible_become"] for host in hosts} == {True}
    assert all("ansible_user" not in host["vars"] for host in hosts)


def _external_outputs():
    outputs = gcp_outputs()
    for node in outputs["nodes"].values():
        node["external_ip"] = "34.9.9.9"
    return outputs


SSH_PATHS = [
    pytest.param(gcp_outputs, "gcp", "iap", id="gcp-iap"),
    pytest.param(_external_outputs, "gcp", "external", id="gcp-external"),
    pytest.param(local_outputs, "local", "ssh", id="local-ssh"),
]


@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_every_ssh_path_logs_in_as_the_user_with_become_pipelining_and_host_key_checking(
    outputs, target, connection
):
    hosts = build(outputs(), target, connection=connection, ssh_user="englab-admin")
    for host in hosts:
        host_vars = host["vars"]
        assert host_vars["ansible_connection"] == "ssh"
        assert host_vars["ansible_user"] == "englab-admin"
        assert host_vars["ansible_become"] is True
        assert host_vars["ansible_ssh_private_key_file"] == KEY
        assert host_vars["ansible_python_interpreter"] == "/usr/bin/python3"
        assert host_vars["ansible_pipelining"] is True
        # Pinned on: with Ansible's host_key_checking=false (ansible.cfg or the environment)
        # the ssh connection plugin would put `-o StrictHostKeyChecking=no` on the command
        # line ahead of our `StrictHostKeyChecking=accept-new`, and ssh keeps the first value,
        # so every changed host key would be silently accepted.
        assert host_vars["ansible_host_key_checking"] is True
        args = shlex.split(host_vars["ansible_ssh_common_args"])
        assert args[-8:] == ssh_options(host["name"])[-8:]


def test_local_default_connection_is_ssh_through_docker_exec_socat():
    hosts = by_name(build(local_outputs(), "local", ssh_user="englab-admin"))
    db = hosts["englab-db"]["vars"]
    assert connection_only(db) == {
        "ansible_connection": "ssh",
        "ansible_host": "englab-db",
        "ansible_user": "englab-admin",
        "ansible_become": True,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_pipelining": True,
        "ansible_host_key_checking": True,
        "ansible_ssh_private_key_file": KEY,
        "ansible_ssh_common_args": db["ansible_ssh_common_args"],
    }
    socat = ["docker", "exec", "-i", "englab-db", "socat", "-", "TCP:127.0.0.1:22"]
    assert proxy_argv(db) == socat
    assert shlex.split(db["ansible_ssh_common_args"]) == ssh_options("englab-db", proxy=socat)
    for name, host in hosts.items():
        assert proxy_argv(host["vars"]) == ["docker", "exec", "-i", name, "socat", "-", "TCP:127.0.0.1:22"]


def test_local_contract():
    hosts = by_name(build(local_outputs(), "local", name_prefix="englab-itest-", ssh_user="englab-admin"))
    assert {name: host["groups"][1] for name, host in hosts.items()} == {
        "training-node": "training",
        "tracking-node": "tracking",
        "serving-node": "serving",
        "englab-db": "database",
        "englab-repository": "repository",
    }
    db = hosts["englab-db"]["vars"]
    assert db["ansible_connection"] == "ssh"
    assert db["ansible_host"] == "englab-db"
    assert db["mlops_internal_address"] == "englab-db"
    assert db["mlops_tracking_host"] == "tracking-node"
    assert db["mlops_name_prefix"] == "englab-itest-"
    assert db["mlops_db_password_secret"] == ""


def test_local_docker_connection_is_still_available():
    hosts = by_name(ic.contract_hosts(local_outputs(), "local", connection="docker"))
    assert hosts["englab-db"]["vars"]["ansible_connection"] == "community.docker.docker"
    assert hosts["englab-db"]["vars"]["ansible_host"] == "englab-db"


@pytest.mark.parametrize("connection", ["iap", "external"])
def test_local_refuses_the_gcp_connections(connection):
    with pytest.raises(
        ic.ContractError,
        match=f"connection '{connection}' is not valid for target local \\(one of ssh, docker\\)",
    ):
        build(local_outputs(), "local", connection=connection, ssh_user="englab-admin")


def test_gcp_refuses_the_local_ssh_connection():
    with pytest.raises(ic.ContractError, match="connection 'ssh' is not valid for target gcp"):
        build(gcp_outputs(), connection="ssh")


@pytest.mark.parametrize(
    ("known_hosts_option", "expected"),
    [
        pytest.param({}, "/home/u/.config/englab-mlops/englab/known_hosts", id="default-from-secrets-dir"),
        pytest.param({"known_hosts_file": "/etc/my hosts/known"}, "/etc/my hosts/known", id="explicit"),
    ],
)
@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_known_hosts_file(outputs, target, connection, known_hosts_option, expected):
    hosts = build(outputs(), target, connection=connection, ssh_user="u", **known_hosts_option)
    for host in hosts:
        args = shlex.split(host["vars"]["ansible_ssh_common_args"])
        assert args[-4:] == ["-o", "UserKnownHostsFile=" + expected, "-o", "IdentitiesOnly=yes"]


@pytest.mark.parametrize(
    ("instance_id", "alias"),
    [
        ("4242424242424242424", "tracking-node-4242424242424242424"),
        ("3f2a9c0d1b7e", "tracking-node-3f2a9c0d1b7e"),
        (None, "tracking-node"),
        ("", "tracking-node"),
    ],
)
@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_host_key_alias_holds_the_instance_id(outputs, target, connection, instance_id, alias):
    described = outputs()
    described["nodes"]["tracking-node"]["instance_id"] = instance_id
    host = by_name(build(described, target, connection=connection, ssh_user="u"))["tracking-node"]["vars"]
    args = shlex.split(host["ansible_ssh_common_args"])
    assert args[args.index("HostKeyAlias=" + alias) - 1] == "-o"
    assert [arg for arg in args if arg.startswith("HostKeyAlias=")] == ["HostKeyAlias=" + alias]


@pytest.mark.parametrize("instance_id", ["abc-123", "12 34", "123\n", "x" * 65, 1234, True, ["1"]])
@pytest.mark.parametrize("target", ["gcp", "local"])
def test_bad_instance_id_is_refused(target, instance_id):
    described = gcp_outputs() if target == "gcp" else local_outputs()
    described["nodes"]["tracking-node"]["instance_id"] = instance_id
    with pytest.raises(
        ic.ContractError,
        match=r"entry 'tracking-node': instance_id must be letters and digits or null, got ",
    ):
        build(described, target, ssh_user="u")


@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_empty_login_user_names_mlops_ssh_user(outputs, target, connection):
    described = outputs()
    described.pop("ssh_user", None)
    if target == "gcp":
        described["ssh_user"] = ""
    with pytest.raises(ic.ContractError, match=r"the SSH login user is empty: set mlops_ssh_user"):
        build(described, target, connection=connection)


@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_empty_private_key_names_mlops_ssh_private_key_file(outputs, target, connection):
    with pytest.raises(
        ic.ContractError,
        match=r"^mlops_ssh_private_key_file is empty: the SSH connection needs a private key$",
    ):
        build(outputs(), target, connection=connection, ssh_user="u", ssh_private_key_file="")


@pytest.mark.parametrize(("outputs", "target", "connection"), SSH_PATHS)
def test_no_known_hosts_file_names_mlops_ssh_known_hosts_file(outputs, target, connection):
    with pytest.raises(
        ic.ContractError,
        match=r"^the SSH connection needs a known_hosts file \(mlops_ssh_known_hosts_file\)$",
    ):
        build(outputs(), target, connection=connection, ssh_user="u", secrets_dir="", known_hosts_file="")


@pytest.mark.parametrize("connection", ["iap", "external"])
def test_ssh_user_keyword_beats_the_output(connection):
    described = _external_outputs() if connection == "external" else gcp_outputs()
    hosts = build(described, connection=connection, ssh_user="alice_example_com")
    assert {host["vars"]["ansible_user"] for host in hosts} == {"alice_example_com"}


def test_ssh_user_keyword_fills_an_empty_output():
    hosts = build(gcp_outputs(ssh_user=""), ssh_user="sa_987654321")
    assert {host["vars"]["ansible_user"] for host in hosts} == {"sa_987654321"}


def test_empty_ssh_user_output_is_valid_until_an_ssh_connection_needs_it():
    assert ic.validate_outputs(gcp_outputs(ssh_user=""))["ssh_user"] == ""
    with pytest.raises(ic.ContractError, match=r"set mlops_ssh_user \(on gcp the OS Login user"):
        build(gcp_outputs(ssh_user=""))


def _drop(outputs, name):
    del outputs[name]
    return outputs


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda o: _drop(o, "nodes"), "Terraform output 'nodes' is missing"),
        (lambda o: _drop(o, "tracking_url"), "Terraform output 'tracking_url' is missing"),
        (lambda o: _drop(o, "ssh_user"), "Terraform output 'ssh_user' is missing"),
        (lambda o: o.update(ssh_user=1234), "Terraform output 'ssh_user' must be a string, got 1234"),
        (lambda o: o.update(ssh_user=None), "Terraform output 'ssh_user' must be a string, got None"),
        (
            lambda o: o.update(ssh_user=["sa_1"]),
            r"Terraform output 'ssh_user' must be a string, got \['sa_1'\]",
        ),
        (lambda o: _drop(o, "project_id"), "Terraform output 'project_id' is missing"),
        (lambda o: o.update(nodes={}), "'nodes' must be a non-empty map"),
        (lambda o: o.update(nodes=["training-node"]), "'nodes' must be a non-empty map"),
        (
            lambda o: o["nodes"]["training-node"].update(group="gpu"),
            "entry 'training-node': group must be one of",
        ),
        (
            lambda o: o["nodes"]["training-node"].update(internal_ip="training"),
            "internal_ip must be an IP address",
        ),
        (
            lambda o: o["nodes"]["training-node"].update(external_ip="nope"),
            "external_ip must be an IP address or null",
        ),
        (lambda o: o["nodes"]["training-node"].update(zone=""), "zone must be a non-empty string"),
        (
            lambda o: o["nodes"]["training-node"].update(instance_id="i-123"),
            "entry 'training-node': instance_id must be letters and digits or null, got 'i-123'",
        ),
        (lambda o: o["nodes"]["serving-node"].update(group="tracking"), "has 2 tracking nodes"),
        (lambda o: o["nodes"]["serving-node"].update(group="training"), "has no node in group 'serving'"),
        (lambda o: o.update(db_port="postgres"), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.update(db_port=70000), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.update(db_port=True), "Terraform output 'db_port' must be a port number"),
        (lambda o: o.pop("tracking_port"), "Terraform output 'tracking_port' is missing"),
        (lambda o: o.update(serving_port=0), "Terraform output 'serving_port' must be a port number"),
        (lambda o: o.update(db_host=""), "Terraform output 'db_host' must be a non-empty string"),
        (lambda o: o.update(tracking_url="http://10.10.0.3"), "'tracking_url' must be an https:// URL"),
        (lambda o: o.update(db_sslmode="on"), "'db_sslmode' must be one of"),
        (lambda o: o.update(db_password_secret=None), "'db_password_secret' must be a string"),
    ],
)
def test_malformed_outputs_name_the_output(mutate, message):
    outputs = copy.deepcopy(gcp_outputs())
    mutate(outputs)
    with pytest.raises(ic.ContractError, match=message):
        build(outputs)


def test_local_needs_no_ssh_user_or_project_output():
    plain = ic.validate_outputs(local_outputs(), "local")
    assert "ssh_user" not in plain
    assert "project_id" not in plain


def test_outputs_must_be_a_mapping():
    with pytest.raises(ic.ContractError, match="must be a mapping"):
        ic.contract_hosts(["nodes"])


def test_unknown_target():
    with pytest.raises(ic.ContractError, match="mlops_target must be one of local, gcp, got 'aws'"):
        ic.contract_hosts(gcp_outputs(), "aws")


def test_string_port_is_accepted_as_a_number():
    hosts = build(gcp_outputs(db_port="5432"))
    assert {host["vars"]["mlops_db_port"] for host in hosts} == {5432}


def test_the_contract_page_documents_exactly_the_facts_contract_hosts_sets():
    """docs/inventory-contract.md's fact table, row by row, against CONTRACT_FACTS."""
    text = (Path(__file__).resolve().parents[4] / "docs" / "inventory-contract.md").read_text()
    table = text[text.index("| variable | meaning |") :].split("\n\n")[0]
    documented = set()
    for row in table.splitlines()[2:]:
        documented.update(re.findall(r"`(mlops_[a-z_]+)`", row.split("|")[1]))
    assert documented == set(ic.CONTRACT_FACTS)
