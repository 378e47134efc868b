"""Value rules judged up front by check_variables and the provision preflight (issue 15)."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

import pytest
from ansible_collections.englab.mlops.plugins.filter.held_port_problems import FilterModule as HeldFilter
from ansible_collections.englab.mlops.plugins.module_utils import input_rules
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(ca: bool | None) -> bytes:
    """A self-signed PEM certificate; ca=None leaves basicConstraints out."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"englab ca={ca}")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "value",
    [
        "englab/node:bookworm",
        "debian",
        "localhost:5000/englab/node:1.0",
        "europe-west1-docker.pkg.dev/p/englab-repository/serving:v1",
        "python:3.11-slim-bookworm",
        "a__b/c-d.e:latest@sha256:" + "0" * 64,
        "[::1]:5000/node",
    ],
)
def test_image_references_docker_accepts(value: str) -> None:
    assert input_rules.image_reference_problem("mlops_node_image", value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "englab/Node:bookworm",
        "englab/node:",
        "englab node",
        "node:tag:tag",
        "node@sha256:12",
        "-node",
        5,
        None,
        "a" * 256,
    ],
)
def test_image_references_docker_refuses(value: object) -> None:
    problem = input_rules.image_reference_problem("mlops_node_image", value)
    assert problem is not None
    assert problem.startswith("mlops_node_image must be a Docker image reference")
    assert problem.endswith("Nothing was changed.")


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("64m", 64 * 1024**2),
        ("512m", 512 * 1024**2),
        ("2g", 2 * 1024**3),
        ("1.5G", int(1.5 * 1024**3)),
        ("1gb", 1024**3),
        (67108864, 67108864),
    ],
)
def test_memory_accepted(value: object, size: int) -> None:
    assert input_rules.memory_bytes(value) == size
    assert input_rules.memory_problem("serving_node_memory", value) is None


@pytest.mark.parametrize("value", ["63m", "10m", "1024", "2 gigs", "1.5x", "-1g", "", "g", None])
def test_memory_refused_below_the_floor_or_malformed(value: object) -> None:
    problem = input_rules.memory_problem("serving_node_memory", value)
    assert problem is not None and "at least 64m" in problem


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (0.5, True),
        (2, True),
        ("1.5", True),
        (0, False),
        (-1, False),
        ("nan", False),
        ("inf", False),
        ("two", False),
    ],
)
def test_cpus(value: object, ok: bool) -> None:
    assert (input_rules.cpus_problem("serving_node_cpus", value) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (1, True),
        (7, True),
        ("3", True),
        (0, False),
        (-2, False),
        ("0", False),
        (1.5, False),
        ("two", False),
        (True, False),
        (None, False),
        ("", False),
    ],
)
def test_backup_keep_is_a_whole_number_of_at_least_one(value: object, ok: bool) -> None:
    problem = input_rules.count_problem("mlops_backup_keep", value)
    assert (problem is None) is ok
    if not ok:
        assert problem.startswith("mlops_backup_keep must be a whole number of at least 1, got ")
        assert input_rules.value_problems({"mlops_backup_keep": value}) == [problem]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://download.docker.com/linux/debian", True),
        ("http://metadata.google.internal/computeMetadata/v1/token", True),
        ("http://127.0.0.1:8080", True),
        ("download.docker.com/linux/debian", False),
        ("ftp://download.docker.com", False),
        ("https://", False),
        ("https:///path", False),
        ("https://:8443", False),
        ("https://host:port", False),
        ("", False),
        (None, False),
    ],
)
def test_urls(value: object, ok: bool) -> None:
    assert (input_rules.url_problem("smoke_serving_url", value) is None) is ok


def test_https_only_urls_refuse_http() -> None:
    problem = input_rules.url_problem("serving_node_tracking_url", "http://tracking-node", schemes=("https",))
    assert (
        problem is not None
        and "must be an https:// URL with a host" in problem
        and "'http://tracking-node'" in problem
    )


def test_ca_certificates(tmp_path: Path) -> None:
    ca, leaf, bare = tmp_path / "ca.crt", tmp_path / "leaf.crt", tmp_path / "bare.crt"
    ca.write_bytes(certificate(True))
    leaf.write_bytes(certificate(False))
    bare.write_bytes(certificate(None))
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(certificate(True) + certificate(False))
    name = "common_extra_ca_certificates"
    assert input_rules.ca_certificate_problem(name, str(ca)) is None
    assert "is not a CA" in input_rules.ca_certificate_problem(name, str(leaf))
    assert "is not a CA" in input_rules.ca_certificate_problem(name, str(bare))
    assert "is not a CA" in input_rules.ca_certificate_problem(name, str(bundle))
    assert "does not exist" in input_rules.ca_certificate_problem(name, str(tmp_path / "absent.crt"))
    (tmp_path / "text").write_text("not a certificate")
    assert "is not a PEM certificate" in input_rules.ca_certificate_problem(name, str(tmp_path / "text"))
    assert input_rules.value_problems({name: [str(ca), str(leaf)]}) == [
        input_rules.ca_certificate_problem(name, str(leaf))
    ]


DEFAULTS = {
    "tracking_server_port": 5000,
    "tracking_server_instances": 2,
    "tracking_server_https_port": 443,
    "tracking_server_http_port": 80,
    "serving_node_slot_ports": {"blue": 8081, "green": 8082},
    "serving_node_proxy_port": 80,
    "repository_port": 5000,
}


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (
            {"mlops_local_tracking_port": 8080, "mlops_local_serving_port": 8080},
            "mlops_local_tracking_port and mlops_local_serving_port",
        ),
        ({"tracking_server_port": 443}, "must not include tracking_server_https_port, got 443"),
        ({"tracking_server_port": 442}, "(the MLflow instances, 442-443)"),
        ({"tracking_server_port": 21}, "must not include the tracking node's sshd, got 22"),
        (
            {"tracking_server_instances": 8, "tracking_server_port": 76},
            "must not include tracking_server_http_port, got 80",
        ),
        ({"serving_node_proxy_port": 22}, "serving_node_proxy_port and the serving node's sshd"),
        ({"serving_node_proxy_port": 8082}, "serving_node_proxy_port and serving_node_slot_ports.green"),
        (
            {"serving_node_slot_ports": {"blue": 8081, "green": 8081}},
            "serving_node_slot_ports.blue and serving_node_slot_ports.green",
        ),
        ({"database_port": 22}, "database_port and the database node's sshd"),
        ({"repository_port": 22}, "repository_port and the repository node's sshd"),
    ],
)
def test_ports_that_collide(values: dict, fragment: str) -> None:
    problems = input_rules.value_problems(values, DEFAULTS)
    assert any(fragment in problem for problem in problems), problems


def test_defaults_alone_never_collide_and_given_values_are_judged() -> None:
    assert input_rules.value_problems({}, DEFAULTS) == []
    assert (
        input_rules.value_problems({"tracking_server_port": 5000, "serving_node_proxy_port": 80}, DEFAULTS)
        == []
    )
    # tracking_server_port 5000 and repository_port 5000 live on different nodes.
    assert input_rules.value_problems({"repository_port": 5000}, DEFAULTS) == []


def test_held_ports_probe_and_own_ports() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        assert input_rules.port_in_use(port)
        problems = input_rules.held_port_problems({"mlops_local_serving_port": port}, own=[])
        assert problems == [
            f"mlops_local_serving_port must be a port free on the controller's 127.0.0.1 (or held by this platform's "
            f"own container), got {port}, which another process or platform holds. Nothing was changed."
        ]
        # The platform's own container publishes it: a re-run passes.
        own = [
            {
                "exists": True,
                "container": {
                    "HostConfig": {
                        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
                    }
                },
            }
        ]
        assert HeldFilter().filters()["held_port_problems"]({"mlops_local_serving_port": port}, own) == []
        # The same container as docker_host_info lists it (provision's preflight reads the engine once).
        summary = [
            {
                "Names": ["/englab-serving-node"],
                "Status": "Up 2 minutes",
                "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"}],
            }
        ]
        assert HeldFilter().filters()["held_port_problems"]({"mlops_local_serving_port": port}, summary) == []
        # Another platform's container on that port is no excuse: only the containers given count.
        assert input_rules.held_port_problems({"mlops_local_serving_port": port}, own=[]) != []
    finally:
        holder.close()
    assert not input_rules.port_in_use(port)
    assert input_rules.held_port_problems({"mlops_local_serving_port": port}, own=[]) == []


def test_published_ports_of_absent_containers() -> None:
    assert (
        input_rules.published_ports(
            [
                {"exists": False, "container": None},
                {"exists": True, "container": {"HostConfig": {"PortBindings": None}}},
                {"Names": ["/englab-serving-node"], "Status": "Exited (0) 1 minute ago", "Ports": []},
            ]
        )
        == []
    )


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (["169.254.0.0/16"], True),
        (["169.254.0.0/16", "10.1.2.3", "10.9.0.0/24"], True),
        ([], True),
        (["169.254.169.254/16"], False),  # host bits: which range was meant?
        (["metadata.google.internal"], False),
        (["fd20:ce::254"], False),  # the rules are IPv4 (iptables)
        (["10.0.0.0/33"], False),
        ([None], False),
        ("169.254.0.0/16", False),  # a string, not a list
    ],
)
def test_blocked_destinations(value: object, ok: bool) -> None:
    problem = input_rules.ipv4_destinations_problem("docker_engine_blocked_destinations", value)
    assert (problem is None) is ok
    if not ok:
        assert problem.startswith("docker_engine_blocked_destinations must be a list of IPv4 addresses")
        assert problem.endswith("Nothing was changed.")


# --- the existing platform's controller directory (issue 15, with the store of issue 17) ----------

EXISTING = "mlops_secrets_dir must be the controller directory of an existing platform, holding "


@pytest.mark.parametrize(
    ("files", "how", "refused"),
    [
        # controller store: the passwords are in the directory, a typo'd or fresh one is refused
        (None, ("controller", False, ""), "tracking_admin; got '{d}', which does not exist"),
        ((), ("controller", False, ""), "tracking_admin; got '{d}', which holds none of them"),
        (("known_hosts",), ("controller", False, ""), "tracking_admin; got '{d}', which holds none of them"),
        (("tracking_admin",), ("controller", False, ""), None),
        (("terraform",), ("controller", True, ""), None),
        (
            ("db_password",),
            ("controller", True, ""),
            "tracking_admin or known_hosts or ssh_login_ed25519 or terraform; got '{d}', which holds none of them",
        ),
        # Secret Manager holds the passwords: a fresh controller directory (an AWX job's) is that platform's
        (None, ("gcp_secret_manager", False, ""), None),
        ((), ("gcp_secret_manager", False, ""), None),
        # ... but destroy still needs the Terraform state: in the directory, or in the state bucket
        (None, ("gcp_secret_manager", True, "bucket"), None),
        (
            None,
            ("gcp_secret_manager", True, ""),
            "known_hosts or ssh_login_ed25519 or terraform; got '{d}', which does not exist",
        ),
        (("terraform",), ("gcp_secret_manager", True, ""), None),
    ],
)
def test_existing_platform_directory(tmp_path, files, how, refused):
    store, destroying, bucket = how
    directory = tmp_path / "secrets"
    if files is not None:
        directory.mkdir()
        for name in files:
            (directory / name).write_text("x")
    problem = input_rules.existing_platform_problem(str(directory), store, destroying, bucket)
    if refused is None:
        assert problem is None
    else:
        assert problem == (
            EXISTING
            + refused.format(d=directory)
            + " (provision or site creates it; pass the platform's own with -e mlops_secrets_dir=...). "
            "Nothing was changed."
        )


def test_existing_platform_filter_defaults_to_the_controller_store(tmp_path):
    from ansible_collections.englab.mlops.plugins.filter.existing_platform_problem import (  # noqa: PLC0415
        FilterModule,
    )

    check = FilterModule().filters()["existing_platform_problem"]
    assert check(str(tmp_path / "typo")).startswith(EXISTING)
    assert check(str(tmp_path / "typo"), store="gcp_secret_manager") == ""


def test_a_port_whose_connections_just_closed_is_free() -> None:
    """A destroyed platform's port keeps TIME_WAIT connections for a minute after its last answer;
    `destroy` then `site` must not take them for another process holding the port."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as docker-proxy and servers do
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _unused = server.accept()
    accepted.close()  # the server side closes first: its end, on `port`, goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    # the TIME_WAIT connection still blocks a plain bind, which the old probe took for a holder
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", port))
    finally:
        plain.close()
    assert not input_rules.port_in_use(port)
