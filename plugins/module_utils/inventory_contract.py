# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory contract (docs/inventory-contract.md) as pure functions.

Both provision drivers describe the platform in the shape of the Terraform root's
outputs; ``contract_hosts`` validates that description and turns it into the hosts
(name, groups, host vars) that ``ansible.builtin.add_host`` adds. Keeping the
mapping here, not in Jinja, lets pytest pin the contract.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import re
import shlex

TARGETS = ("local", "gcp")
NODE_GROUPS = {
    "gcp": ("training", "tracking", "serving"),
    "local": ("training", "tracking", "serving", "database", "repository"),
}
CONNECTIONS = {
    "gcp": ("iap", "external", "docker"),
    "local": ("ssh", "docker"),
}
# The connection each target gets when none is named: SSH as a non-root login user with
# become, the same way on both (the docker connection stays for Molecule and tests).
DEFAULT_CONNECTION = {"gcp": "iap", "local": "ssh"}
PARENT_GROUP = "mlops"
REQUIRED_STRINGS = (
    "tracking_url",
    "db_host",
    "db_name",
    "db_user",
    "db_sslmode",
    "artifact_destination",
    "repository_url",
    "repository_login",
    "serving_lb_url",
)
# Ports the contract carries: the database's, and the proxies' the firewall opens and nginx listens on.
PORTS = ("db_port", "tracking_port", "serving_port")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# The facts contract_hosts sets on every host (docs/inventory-contract.md); the connection
# variables (ansible_*) are Ansible's own.
CONTRACT_FACTS = (
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
)
DOCKER_CONNECTION = "community.docker.docker"
NODE_PYTHON = "/usr/bin/python3"


class ContractError(ValueError):
    """Terraform outputs (or the local driver's description) break the contract."""


def unwrap_outputs(outputs):
    """Accept `terraform output -json` ({name: {value, type, sensitive}}) or plain values."""
    if not isinstance(outputs, dict):
        raise ContractError(
            "Terraform outputs must be a mapping of output name to value, got %s" % type(outputs).__name__
        )
    plain = {}
    for name, output in outputs.items():
        wrapped = (
            isinstance(output, dict) and "value" in output and set(output) <= {"value", "type", "sensitive"}
        )
        plain[name] = output["value"] if wrapped else output
    return plain


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_address(value):
    return isinstance(value, str) and (_is_ip(value) or bool(_HOSTNAME.fullmatch(value)))


def _string(outputs, name):
    value = outputs.get(name)
    if name not in outputs:
        raise ContractError("Terraform output '%s' is missing" % name)
    if not isinstance(value, str) or not value:
        raise ContractError("Terraform output '%s' must be a non-empty string, got %r" % (name, value))
    return value


def _port(outputs, name):
    if name not in outputs:
        raise ContractError("Terraform output '%s' is missing" % name)
    value = outputs[name]
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if isinstance(value, bool) or str(port) != str(value).strip() or not 0 < port < 65536:
        raise ContractError("Terraform output '%s' must be a port number (1-65535), got %r" % (name, value))
    return port


def validate_nodes(nodes, target):
    """Check the `nodes` output: {name: {group, internal_ip, zone, external_ip}}, one tracking node."""
    groups = NODE_GROUPS[target]
    if not isinstance(nodes, dict) or not nodes:
        raise ContractError(
            "Terraform output 'nodes' must be a non-empty map of node name to node, got %r" % (nodes,)
        )
    for name, node in nodes.items():
        where = "Terraform output 'nodes' entry '%s'" % name
        if not _is_address(name):
            raise ContractError("%s: the node name must be a valid host name" % where)
        if not isinstance(node, dict):
            raise ContractError("%s must be a map, got %r" % (where, node))
        if node.get("group") not in groups:
            raise ContractError(
                "%s: group must be one of %s, got %r" % (where, ", ".join(groups), node.get("group"))
            )
        address = node.get("internal_ip")
        valid = _is_ip(address) if target == "gcp" else _is_address(address)
        if not isinstance(address, str) or not valid:
            kind = "an IP address" if target == "gcp" else "an IP address or host name"
            raise ContractError("%s: internal_ip must be %s, got %r" % (where, kind, address))
        external = node.get("external_ip")
        if external is not None and not (isinstance(external, str) and _is_ip(external)):
            raise ContractError("%s: external_ip must be an IP address or null, got %r" % (where, external))
        if target == "gcp" and not (isinstance(node.get("zone"), str) and node.get("zone")):
            raise ContractError("%s: zone must be a non-empty string, got %r" % (where, node.get("zone")))
        instance = node.get("instance_id")
        if instance not in (None, "") and not (
            isinstance(instance, str) and re.fullmatch(r"[A-Za-z0-9]{1,64}", instance)
        ):
            raise ContractError(
                "%s: instance_id must be letters and digits or null, got %r" % (where, instance)
            )
    for group in groups:
        members = [name for name, node in nodes.items() if node["group"] == group]
        if not members:
            raise ContractError("Terraform output 'nodes' has no node in group '%s'" % group)
        if group == "tracking" and len(members) > 1:
            raise ContractError(
                "Terraform output 'nodes' has %d tracking nodes; the contract has one" % len(members)
            )
    return nodes


def validate_outputs(outputs, target="gcp"):
    """Return the plain, validated outputs; raise ContractError naming the first bad output."""
    if target not in TARGETS:
        raise ContractError("mlops_target must be one of %s, got %r" % (", ".join(TARGETS), target))
    plain = unwrap_outputs(outputs)
    if "nodes" not in plain:
        raise ContractError("Terraform output 'nodes' is missing")
    validate_nodes(plain["nodes"], target)
    for name in REQUIRED_STRINGS:
        _string(plain, name)
    for name in PORTS:
        _port(plain, name)
    if not plain["tracking_url"].startswith("https://"):
        raise ContractError(
            "Terraform output 'tracking_url' must be an https:// URL, got %r" % plain["tracking_url"]
        )
    if not plain["serving_lb_url"].startswith(("http://", "https://")):
        raise ContractError(
            "Terraform output 'serving_lb_url' must be an http:// or https:// URL, got %r"
            % plain["serving_lb_url"]
        )
    if plain["db_sslmode"] not in SSLMODES:
        raise ContractError(
            "Terraform output 'db_sslmode' must be one of %s, got %r"
            % (", ".join(SSLMODES), plain["db_sslmode"])
        )
    secret = plain.get("db_password_secret")
    if not isinstance(secret, str):
        raise ContractError("Terraform output 'db_password_secret' must be a string, got %r" % (secret,))
    if target == "gcp":
        # May be empty: the provision stage then derives the OS Login user on the controller
        # (connection_vars refuses an SSH connection that still has none).
        if "ssh_user" not in plain:
            raise ContractError("Terraform output 'ssh_user' is missing")
        if not isinstance(plain.get("ssh_user"), str):
            raise ContractError(
                "Terraform output 'ssh_user' must be a string, got %r" % (plain.get("ssh_user"),)
            )
        _string(plain, "project_id")
    return plain


def host_key_alias(name, node):
    """The name a node's host key is kept under: a replaced VM or container is a new host.

    With the instance id in the alias, `StrictHostKeyChecking=accept-new` trusts a node the
    first time it is seen and still refuses a changed key for the same instance.
    """
    instance = node.get("instance_id")
    return "%s-%s" % (name, instance) if instance else name


def _ssh_vars(host, alias, *, ssh_user, ssh_private_key_file, known_hosts_file, proxy=None):
    """Connection vars shared by every SSH path: the login user, become, the key, host keys."""
    if not ssh_user:
        raise ContractError(
            "the SSH login user is empty: set mlops_ssh_user (on gcp the OS Login user, e.g. "
            "alice_example_com or sa_<numeric id>; Terraform variable os_login_user)"
        )
    if not ssh_private_key_file:
        raise ContractError("mlops_ssh_private_key_file is empty: the SSH connection needs a private key")
    if not known_hosts_file:
        raise ContractError("the SSH connection needs a known_hosts file (mlops_ssh_known_hosts_file)")
    options = []
    if proxy:
        options += ["-o", "ProxyCommand=%s" % " ".join(shlex.quote(part) for part in proxy)]
    options += [
        "-o", "HostKeyAlias=%s" % alias,
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "UserKnownHostsFile=%s" % known_hosts_file,
        "-o", "IdentitiesOnly=yes",
    ]  # fmt: skip
    return {
        "ansible_connection": "ssh",
        "ansible_host": host,
        "ansible_user": ssh_user,
        "ansible_become": True,
        "ansible_python_interpreter": NODE_PYTHON,
        "ansible_pipelining": True,
        # Ansible's own host_key_checking=false would add StrictHostKeyChecking=no ahead of
        # the options above; the per-platform known_hosts file decides instead.
        "ansible_host_key_checking": True,
        "ansible_ssh_private_key_file": ssh_private_key_file,
        "ansible_ssh_common_args": " ".join(shlex.quote(option) for option in options),
    }


def connection_vars(
    name,
    node,
    connection,
    *,
    ssh_user="",
    project="",
    gcloud_credentials_file="",
    ssh_private_key_file="",
    known_hosts_file="",
):
    """Connection host vars for one node: SSH (IAP tunnel, external IP, the local node's
    loopback through `docker exec`) as the login user with become, or a Docker container.

    With a credentials file (an AWX Google credential's key), the tunnel's gcloud uses it
    instead of a `gcloud auth login` the execution environment never had.
    """
    ssh = {
        "ssh_user": ssh_user,
        "ssh_private_key_file": ssh_private_key_file,
        "known_hosts_file": known_hosts_file,
    }
    alias = host_key_alias(name, node)
    if connection == "docker":
        # Pipelining: the docker connection reads only the global setting (off by default),
        # not [ssh_connection]; without it every task costs four more `docker exec` calls.
        return {
            "ansible_connection": DOCKER_CONNECTION,
            "ansible_host": name,
            "ansible_python_interpreter": NODE_PYTHON,
            "ansible_pipelining": True,
            "ansible_become": True,
        }
    if connection == "ssh":
        # The local twin of IAP's --listen-on-stdin: sshd listens on the node's loopback
        # only, and the controller reaches it through the container, never the bridge.
        proxy = ["docker", "exec", "-i", name, "socat", "-", "TCP:127.0.0.1:22"]
        return _ssh_vars(name, alias, proxy=proxy, **ssh)
    if connection == "external":
        if not node.get("external_ip"):
            raise ContractError(
                "node '%s' has no external_ip in Terraform output 'nodes'; use mlops_gcp_connection: iap"
                % name
            )
        return _ssh_vars(node["external_ip"], alias, **ssh)
    if connection == "iap":
        tunnel = [
            "gcloud", "compute", "start-iap-tunnel", name, "22", "--listen-on-stdin",
            "--project=%s" % project, "--zone=%s" % node["zone"], "--verbosity=warning",
        ]  # fmt: skip
        if gcloud_credentials_file:
            tunnel = ["env", "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE=%s" % gcloud_credentials_file, *tunnel]
        return _ssh_vars(node["internal_ip"], alias, proxy=tunnel, **ssh)
    raise ContractError("the connection must be one of iap, external, ssh, docker, got %r" % (connection,))


def contract_hosts(
    outputs,
    target="gcp",
    *,
    name_prefix="",
    secrets_dir="",
    connection=None,
    gcloud_credentials_file="",
    ssh_user="",
    ssh_private_key_file="",
    known_hosts_file="",
    ca_certificate="",
):
    """Map outputs to [{name, groups, vars}] in the shape of the inventory contract, sorted by name.

    `ca_certificate` is the platform CA on the controller (englab.mlops.platform_ca made it);
    empty means `<secrets_dir>/tracking_ca.crt`, where that role keeps it by default.

    `ssh_user` (the login user the provision stage settled on) wins over the output `ssh_user`;
    `known_hosts_file` defaults to `<secrets_dir>/known_hosts`, one file per platform.
    """
    plain = validate_outputs(outputs, target)
    connection = connection or DEFAULT_CONNECTION[target]
    if connection not in CONNECTIONS[target]:
        raise ContractError(
            "connection %r is not valid for target %s (one of %s)"
            % (connection, target, ", ".join(CONNECTIONS[target]))
        )
    nodes = plain["nodes"]
    tracking = next(node for node in nodes.values() if node["group"] == "tracking")
    common = {
        "mlops_target": target,
        "mlops_name_prefix": name_prefix,
        "mlops_tracking_host": tracking["internal_ip"],
        "mlops_tracking_url": plain["tracking_url"],
        "mlops_db_host": plain["db_host"],
        "mlops_db_port": _port(plain, "db_port"),
        "mlops_tracking_port": _port(plain, "tracking_port"),
        "mlops_serving_port": _port(plain, "serving_port"),
        "mlops_serving_lb_url": plain["serving_lb_url"],
        "mlops_db_name": plain["db_name"],
        "mlops_db_user": plain["db_user"],
        "mlops_db_password_secret": plain["db_password_secret"],
        "mlops_db_sslmode": plain["db_sslmode"],
        "mlops_artifact_destination": plain["artifact_destination"],
        "mlops_repository_url": plain["repository_url"],
        "mlops_repository_login": plain["repository_login"],
        "mlops_secrets_dir": secrets_dir,
        "mlops_ca_certificate": ca_certificate or (secrets_dir and "%s/tracking_ca.crt" % secrets_dir),
    }
    hosts = []
    for name in sorted(nodes):
        node = nodes[name]
        host_vars = dict(
            common,
            mlops_node_role=node["group"],
            mlops_internal_address=node["internal_ip"],
            # Which machine carries the name now: facts cached for an earlier one are gathered again.
            mlops_node_instance_id=node.get("instance_id") or "",
        )
        host_vars.update(
            connection_vars(
                name,
                node,
                connection,
                ssh_user=ssh_user or plain.get("ssh_user", ""),
                project=plain.get("project_id", ""),
                gcloud_credentials_file=gcloud_credentials_file,
                ssh_private_key_file=ssh_private_key_file,
                known_hosts_file=known_hosts_file or (secrets_dir and "%s/known_hosts" % secrets_dir),
            )
        )
        hosts.append({"name": name, "groups": [PARENT_GROUP, node["group"]], "vars": host_vars})
    return hosts


def os_login_user(credentials_file):
    """OS Login's user name for a service-account key file (`sa_<client_id>`), else "".

    Google names a service account's POSIX account after its unique numeric id, which the key
    file carries as client_id; a user's credentials do not name the account, so "" is returned.
    """
    if not isinstance(credentials_file, str) or not credentials_file:
        return ""
    try:
        with open(os.path.expanduser(credentials_file), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return ""
    if not isinstance(data, dict) or data.get("type") != "service_account":
        return ""
    client_id = str(data.get("client_id") or "")
    return "sa_%s" % client_id if client_id.isascii() and client_id.isdigit() else ""
