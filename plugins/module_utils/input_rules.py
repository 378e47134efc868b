# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value rules an argument spec cannot express: ports that collide, files, image references, limits, URLs.

englab.mlops.check_variables applies them on the controller, first in every playbook, so a wrong value
stops every entry point (site, provision, deploy, rollback, undeploy, train, destroy) before anything is
written or any node is touched; before, some were caught only by the role that used them (after
provision had run) or by nginx. Each problem is one line naming the variable, the allowed form and the
value given. Pure functions, so pytest pins them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import math
import os
import re
import socket

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    urlsplit = None

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the controller's Ansible venv carries cryptography
    HAS_CRYPTOGRAPHY = False

NOTHING_CHANGED = "Nothing was changed."
# Every node runs sshd on its own 127.0.0.1:22 (the connection's ProxyCommand reaches it there).
SSH_PORT = 22
# Below this a model server (Python, MLflow's scoring server, uvicorn) cannot start; documented on
# serving_node_memory.
MEMORY_FLOOR = 64 * 1024 * 1024

# Docker's reference grammar (github.com/distribution/reference, regexp.go).
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[a-fA-F0-9:]+\])"
_NAME = r"(?:" + _HOST + r"(?::[0-9]+)?/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(r"^(" + _NAME + r")(?::" + _TAG + r")?(?:@" + _DIGEST + r")?$")
_NAME_MAX = 255

# Docker's memory grammar (go-units RAMInBytes): a number, an optional unit, an optional b.
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?) ?([kmgtp])?i?b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}

# Variables whose value is an http(s) URL; the tracking URLs the nodes use must be https.
URL_VARIABLES = (
    "docker_engine_apt_key_url",
    "docker_engine_apt_repository_url",
    "serving_node_gcp_token_url",
    "smoke_serving_public_url",
    "smoke_serving_url",
    "smoke_tracking_public_url",
)
HTTPS_URL_VARIABLES = ("serving_node_tracking_url", "training_node_tracking_url")
# Lists of PEM CA certificates on the controller, installed into the node image and serving images.
CA_LIST_VARIABLES = ("common_extra_ca_certificates", "serving_node_extra_ca_certificates")
IMAGE_VARIABLES = ("mlops_node_image", "serving_node_base_image")
# Lists of IPv4 destinations the containers of a Docker engine may not reach.
DESTINATION_VARIABLES = ("docker_engine_blocked_destinations", "docker_engine_blocked_destinations_defaults")


def _shown(value):
    return "'%s'" % value if isinstance(value, str) else repr(value)


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def image_reference_problem(name, value):
    """A Docker image reference (name[:tag][@digest]); an empty one would recreate every node."""
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    if match and len(match.group(1)) <= _NAME_MAX:
        return None
    return (
        "%s must be a Docker image reference, [registry[:port]/]name[:tag][@digest] with a lower-case name "
        "(e.g. englab/node:bookworm), got %s. %s" % (name, _shown(value), NOTHING_CHANGED)
    )


def memory_bytes(value):
    """Bytes of a Docker memory value (512m, 2g, 1073741824), or None when Docker would refuse it."""
    match = _MEMORY.match(str(value).strip()) if isinstance(value, (str, int)) else None
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def memory_problem(name, value):
    size = memory_bytes(value)
    if size is not None and size >= MEMORY_FLOOR:
        return None
    return (
        "%s must be a Docker memory size, a number with an optional unit b, k, m or g (e.g. 512m, 2g), "
        "at least 64m (a model server cannot start in less), got %s. %s"
        % (name, _shown(value), NOTHING_CHANGED)
    )


def count_problem(name, value):
    """A whole number of at least 1 (a count of things kept), given as a number or its digits."""
    count = None if isinstance(value, bool) else _as_int(value)
    if count is not None and count >= 1 and str(value).strip().lstrip("+").isdigit():
        return None
    return "%s must be a whole number of at least 1, got %s. %s" % (name, _shown(value), NOTHING_CHANGED)


def cpus_problem(name, value):
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = None
    if cpus is not None and cpus > 0 and math.isfinite(cpus):
        return None
    return "%s must be a positive number of CPUs such as 0.5 or 2, got %s. %s" % (
        name,
        _shown(value),
        NOTHING_CHANGED,
    )


def ipv4_destinations_problem(name, value):
    """A list of IPv4 addresses or CIDR ranges without host bits (169.254.0.0/16, 10.1.2.3).

    Checked before the iptables rules are written: a wrong entry would stop dockerd, which applies
    them before it starts.
    """
    allowed = "a list of IPv4 addresses or CIDR ranges without host bits (e.g. [169.254.0.0/16, 10.1.2.3])"
    if not isinstance(value, list):
        return "%s must be %s, got %s. %s" % (name, allowed, _shown(value), NOTHING_CHANGED)
    for item in value:
        try:
            valid = isinstance(item, str) and bool(ipaddress.IPv4Network(item.strip(), strict=True))
        except ValueError:
            valid = False
        if not valid:
            return "%s must be %s; %s is not one. %s" % (name, allowed, _shown(item), NOTHING_CHANGED)
    return None


def url_problem(name, value, schemes=("http", "https")):
    """An absolute URL with one of schemes and a host."""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        valid = parts is not None and parts.scheme in schemes and bool(parts.hostname)
        valid = valid and (parts.port is None or parts.port > 0)  # a port that is no number raises ValueError
    except ValueError:
        valid = False
    if valid:
        return None
    allowed = " or ".join("%s://" % scheme for scheme in schemes)
    return "%s must be an %s URL with a host (e.g. %s://example.com/path), got %s. %s" % (
        name,
        allowed,
        schemes[-1],
        _shown(value),
        NOTHING_CHANGED,
    )


def ca_certificate_problem(name, path):
    """A controller file holding PEM certificates, each a CA (basicConstraints CA:TRUE)."""
    allowed = "a PEM file of CA certificates (basicConstraints CA:TRUE) on the controller"
    if not isinstance(path, str) or not os.path.isfile(path):
        return "%s must list %s; %s does not exist. %s" % (name, allowed, _shown(path), NOTHING_CHANGED)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        certificates = x509.load_pem_x509_certificates(data) if HAS_CRYPTOGRAPHY else []
    except (OSError, ValueError):
        certificates = []
    if not certificates:
        return "%s must list %s; %s is not a PEM certificate. %s" % (
            name,
            allowed,
            _shown(path),
            NOTHING_CHANGED,
        )
    for certificate in certificates:
        try:
            is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (x509.ExtensionNotFound, ValueError):
            is_ca = False
        if not is_ca:
            return "%s must list %s; %s holds a certificate that is not a CA (%s). %s" % (
                name,
                allowed,
                _shown(path),
                certificate.subject.rfc4514_string(),
                NOTHING_CHANGED,
            )
    return None


def _collision(first, second, port, where):
    message = "%s and %s must be different ports (%s), both are %s. %s" % (
        first,
        second,
        where,
        port,
        NOTHING_CHANGED,
    )
    return (first, second), message


def port_problems(values):
    """[(variables involved, message)] for ports that collide on one address: the controller's published
    ones and each node's own."""
    problems = []
    tracking, serving = (
        _as_int(values.get("mlops_local_tracking_port")),
        _as_int(values.get("mlops_local_serving_port")),
    )
    if tracking is not None and tracking == serving:
        problems.append(
            _collision(
                "mlops_local_tracking_port",
                "mlops_local_serving_port",
                tracking,
                "both published on 127.0.0.1",
            )
        )
    # The tracking node: MLflow instances on port..port+instances-1, nginx on https/http, sshd on 22.
    first, count = (
        _as_int(values.get("tracking_server_port")),
        _as_int(values.get("tracking_server_instances")),
    )
    if first is not None and count is not None and count >= 1:
        span = range(first, first + count)
        named = (
            ("tracking_server_https_port", _as_int(values.get("tracking_server_https_port"))),
            ("tracking_server_http_port", _as_int(values.get("tracking_server_http_port"))),
            ("the tracking node's sshd", SSH_PORT),
        )
        for other, port in named:
            if port in span:
                problems.append(
                    (
                        ("tracking_server_port", "tracking_server_instances", other),
                        "tracking_server_port to tracking_server_port + tracking_server_instances - 1 (the MLflow "
                        "instances, %s-%s) must not include %s, got %s. %s"
                        % (first, first + count - 1, other, port, NOTHING_CHANGED),
                    )
                )
    # The serving node: nginx on the proxy port, the blue and green slots, sshd on 22.
    serving_ports = [("serving_node_proxy_port", _as_int(values.get("serving_node_proxy_port")))]
    slots = values.get("serving_node_slot_ports")
    if isinstance(slots, dict):
        serving_ports += [
            ("serving_node_slot_ports.%s" % slot, _as_int(port)) for slot, port in sorted(slots.items())
        ]
    serving_ports.append(("the serving node's sshd", SSH_PORT))
    for node_ports, where in (
        (serving_ports, "on the serving node"),
        (
            [("database_port", _as_int(values.get("database_port"))), ("the database node's sshd", SSH_PORT)],
            "on the database node",
        ),
        (
            [
                ("repository_port", _as_int(values.get("repository_port"))),
                ("the repository node's sshd", SSH_PORT),
            ],
            "on the repository node",
        ),
    ):
        for index, (one, port) in enumerate(node_ports):
            for other, other_port in node_ports[index + 1 :]:
                if port is not None and port == other_port:
                    problems.append(_collision(one, other, port, where))
    return problems


# The single-value rules: variable -> function(name, value) -> problem or None.
SINGLE_RULES = dict(
    [(name, image_reference_problem) for name in IMAGE_VARIABLES]
    + [("serving_node_memory", memory_problem), ("serving_node_cpus", cpus_problem)]
    # checked before a backup is taken, not when the finished set is pruned
    + [("mlops_backup_keep", count_problem)]
    + [(name, ipv4_destinations_problem) for name in DESTINATION_VARIABLES]
    + [(name, url_problem) for name in URL_VARIABLES]
    + [
        (name, lambda name, value: url_problem(name, value, schemes=("https",)))
        for name in HTTPS_URL_VARIABLES
    ]
)


def ca_list_problem(name, paths):
    """The first file of a list of CA certificate files that is not one."""
    for path in paths if isinstance(paths, list) else []:
        problem = ca_certificate_problem(name, path)
        if problem:
            return problem
    return None


def value_problems(values, defaults=None):
    """Every rule above over the given values; defaults fill in the partners of a collision only."""
    merged = dict(defaults or {})
    merged.update(values)
    problems = [rule(name, values[name]) for name, rule in sorted(SINGLE_RULES.items()) if name in values]
    problems += [ca_list_problem(name, values[name]) for name in CA_LIST_VARIABLES if name in values]
    # Only collisions that involve a value the user gave: a default never collides with a default.
    problems += [
        problem
        for names, problem in port_problems(merged)
        if any(name.split(".")[0] in values for name in names)
    ]
    return [problem for problem in problems if problem]


def published_ports(containers):
    """Host ports the given containers publish: the platform's own. Each is a
    docker_container_info result (its HostConfig's port bindings) or a container summary of
    docker_host_info (the Ports the engine lists for a running container)."""
    ports = set()
    for info in containers:
        bindings = ((info.get("container") or {}).get("HostConfig") or {}).get("PortBindings") or {}
        for host_sides in bindings.values():
            for side in host_sides or []:
                port = _as_int(side.get("HostPort"))
                if port is not None:
                    ports.add(port)
        for summary in info.get("Ports") or []:
            port = _as_int((summary or {}).get("PublicPort"))
            if port is not None:
                ports.add(port)
    return sorted(ports)


def port_in_use(port, address="127.0.0.1"):
    """Whether something already listens on address:port (a bind probe; only EADDRINUSE counts).

    SO_REUSEADDR, as Docker's proxy and every server sets it: connections that just closed on the
    port (TIME_WAIT, for a minute after a destroyed platform answered its last request) do not
    hold it; a listening socket does.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((address, port))
    except OSError as error:
        return error.errno == errno.EADDRINUSE
    finally:
        probe.close()
    return False


def held_port_problems(ports, own, in_use=port_in_use):
    """Each port of {variable: port} that something other than the platform's own containers holds."""
    return [
        "%s must be a port free on the controller's 127.0.0.1 (or held by this platform's own container), "
        "got %s, which another process or platform holds. %s" % (name, port, NOTHING_CHANGED)
        for name, port in sorted(ports.items())
        if _as_int(port) is not None and _as_int(port) not in own and in_use(_as_int(port))
    ]


# Files of the controller directory that only an existing platform has (issue 15).
EXISTING_PLATFORM_FILES = ("tracking_admin",)
EXISTING_PLATFORM_FILES_DESTROY = ("tracking_admin", "known_hosts", "ssh_login_ed25519", "terraform")


def existing_platform_problem(
    secrets_dir, store="controller", destroying=False, state_bucket="", exists=os.path.exists
):
    """Why mlops_secrets_dir is not the controller directory of an existing platform, or None.

    Deploy, rollback, undeploy, train and destroy act on a platform that exists: a typo'd directory would
    otherwise be filled with new passwords (or, on destroy, hold no Terraform state). With the
    gcp_secret_manager store the passwords are in Secret Manager, so a fresh directory (an AWX job's) is
    that platform's; destroy still needs the Terraform state, in the directory unless a state bucket holds it.
    """
    if store == "gcp_secret_manager":
        if not destroying or state_bucket:
            return None
        files = tuple(name for name in EXISTING_PLATFORM_FILES_DESTROY if name != "tracking_admin")
    else:
        files = EXISTING_PLATFORM_FILES_DESTROY if destroying else EXISTING_PLATFORM_FILES
    directory = os.path.expanduser(secrets_dir) if isinstance(secrets_dir, str) else ""
    if directory and any(exists(os.path.join(directory, name)) for name in files):
        return None
    return (
        "mlops_secrets_dir must be the controller directory of an existing platform, holding %s; got %s, %s "
        "(provision or site creates it; pass the platform's own with -e mlops_secrets_dir=...). %s"
        % (
            " or ".join(files),
            _shown(secrets_dir),
            "which holds none of them" if directory and os.path.isdir(directory) else "which does not exist",
            NOTHING_CHANGED,
        )
    )
